package media_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// An IVR flow's CRM node against a real HTTP server playing the tenant's
// CRM: the caller lands where the answer says, and hears it; a CRM that
// answers too late sends the caller down the timeout branch.

const (
	vipHz     = 1100.0
	stdHz     = 1400.0
	slowHz    = 1700.0
	wrongHz   = 2000.0
	didCRMIVR = "15550009100"
)

// ivrCRM is the stand-in CRM: it checks the credentials, keeps each
// query's body, waits delay (or until we give up) and answers body.
type ivrCRM struct {
	srv *httptest.Server

	mu        sync.Mutex
	delay     time.Duration
	body      string
	queries   []map[string]any
	cancelled chan struct{} // a query given up before it was answered
}

func newIVRCRM(t *testing.T) *ivrCRM {
	c := &ivrCRM{cancelled: make(chan struct{}, 8)}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer crm-key" || r.URL.Path != "/ivr" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var q map[string]any
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.queries = append(c.queries, q)
		delay, body := c.delay, c.body
		c.mu.Unlock()
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			c.cancelled <- struct{}{}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *ivrCRM) answer(delay time.Duration, body string) {
	c.mu.Lock()
	c.delay, c.body = delay, body
	c.mu.Unlock()
}

func (c *ivrCRM) lastQuery(t *testing.T) map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queries) == 0 {
		t.Fatal("the CRM was never asked")
	}
	return c.queries[len(c.queries)-1]
}

// crmFlow asks the CRM after collecting an account number; vip callers
// whose answer also tagged them gold and set their account hear vipHz.
func crmFlow() ivr.Flow {
	tone := func(hz float64) []ivr.Sound { return []ivr.Sound{{ToneHz: hz, Ms: 1500}} }
	return ivr.Flow{ID: "crm", Name: "Ask the CRM", Start: "set", Nodes: []ivr.Node{
		{ID: "set", Kind: ivr.Set, Values: map[string]string{"lang": "en"}, Next: "ask"},
		{ID: "ask", Kind: ivr.CRMQuery, TimeoutSeconds: 1, Answers: map[string]string{"vip": "is-gold", "std": "std"}, OnTimeout: "slow"},
		{ID: "is-gold", Kind: ivr.Condition, If: &ivr.Cond{Tag: "gold", Var: "account", Equals: "42"}, Then: "vip", Else: "wrong"},
		{ID: "vip", Kind: ivr.Play, Say: tone(vipHz), Next: "bye"},
		{ID: "wrong", Kind: ivr.Play, Say: tone(wrongHz), Next: "bye"},
		{ID: "std", Kind: ivr.Play, Say: tone(stdHz), Next: "bye"},
		{ID: "slow", Kind: ivr.Play, Say: tone(slowHz), Next: "bye"},
		{ID: "bye", Kind: ivr.Hangup},
	}}
}

func crmIVRHarness(t *testing.T, c *ivrCRM) *harness {
	t.Helper()
	client, err := crm.New(map[string]crm.TenantConfig{tenant: {QueryURL: c.srv.URL + "/ivr", APIKey: "crm-key"}}, logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	h := newHarness(t, harnessOpts{ctiConfig: func(cfg *cti.Config) {
		cfg.CRM = client
		cfg.Numbers[didCRMIVR] = cti.NumberRoute{TenantID: tenant, Route: cti.RouteIVR, Flow: "crm", Extension: "1002"}
	}})
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), crmFlow()); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestIVRCRMNodeBranchesOnTheAnswer(t *testing.T) {
	c := newIVRCRM(t)
	h := crmIVRHarness(t, c)

	c.answer(0, `{"branch": "vip", "tag": "gold", "vars": {"account": 42}}`)
	calls, errs := h.dialIn(didCRMIVR)
	far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
	far.hears(t, h.ctx, vipHz)
	waitDone(t, far.call)
	if far.heard.Detected(wrongHz) || far.heard.Detected(slowHz) || far.heard.Detected(stdHz) {
		t.Error("the caller heard another branch besides vip")
	}
	q := c.lastQuery(t)
	vars, _ := q["vars"].(map[string]any)
	if q["from"] != "+"+callerNum || q["to"] != didCRMIVR || q["tenant"] != tenant || q["flow"] != "crm" ||
		q["node"] != "ask" || q["direction"] != "inbound" || q["callId"] == "" || vars["lang"] != "en" {
		t.Errorf("the CRM was asked %v", q)
	}

	c.answer(0, `{"branch": "std"}`)
	calls, errs = h.dialIn(didCRMIVR)
	far = newFarEnd(waitDialed(t, calls, errs), carrierTone)
	far.hears(t, h.ctx, stdHz)
	waitDone(t, far.call)
}

// The CRM sleeps past the node's 1 s: the caller hears the timeout
// branch, and the CRM sees its request given up.
func TestIVRCRMNodeTimeout(t *testing.T) {
	c := newIVRCRM(t)
	h := crmIVRHarness(t, c)
	c.answer(5*time.Second, `{"branch": "vip"}`)
	began := time.Now()
	calls, errs := h.dialIn(didCRMIVR)
	far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
	far.hears(t, h.ctx, slowHz)
	if since := time.Since(began); since < time.Second {
		t.Errorf("the timeout branch came after %v, before the node's 1 s", since)
	}
	select {
	case <-c.cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the CRM's request was not given up at the timeout")
	}
	waitDone(t, far.call)
	if far.heard.Detected(vipHz) {
		t.Error("a late answer still took its branch")
	}
}

// A caller who hangs up while the CRM thinks: the call ends at once (the
// state machine is not waiting on the CRM) and the query is cancelled.
func TestIVRCRMNodeCallerHangsUpDuringTheQuery(t *testing.T) {
	c := newIVRCRM(t)
	h := crmIVRHarness(t, c)
	f := crmFlow()
	f.Node("ask").TimeoutSeconds = 30
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), f); err != nil {
		t.Fatal(err)
	}
	c.answer(30*time.Second, `{"branch": "vip"}`)
	calls, errs := h.dialIn(didCRMIVR)
	call := waitDialed(t, calls, errs)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		asked := len(c.queries)
		c.mu.Unlock()
		if asked > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the CRM was never asked")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the query outlived the call")
	}
}

// panickyCRM is a CRM adapter whose IVR query panics.
type panickyCRM struct{ cti.CRM }

func (panickyCRM) Query(context.Context, cti.IVRQuery) (cti.IVRAnswer, error) {
	panic("adapter bug")
}

// A CRM adapter that panics fails the node's query, not the process: the
// caller hears the timeout branch, and the next call is served.
func TestIVRCRMNodeAdapterPanics(t *testing.T) {
	c := newIVRCRM(t)
	client, err := crm.New(map[string]crm.TenantConfig{tenant: {QueryURL: c.srv.URL + "/ivr", APIKey: "crm-key"}}, logger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	h := newHarness(t, harnessOpts{ctiConfig: func(cfg *cti.Config) {
		cfg.CRM = panickyCRM{client}
		cfg.Numbers[didCRMIVR] = cti.NumberRoute{TenantID: tenant, Route: cti.RouteIVR, Flow: "crm", Extension: "1002"}
	}})
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), crmFlow()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		calls, errs := h.dialIn(didCRMIVR)
		far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
		far.hears(t, h.ctx, slowHz)
		waitDone(t, far.call)
	}
}
