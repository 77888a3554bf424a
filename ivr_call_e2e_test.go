package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/trunk"
)

// Outbound IVR calls through the whole product: an integration's API key
// asks for a call over REST; ringbridge dials the carrier (a real SIP
// peer on loopback), which answers; the flow asks the tenant's CRM who
// it is, then the callee hears the prompt and presses its PIN as RFC 4733
// events into a collect node; a real HTTP server receives
// ivr.call.ended, signed, with the digits. A second call finds the callee
// busy, and says so.

const (
	ivrPromptHz  = 600.0
	ivrThanksHz  = 900.0
	ivrCalleeHz  = 1000.0
	ivrCalleeNum = "+15559990000"
)

// webhookReceiver collects signed deliveries of one event type.
type webhookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string

	mu   sync.Mutex
	data map[string]map[string]any // callId → the event's data
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	w := &webhookReceiver{t: t, data: map[string]map[string]any{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		defer w.mu.Unlock()
		if err := verifyStandardWebhook(w.secret, r.Header, body); err != nil {
			t.Errorf("delivery without a valid signature: %v", err)
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
		var env struct {
			Type   string
			CallID string
			Data   map[string]any
		}
		if err := json.Unmarshal(body, &env); err != nil {
			t.Errorf("delivery %s: %v", body, err)
		}
		if env.Type == "ivr.call.ended" {
			w.data[env.CallID] = env.Data
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) wait(callID string) map[string]any {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		w.mu.Lock()
		d, ok := w.data[callID]
		w.mu.Unlock()
		if ok {
			return d
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("no ivr.call.ended for %s", callID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestE2EOutboundIVRCall(t *testing.T) {
	hook := newWebhookReceiver(t)
	// The tenant's CRM, set over REST like any CRM connection: the flow's
	// CRM node asks it who is being called.
	crmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q struct{ From, Node string }
		_ = json.NewDecoder(r.Body).Decode(&q)
		if r.Header.Get("X-Api-Key") != "crm-secret" || q.From != ivrCalleeNum || q.Node != "who" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		io.WriteString(w, `{"branch": "known", "vars": {"customer": "Ada"}}`)
	}))
	defer crmSrv.Close()
	e := startE2E(t, func(c *Config) { c.WebhookAllowPrivate = []string{"127.0.0.1/32"} })
	admin := "Bearer " + e.login("admin")
	if status, body := e.api("PATCH", "/api/v1/settings", admin, map[string]any{"crm": map[string]any{
		"queryUrl": crmSrv.URL + "/ivr", "apiKey": "crm-secret", "authHeader": "X-Api-Key"}}); status != 200 {
		t.Fatalf("settings: %d %s", status, body)
	}

	status, body := e.api("POST", "/api/v1/webhooks", admin, map[string]any{"url": hook.srv.URL, "events": []string{"ivr.call.ended"}})
	var ep struct{ Secret string }
	if err := json.Unmarshal(body, &ep); err != nil || status != 201 {
		t.Fatalf("webhook: %d %s", status, body)
	}
	hook.mu.Lock()
	hook.secret = ep.Secret
	hook.mu.Unlock()
	status, body = e.api("POST", "/api/v1/ivr/flows", admin, map[string]any{"id": "pin", "name": "PIN check", "start": "who", "nodes": []map[string]any{
		{"id": "who", "kind": "crm", "answers": map[string]string{"known": "ask"}, "onTimeout": "bye"},
		{"id": "ask", "kind": "collect", "say": []map[string]any{{"toneHz": ivrPromptHz, "ms": 1500}}, "var": "pin", "maxDigits": 4,
			"pattern": "[0-9]{4}", "timeoutSeconds": 10, "next": "thanks"},
		{"id": "thanks", "kind": "play", "say": []map[string]any{{"toneHz": ivrThanksHz, "ms": 800}}, "next": "bye"},
		{"id": "bye", "kind": "hangup"},
	}})
	if status != 201 {
		t.Fatalf("flow: %d %s", status, body)
	}
	status, body = e.api("POST", "/api/v1/api-keys", admin, map[string]string{"name": "campaigns"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}
	apiAuth := "Bearer " + key.Key

	// Refused before anything is dialled: a number outside the dialing
	// rules, and an agent (agents do not start IVR calls).
	req := map[string]any{"number": "+44 20 7946 0000", "flow": "pin"}
	if status, body = e.api("POST", "/api/v1/ivr-calls", apiAuth, req); status != 403 || !strings.Contains(string(body), `"status":403`) {
		t.Fatalf("a number outside the dialing rules: %d %s", status, body)
	}
	req["number"] = ivrCalleeNum
	if status, body = e.api("POST", "/api/v1/ivr-calls", "Bearer "+e.login("alice"), req); status != 403 {
		t.Fatalf("an agent started an IVR call: %d %s", status, body)
	}

	req["variables"] = map[string]string{"campaign": "dec"}
	status, body = e.api("POST", "/api/v1/ivr-calls", apiAuth, req)
	var started struct{ ID, Status, Number string }
	if err := json.Unmarshal(body, &started); err != nil || status != 202 || started.Status != "dialing" || started.Number != ivrCalleeNum {
		t.Fatalf("ivr call: %d %s", status, body)
	}
	var callee *trunk.PhoneCall
	select {
	case callee = <-e.carrier.Incoming():
	case <-time.After(10 * time.Second):
		t.Fatal("the carrier never got the INVITE")
	}
	if callee.To != ivrCalleeNum {
		t.Fatalf("the carrier was asked for %q", callee.To)
	}
	heard := carrierAudio(callee, ivrCalleeHz)
	if err := callee.Answer(e.ctx); err != nil {
		t.Fatal(err)
	}
	if err := heard.WaitFor(e.ctx, ivrPromptHz); err != nil {
		t.Fatalf("the callee never heard the prompt: %v", err)
	}
	if err := callee.SendDTMF(e.ctx, "4711"); err != nil {
		t.Fatal(err)
	}
	if err := heard.WaitFor(e.ctx, ivrThanksHz); err != nil {
		t.Fatalf("the callee never heard the flow go on: %v", err)
	}
	select {
	case <-callee.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the flow's hang-up never reached the callee")
	}

	got := hook.wait(started.ID)
	vars, _ := got["vars"].(map[string]any)
	if got["outcome"] != "answered" || got["node"] != "bye" || got["flow"] != "pin" || got["status"] != "ended" ||
		vars["pin"] != "4711" || vars["campaign"] != "dec" || vars["customer"] != "Ada" {
		t.Fatalf("ivr.call.ended %v", got)
	}
	status, body = e.api("GET", "/api/v1/ivr-calls/"+started.ID, apiAuth, nil)
	if status != 200 || !strings.Contains(string(body), `"pin":"4711"`) || !strings.Contains(string(body), `"outcome":"answered"`) {
		t.Fatalf("GET ivr call: %d %s", status, body)
	}
	status, body = e.api("GET", "/api/v1/calls/"+started.ID, apiAuth, nil)
	var rec struct {
		Direction, Origin string
		IVR               struct {
			Flow    string
			Version int
		}
	}
	if err := json.Unmarshal(body, &rec); err != nil || status != 200 || rec.Direction != "outbound" || rec.Origin != "ivr_call" ||
		rec.IVR.Flow != "pin" || rec.IVR.Version != 1 {
		t.Fatalf("call record: %d %s", status, body)
	}
	if status, body = e.api("GET", "/api/v1/audit", admin, nil); status != 200 || !strings.Contains(string(body), "ivr_call.start") {
		t.Fatalf("audit: %d %s", status, body)
	}

	// A busy callee.
	status, body = e.api("POST", "/api/v1/ivr-calls", apiAuth, map[string]any{"number": ivrCalleeNum, "flow": "pin"})
	if err := json.Unmarshal(body, &started); err != nil || status != 202 {
		t.Fatalf("second ivr call: %d %s", status, body)
	}
	select {
	case in := <-e.carrier.Incoming():
		if err := in.Reject(486, "Busy Here"); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the carrier never got the second INVITE")
	}
	if got := hook.wait(started.ID); got["outcome"] != "busy" || got["endReason"] != "busy" {
		t.Fatalf("busy callee: %v", got)
	}
}
