package media_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// These tests put a real HTTP server in the CRM's place and drive real
// calls through the harness: SIP from the carrier, WebRTC to the agents.

// crmServer plays a tenant's CRM: caller lookup and routing query, each
// with a configurable delay and answer.
type crmServer struct {
	srv *httptest.Server

	mu          sync.Mutex
	lookupDelay time.Duration
	lookupBody  string
	routeDelay  time.Duration
	routeStatus int
	routeBody   string
	lookups     []url.Values
	routes      []map[string]string
	seen        chan string // "lookup" or "route", as requests arrive
}

func newCRMServer(t testing.TB) *crmServer {
	c := &crmServer{routeStatus: 200, seen: make(chan string, 64)}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *crmServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer crm-key" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	c.mu.Lock()
	var delay time.Duration
	status, body := 200, ""
	switch r.URL.Path {
	case "/lookup":
		c.lookups = append(c.lookups, r.URL.Query())
		delay, body = c.lookupDelay, c.lookupBody
		if body == "" {
			status = 404
		}
	case "/route":
		var p map[string]string
		_ = json.NewDecoder(r.Body).Decode(&p)
		c.routes = append(c.routes, p)
		delay, status, body = c.routeDelay, c.routeStatus, c.routeBody
	}
	c.mu.Unlock()
	c.seen <- r.URL.Path[1:]
	select {
	case <-time.After(delay):
	case <-r.Context().Done(): // we gave up: stop at once
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (c *crmServer) set(f func(c *crmServer)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// crmOpts wires the CRM and an event recorder into the harness.
func crmOpts(t testing.TB, c *crmServer, ts cti.TenantSettings, numbers map[string]cti.NumberRoute) harnessOpts {
	client, err := crm.New(map[string]crm.TenantConfig{tenant: {
		LookupURL: c.srv.URL + "/lookup", RoutingURL: c.srv.URL + "/route", APIKey: "crm-key"}}, logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return harnessOpts{ctiConfig: func(cfg *cti.Config) {
		cfg.CRM = client
		cfg.Tenants = map[string]cti.TenantSettings{tenant: ts}
		for k, v := range numbers {
			cfg.Numbers[k] = v
		}
	}}
}

var apiPrincipal = cti.Principal{TenantID: tenant, UserID: "usr_api", Username: "crm", Role: cti.RoleAPI}

func (h *harness) addContact(name string, numbers ...string) {
	h.t.Helper()
	if _, err := h.svc.CreateContact(h.ctx, apiPrincipal, cti.Contact{Name: name, Company: "Phonebook Ltd", Numbers: numbers}); err != nil {
		h.t.Fatal(err)
	}
}

// nextCallEvent returns the agent's next call event, whatever its state.
func (a *agent) nextCallEvent() cti.CallInfo {
	a.t.Helper()
	select {
	case ci := <-a.calls:
		return ci
	case <-time.After(10 * time.Second):
		a.t.Fatalf("agent %s: no call event", a.ext)
	}
	return cti.CallInfo{}
}

// The caller's card reaches the ringing agent before anyone answers: the
// phonebook's with the ringing itself, the CRM's as soon as it answers.
// Then the call goes on normally and both sides hear each other.
func TestScreenPopCardBeforeAnswer(t *testing.T) {
	c := newCRMServer(t)
	c.set(func(c *crmServer) {
		c.lookupDelay = 100 * time.Millisecond
		c.lookupBody = `{"name":"Ada Lovelace","company":"Analytical Engines","tier":"platinum","url":"https://crm.example/c/42","fields":{"openTickets":2}}`
	})
	h := newHarness(t, crmOpts(t, c, cti.TenantSettings{}, nil))
	h.addContact("Ada (phonebook)", "+1 555 765 4321")
	a := h.signIn("1001", agentTone)

	calls, errs := h.dialIn(didAgent1)
	ring := a.nextCallEvent()
	if ring.State != cti.CallRinging || ring.Card == nil || ring.Card.Name != "Ada (phonebook)" {
		t.Fatalf("ringing event %s with card %+v, want the phonebook card", ring.State, ring.Card)
	}
	pop := a.nextCallEvent()
	if pop.State != cti.CallRinging || pop.Card == nil || pop.Card.Name != "Ada Lovelace" || pop.Card.Tier != "platinum" ||
		pop.Card.Fields["openTickets"] != "2" || pop.Card.URL != "https://crm.example/c/42" {
		t.Fatalf("second event %s with card %+v, want the CRM card while ringing", pop.State, pop.Card)
	}
	c.mu.Lock()
	q := c.lookups[0]
	c.mu.Unlock()
	if q.Get("number") != "+15557654321" || q.Get("event") != "ringing" || q.Get("extension") != "1001" || q.Get("callId") != ring.ID {
		t.Fatalf("lookup sent %v", q)
	}

	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
	if act := a.waitCall(cti.CallActive); act.Card == nil || act.Card.Name != "Ada Lovelace" {
		t.Fatalf("answered call shows %+v", act.Card)
	}
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
}

// A CRM slower than the lookup timeout neither delays the ringing nor
// hides the phonebook card.
func TestScreenPopCRMTimeoutShowsPhonebookCard(t *testing.T) {
	const crmDelay = 3 * time.Second
	c := newCRMServer(t)
	c.set(func(c *crmServer) { c.lookupDelay, c.lookupBody = crmDelay, `{"name":"too late"}` })
	h := newHarness(t, crmOpts(t, c, cti.TenantSettings{LookupTimeout: 300 * time.Millisecond}, nil))
	h.addContact("Ada (phonebook)", "+15557654321")
	a := h.signIn("1001", agentTone)

	invite := time.Now()
	calls, errs := h.dialIn(didAgent1)
	ring := a.nextCallEvent()
	rang := time.Since(invite)
	if ring.State != cti.CallRinging || ring.Card == nil || ring.Card.Name != "Ada (phonebook)" {
		t.Fatalf("ringing event %s with card %+v", ring.State, ring.Card)
	}
	if rang >= crmDelay {
		t.Fatalf("the agent's phone rang %v after the INVITE: it waited for the CRM (%v)", rang, crmDelay)
	}
	select {
	case <-c.seen:
	case <-time.After(5 * time.Second):
		t.Fatal("the CRM was never asked")
	}
	t.Logf("INVITE to ringing with the phonebook card: %v (CRM delay %v)", rang, crmDelay)
	// Past the lookup timeout the phonebook card is still what the agent sees.
	time.Sleep(500 * time.Millisecond)
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDialed(t, calls, errs).Hangup(h.ctx)
	for {
		ci := a.nextCallEvent()
		if ci.Card == nil || ci.Card.Name != "Ada (phonebook)" {
			t.Fatalf("event %s shows card %+v", ci.State, ci.Card)
		}
		if ci.State == cti.CallEnded {
			break
		}
	}
}

// A number routed by the CRM: its answer picks the agent; on error,
// garbage or timeout the fallback rings. The decision stays with the call.
func TestCRMRoutingRealCalls(t *testing.T) {
	c := newCRMServer(t)
	events := &ctitest.Events{}
	opts := crmOpts(t, c, cti.TenantSettings{RouteTimeout: 300 * time.Millisecond},
		map[string]cti.NumberRoute{didAgent1: {TenantID: tenant, Extension: "1001", Route: cti.RouteCRM}})
	h := newHarness(t, opts)
	h.svc.SetEventSink(events)
	a := h.signIn("1001", agentTone)
	b := h.signIn("1002", 700)

	for _, step := range []struct {
		name   string
		status int
		body   string
		delay  time.Duration
		rings  *agent
		route  string
	}{
		{"crm picks 1002", 200, `{"extension":"1002"}`, 0, b, "crm:1002"},
		{"crm fails", 500, `{"error":"boom"}`, 0, a, "fallback:1001"},
		{"crm answers garbage", 200, `<html>`, 0, a, "fallback:1001"},
		{"crm too slow", 200, `{"extension":"1002"}`, 2 * time.Second, a, "fallback:1001"},
		{"crm names a queue", 200, `{"queue":"sales"}`, 0, a, "fallback:1001"},
	} {
		c.set(func(c *crmServer) { c.routeStatus, c.routeBody, c.routeDelay = step.status, step.body, step.delay })
		calls, errs := h.dialIn(didAgent1)
		ring := step.rings.waitCall(cti.CallRinging)
		if ring.Route != step.route {
			t.Fatalf("%s: route %q, want %q", step.name, ring.Route, step.route)
		}
		if err := step.rings.sess.Answer(ring.ID); err != nil {
			t.Fatal(err)
		}
		far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
		step.rings.hears(carrierTone)
		if step.rings == b {
			far.hears(t, h.ctx, 700)
		}
		if err := far.call.Hangup(h.ctx); err != nil {
			t.Fatal(err)
		}
		step.rings.waitCall(cti.CallEnded)
		step.rings.heard.Reset()
		rec, err := h.store.GetCallRecord(h.ctx, tenant, ring.ID)
		if err != nil || rec.Route != step.route {
			t.Fatalf("%s: stored record %+v, %v", step.name, rec, err)
		}
	}
	c.mu.Lock()
	p := c.routes[0]
	c.mu.Unlock()
	if p["from"] != "+"+callerNum || p["to"] != "+"+didAgent1 || p["trunk"] != "carrier" || p["tenant"] != tenant {
		t.Fatalf("routing query sent %v", p)
	}
}

// Click-to-call: the agent's phone rings first; the carrier gets the
// INVITE only once the agent has answered; then both hear each other.
func TestClickToCallRingsAgentThenNumber(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{})
	h.svc.SetEventSink(events)
	a := h.signIn("1001", agentTone)

	ci, err := h.svc.ClickToCall(h.ctx, apiPrincipal, cti.ClickToCall{Extension: "1001", Number: "+1 (555) 999-0000"})
	if err != nil {
		t.Fatal(err)
	}
	ring := a.waitCall(cti.CallRinging)
	if ring.ID != ci.ID || ring.Origin != cti.OriginClickToCall || ring.Remote != "+15559990000" {
		t.Fatalf("agent sees %+v", ring)
	}
	select {
	case in := <-h.carrier.Incoming():
		t.Fatalf("the carrier was called (%s) before the agent answered", in.To)
	case <-time.After(300 * time.Millisecond):
	}
	if err := a.sess.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	if in.To != "+15559990000" || in.From != "1001" {
		t.Fatalf("carrier got a call from %q to %q", in.From, in.To)
	}
	far := newFarEnd(in, carrierTone)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if err := in.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("end reason %s", end.EndReason)
	}
	rec, err := h.store.GetCallRecord(h.ctx, tenant, ci.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Origin != cti.OriginClickToCall || len(rec.Legs) != 1 || rec.Legs[0].SIPCallID != in.CallID() ||
		rec.Legs[0].Trunk != "carrier" || rec.Legs[0].AnsweredAt.IsZero() || len(rec.Agents) != 1 ||
		rec.Agents[0].AnsweredAt.After(rec.Legs[0].StartedAt) || rec.Durations.Talk <= 0 {
		t.Fatalf("record %+v", rec)
	}
}

// The record of a real call transferred to a number: the caller's leg
// and the transfer leg, with the SIP Call-IDs the carrier saw, and the
// agent's part ending "transferred".
func TestCallRecordOfTransferToNumber(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{})
	h.svc.SetEventSink(events)
	a := h.signIn("1001", agentTone)
	ring, caller := h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
	if err := a.sess.Transfer(ring.ID, "+15558880000"); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	target := newFarEnd(in, 700)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	caller.heard.Reset()
	caller.hears(t, h.ctx, 700)
	target.hears(t, h.ctx, carrierTone)
	if err := caller.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in)

	var rec *cti.CallRecord
	deadline := time.Now().Add(10 * time.Second)
	for rec == nil && time.Now().Before(deadline) {
		for _, ev := range events.All() {
			if ev.Type == cti.EventCallEnded && ev.CallID == ring.ID {
				rec = ev.Data.(*cti.CallRecord)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rec == nil {
		t.Fatal("no call.ended event")
	}
	if len(rec.Legs) != 2 {
		t.Fatalf("legs %+v", rec.Legs)
	}
	l0, l1 := rec.Legs[0], rec.Legs[1]
	if l0.SIPCallID != caller.call.CallID() || l0.Direction != cti.DirectionInbound || l0.Number != callerNum || l0.Trunk != "carrier" ||
		l0.EndReason != cti.EndRemoteHangup || l0.AnsweredAt.IsZero() {
		t.Fatalf("caller's leg %+v", l0)
	}
	if l1.SIPCallID != in.CallID() || l1.Direction != cti.DirectionOutbound || l1.Number != "+15558880000" || l1.AnsweredAt.IsZero() ||
		l1.StartedAt.Before(l0.AnsweredAt) {
		t.Fatalf("transfer leg %+v", l1)
	}
	if len(rec.Agents) != 1 || rec.Agents[0].EndReason != cti.EndTransferred || rec.Agents[0].Extension != "1001" {
		t.Fatalf("agents %+v", rec.Agents)
	}
	if rec.Durations.Talk <= 0 || rec.Durations.Total < rec.Durations.Talk {
		t.Fatalf("durations %+v", rec.Durations)
	}
	stored, err := h.store.GetCallRecord(h.ctx, tenant, ring.ID)
	if err != nil || len(stored.Legs) != 2 {
		t.Fatalf("stored %+v, %v", stored, err)
	}
}
