package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// The CRM integration through the whole product: an API key made by the
// admin over REST, a phonebook entry written with it, the caller's card
// on the agent's websocket before answer (phonebook first, then the CRM's
// card from a real HTTP server), the call record and its disposition over
// REST, and click-to-call ringing the agent before the carrier.

// api makes a REST request with an Authorization header and a JSON body.
func (e *e2e) api(method, path, auth string, body any) (int, []byte) {
	e.t.Helper()
	var b []byte
	contentType := ""
	if body != nil {
		b, _ = json.Marshal(body)
		contentType = "application/json"
	}
	status, out, _ := e.request(method, path, auth, contentType, b)
	return status, out
}

// request makes a REST request; contentType and auth are sent when set.
func (e *e2e) request(method, path, auth, contentType string, body []byte) (int, []byte, http.Header) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.base+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out, res.Header
}

func TestE2ECRMIntegration(t *testing.T) {
	crmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer crm-secret" || r.URL.Query().Get("number") != "+15557654321" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"Grace Hopper","company":"Navy","tier":"gold","url":"https://crm.example/c/7"}`)
	}))
	defer crmSrv.Close()
	e := startE2E(t, func(c *Config) {
		c.Tenants = map[string]TenantConfig{"demo": {DefaultRegion: "US", ScreenPop: "ringing",
			CRM: &CRMConfig{TenantConfig: crm.TenantConfig{LookupURL: crmSrv.URL, APIKey: "crm-secret"}, TimeoutMs: 2000}}}
	})

	// The admin creates the integration's key; the key writes the phonebook.
	status, body := e.api("POST", "/api/v1/api-keys", "Bearer "+e.login("admin"), map[string]string{"name": "crm"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}
	apiAuth := "Bearer " + key.Key
	status, body = e.api("POST", "/api/v1/phonebook", apiAuth, map[string]any{"name": "Grace (phonebook)", "numbers": []string{"555-765-4321"}})
	if status != 201 {
		t.Fatalf("phonebook: %d %s", status, body)
	}
	status, body = e.api("GET", "/api/v1/phonebook", "Bearer rbk_kwrong_secret", nil)
	if status != 401 {
		t.Fatalf("bad key: %d %s", status, body)
	}

	// Screen pop over the agent's websocket, before answer.
	a := e.signIn("alice", 440)
	calls, errs := e.dialIn("1001")
	ring := a.waitCall("ringing")
	if ring.Card == nil || ring.Card.Name != "Grace (phonebook)" {
		t.Fatalf("ringing shows card %+v, want the phonebook's", ring.Card)
	}
	pop := a.wait(func(m wsproto.Message) bool {
		return m.Type == wsproto.TypeCall && m.Call.Card != nil && m.Call.Card.Name == "Grace Hopper"
	}).Call
	if pop.State != "ringing" || pop.Card.URL != "https://crm.example/c/7" {
		t.Fatalf("CRM card arrived with state %s: %+v", pop.State, pop.Card)
	}
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: ring.ID})
	var call *trunk.PhoneCall
	select {
	case call = <-calls:
	case err := <-errs:
		t.Fatal(err)
	}
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatalf("caller does not hear the agent: %v", err)
	}
	a.request(wsproto.Message{Type: wsproto.TypeHangup, CallID: ring.ID})
	<-call.Done()
	a.waitCall("ended")

	// The record, and the CRM setting its disposition afterwards.
	status, body = e.api("GET", "/api/v1/calls/"+ring.ID, apiAuth, nil)
	var rec struct {
		Direction string
		Route     string
		Legs      []struct{ SIPCallID, Trunk string }
		Agents    []struct{ Extension, EndReason string }
	}
	if err := json.Unmarshal(body, &rec); err != nil || status != 200 || rec.Route != "static:1001" || len(rec.Legs) != 1 ||
		rec.Legs[0].Trunk != "carrier" || len(rec.Agents) != 1 || rec.Agents[0].EndReason != "local_hangup" {
		t.Fatalf("record: %d %s", status, body)
	}
	status, body = e.api("PATCH", "/api/v1/calls/"+ring.ID, apiAuth, map[string]any{"disposition": "resolved", "tags": []string{"billing"}})
	if status != 200 || !bytes.Contains(body, []byte(`"disposition":"resolved"`)) {
		t.Fatalf("disposition: %d %s", status, body)
	}

	// Click-to-call: the agent rings first, the carrier only after answer.
	status, body = e.api("POST", "/api/v1/calls", apiAuth, map[string]string{"extension": "1001", "number": "+1 555 999 0000"})
	var started struct{ ID, State string }
	if err := json.Unmarshal(body, &started); err != nil || status != 202 || started.State != "ringing" {
		t.Fatalf("click-to-call: %d %s", status, body)
	}
	c2c := a.waitCall("ringing")
	if c2c.ID != started.ID || c2c.Origin != "click_to_call" || c2c.Direction != "outbound" {
		t.Fatalf("agent sees %+v", c2c)
	}
	select {
	case in := <-e.carrier.Incoming():
		t.Fatalf("carrier called (%s) before the agent answered", in.To)
	case <-time.After(300 * time.Millisecond):
	}
	a.request(wsproto.Message{Type: wsproto.TypeAnswer, CallID: c2c.ID})
	select {
	case out := <-e.carrier.Incoming():
		if out.To != "+15559990000" {
			t.Fatalf("carrier was asked for %q", out.To)
		}
		heard := carrierAudio(out, 1000)
		if err := out.Answer(e.ctx); err != nil {
			t.Fatal(err)
		}
		a.heard.Reset()
		a.hears(1000)
		if err := heard.WaitFor(e.ctx, 440); err != nil {
			t.Fatalf("called party does not hear the agent: %v", err)
		}
		if err := out.Hangup(e.ctx); err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the carrier never got the click-to-call INVITE")
	}
	if end := a.waitCall("ended"); end.ID != c2c.ID || end.EndReason != "remote_hangup" {
		t.Fatalf("end %+v", end)
	}
}
