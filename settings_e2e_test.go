package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Tenant settings changed through the API change the very next call, in
// the running product: the CRM that pops cards, the recording policy, the
// dialing rules and the origins allowed to embed the softphone.

// crmStandIn answers every lookup with a card named name.
func crmStandIn(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k-"+name {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"name":"`+name+`"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// callRecording polls the call record until it is written, and reports
// whether it carries a recording once the recording had time to land.
func (e *e2e) callRecording(auth, callID string) bool {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, body := e.api("GET", "/api/v1/calls/"+callID, auth, nil)
		var rec struct {
			EndedAt   string          `json:"endedAt"`
			Recording json.RawMessage `json:"recording"`
		}
		if status == 200 && json.Unmarshal(body, &rec) == nil && len(rec.Recording) > 0 && string(rec.Recording) != "null" {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func TestE2ESettingsApplyToNextCall(t *testing.T) {
	e := startE2E(t)
	admin := "Bearer " + e.login("admin")
	patch := func(body map[string]any) {
		t.Helper()
		if status, b := e.api("PATCH", "/api/v1/settings", admin, body); status != 200 {
			t.Fatalf("PATCH settings %v: %d %s", body, status, b)
		}
	}
	first, second := crmStandIn(t, "First CRM"), crmStandIn(t, "Second CRM")
	a := e.signIn("alice", 440)

	// Call 1: the first CRM pops the card; recording is off.
	patch(map[string]any{"crm": map[string]any{"lookupUrl": first.URL, "apiKey": "k-First CRM", "lookupTimeoutMs": 3000}})
	calls, errs := e.dialIn("1001")
	ring := a.waitCall("ringing")
	a.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == ring.ID && m.Call.Card != nil && m.Call.Card.Name == "First CRM"
	})
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID})
	select {
	case c := <-calls:
		_ = c.Hangup(e.ctx)
	case err := <-errs:
		t.Fatal(err)
	}
	a.waitCall("ended")
	firstCall := ring.ID

	// Call 2: a new CRM URL and recording on, no restart.
	patch(map[string]any{"record": true, "crm": map[string]any{"lookupUrl": second.URL, "apiKey": "k-Second CRM"}})
	calls, errs = e.dialIn("1001")
	ring = a.waitCall("ringing")
	a.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.ID == ring.ID && m.Call.Card != nil && m.Call.Card.Name == "Second CRM"
	})
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID})
	select {
	case c := <-calls:
		heard := carrierAudio(c, 1000)
		a.hears(1000)
		if err := heard.WaitFor(e.ctx, 440); err != nil {
			t.Fatal(err)
		}
		_ = c.Hangup(e.ctx)
	case err := <-errs:
		t.Fatal(err)
	}
	a.waitCall("ended")
	if !e.callRecording(admin, ring.ID) {
		t.Fatal("the call after recording was switched on has no recording")
	}
	if status, body := e.api("GET", "/api/v1/calls/"+firstCall, admin, nil); status != 200 || strings.Contains(string(body), `"recording":{`) {
		t.Fatalf("the call before recording was switched on: %d %s", status, body)
	}

	// Dialing rules: Hungary only, then the US too.
	if status, b := e.api("PUT", "/api/v1/dialing-rules", admin, map[string]any{"allowPrefixes": []string{"+36"}}); status != 200 {
		t.Fatalf("PUT dialing-rules: %d %s", status, b)
	}
	if r := a.request(wsproto.Message{Type: wsproto.TypeDial, To: "+15559990000"}); r.Type != wsproto.TypeError || r.Code != wsproto.CodeForbidden {
		t.Fatalf("dial outside the rules: %+v", r)
	}
	if status, b := e.api("PUT", "/api/v1/dialing-rules", admin, map[string]any{"allowPrefixes": []string{"+36", "+1"}}); status != 200 {
		t.Fatalf("PUT dialing-rules: %d %s", status, b)
	}
	r := a.request(wsproto.Message{Type: wsproto.TypeDial, To: "+15559990000"})
	if r.Type != wsproto.TypeAck || r.Call == nil {
		t.Fatalf("dial inside the new rules: %+v", r)
	}
	select {
	case in := <-e.carrier.Incoming():
		if in.To != "+15559990000" {
			t.Fatalf("carrier got %q", in.To)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the allowed dial never reached the carrier")
	}
	a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: r.Call.ID})
	a.waitCall("ended")

	// Embedding origins: refused, then allowed for this tenant only.
	partner := "https://crm.partner.example"
	wsURL := strings.Replace(e.app.url(), "http", "ws", 1) + "/ws/agent"
	if _, res, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {partner}}); err == nil || res == nil || res.StatusCode != 403 {
		t.Fatalf("partner origin before it was allowed: %v", err)
	}
	patch(map[string]any{"allowedOrigins": []string{partner}})
	conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {partner}})
	if err != nil {
		t.Fatalf("partner origin after it was allowed: %v", err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: e.login("bob")}); err != nil {
		t.Fatal(err)
	}
	var welcome wsproto.Message
	if err := conn.ReadJSON(&welcome); err != nil || welcome.Type != wsproto.TypeWelcome {
		t.Fatalf("partner page's agent: %+v %v", welcome, err)
	}

	// Another tenant's agent may not use the origin the demo tenant allowed.
	status, body := e.api("POST", "/api/v1/tenants", admin, map[string]any{"id": "acme", "name": "Acme",
		"admin": map[string]any{"username": "boss", "password": "the big cheese 123"}})
	if status != 201 {
		t.Fatalf("tenant: %d %s", status, body)
	}
	boss := "Bearer " + e.loginAt("acme", "boss", "the big cheese 123")
	if status, body = e.api("POST", "/api/v1/users", boss, map[string]any{"username": "ann", "extension": "2001", "role": "agent", "password": "sunny meadow 1234"}); status != 201 {
		t.Fatalf("user: %d %s", status, body)
	}
	conn2, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Origin": {partner}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	_ = conn2.WriteJSON(wsproto.Message{Type: wsproto.TypeAuth, Token: e.loginAt("acme", "ann", "sunny meadow 1234")})
	var refused wsproto.Message
	if err := conn2.ReadJSON(&refused); err != nil || refused.Type != wsproto.TypeError || !strings.Contains(refused.Message, "origin") {
		t.Fatalf("acme agent from the demo tenant's partner origin: %+v %v", refused, err)
	}
}
