package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// outboundIVR is a service whose trunk hands out fake legs the test
// answers or fails.
func outboundIVR(t *testing.T, cfg cti.Config) (*cti.Service, <-chan *ctitest.OutboundLeg, *ctitest.Events) {
	t.Helper()
	legs := make(chan *ctitest.OutboundLeg, 16)
	m := &ctitest.Media{DialFunc: func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
		l := ctitest.NewOutboundLeg("out-"+req.CallID, req.To)
		legs <- l
		return l, nil
	}}
	cfg.DialRules = map[string]cti.DialRule{"demo": {AllowCountries: []string{"US"}}}
	svc := newServiceWith(t, cfg, m)
	events := &ctitest.Events{}
	svc.SetEventSink(events)
	flow := ivr.Flow{ID: "survey", Name: "Survey", Start: "ask", Nodes: []ivr.Node{
		{ID: "ask", Kind: ivr.Collect, Var: "score", MaxDigits: 1, TimeoutSeconds: 30, Next: "bye"},
		{ID: "bye", Kind: ivr.Hangup},
	}}
	if _, err := svc.SaveIVRFlow(context.Background(), cti.Principal{TenantID: "demo", UserID: "adm", Role: cti.RoleAdmin}, flow); err != nil {
		t.Fatal(err)
	}
	return svc, legs, events
}

func waitIVRCall(t *testing.T, svc *cti.Service, id string, done func(cti.IVRCall) bool) cti.IVRCall {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := svc.GetIVRCall(context.Background(), apiUser, id)
		if err == nil && done(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("IVR call %s: %+v %v", id, c, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Requests are checked before anything is dialled; the callee's answer
// starts the flow; busy and unanswered calls say so; the tenant's
// concurrency and rate bounds refuse the excess.
func TestOutboundIVRCalls(t *testing.T) {
	ctx := context.Background()
	svc, legs, events := outboundIVR(t, cti.Config{IVRCallsConcurrent: 2, IVRCallsPerMinute: 600})
	for _, tc := range []struct {
		p    cti.Principal
		req  cti.IVRCallRequest
		want cti.Kind
	}{
		{principal("1001"), cti.IVRCallRequest{Number: "+15559990000", Flow: "survey"}, cti.KindForbidden},
		{apiUser, cti.IVRCallRequest{Number: "+442079460000", Flow: "survey"}, cti.KindForbidden},
		{apiUser, cti.IVRCallRequest{Number: "not a number", Flow: "survey"}, cti.KindInvalid},
		{apiUser, cti.IVRCallRequest{Number: "+15559990000", Flow: "nope"}, cti.KindInvalid},
		{apiUser, cti.IVRCallRequest{Number: "+15559990000", Flow: "survey", Variables: map[string]string{"Bad Name": "x"}}, cti.KindInvalid},
		{apiUser, cti.IVRCallRequest{Number: "+15559990000", Flow: "survey", Ring: time.Hour}, cti.KindInvalid},
	} {
		if _, err := svc.StartIVRCall(ctx, tc.p, tc.req); cti.ErrorKind(err) != tc.want {
			t.Errorf("%+v as %s: %v, want %s", tc.req, tc.p.Role, err, tc.want)
		}
	}
	select {
	case l := <-legs:
		t.Fatalf("a refused request dialled %s", l.To)
	default:
	}

	answered, err := svc.StartIVRCall(ctx, apiUser, cti.IVRCallRequest{Number: "(555) 999-0000", Flow: "survey",
		Variables: map[string]string{"campaign": "dec"}})
	if err != nil {
		t.Fatal(err)
	}
	if answered.Status != "dialing" || answered.Number != "+15559990000" || answered.Flow != "survey" || answered.Version != 1 {
		t.Fatalf("started %+v", answered)
	}
	first := <-legs
	busy, err := svc.StartIVRCall(ctx, apiUser, cti.IVRCallRequest{Number: "+15559990001", Flow: "survey"})
	if err != nil {
		t.Fatal(err)
	}
	second := <-legs
	if _, err := svc.StartIVRCall(ctx, apiUser, cti.IVRCallRequest{Number: "+15559990002", Flow: "survey"}); cti.ErrorKind(err) != cti.KindRateLimited {
		t.Fatalf("a third call at once: %v, want rate limited", err)
	}

	first.Answer()
	waitIVRCall(t, svc, answered.ID, func(c cti.IVRCall) bool { return c.Status == "in_flow" && c.Node == "ask" })
	second.Fail(cti.EndBusy)
	got := waitIVRCall(t, svc, busy.ID, func(c cti.IVRCall) bool { return c.Status == "ended" })
	if got.Outcome != "busy" || got.EndReason != cti.EndBusy {
		t.Errorf("busy callee: %+v", got)
	}
	// A slot is free again.
	late, err := svc.StartIVRCall(ctx, apiUser, cti.IVRCallRequest{Number: "+15559990003", Flow: "survey", Ring: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	<-legs
	first.RemoteHangup()
	got = waitIVRCall(t, svc, answered.ID, func(c cti.IVRCall) bool { return c.Status == "ended" })
	if got.Outcome != "answered" || got.Node != "ask" || got.Vars["campaign"] != "dec" {
		t.Errorf("answered callee: %+v", got)
	}
	rec, err := svc.GetCall(ctx, apiUser, answered.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Direction != cti.DirectionOutbound || rec.Origin != cti.OriginIVRCall || rec.IVR == nil || rec.IVR.Flow != "survey" ||
		rec.IVR.Outcome != "answered" || rec.AnsweredAt.IsZero() {
		t.Errorf("record %+v (ivr %+v)", rec, rec.IVR)
	}
	got = waitIVRCall(t, svc, late.ID, func(c cti.IVRCall) bool { return c.Status == "ended" })
	if got.Outcome != "no_answer" {
		t.Errorf("unanswered callee: %+v", got)
	}
	for _, id := range []string{answered.ID, busy.ID, late.ID} {
		waitEvents(t, events, id, cti.EventIVRCallEnded)
	}
	ended := map[string]string{}
	for _, e := range events.All() {
		if e.Type == cti.EventIVRCallEnded {
			ended[e.CallID] = e.Data.(cti.IVRCall).Outcome
		}
	}
	if ended[answered.ID] != "answered" || ended[busy.ID] != "busy" || ended[late.ID] != "no_answer" {
		t.Errorf("ivr.call.ended events: %v", ended)
	}
	if _, err := svc.GetIVRCall(ctx, principal("1001"), answered.ID); cti.ErrorKind(err) != cti.KindForbidden {
		t.Errorf("an agent read an IVR call: %v", err)
	}
}

// The per-minute bound: bursts of a tenth of it, then refusals.
func TestOutboundIVRCallRate(t *testing.T) {
	svc, legs, _ := outboundIVR(t, cti.Config{IVRCallsPerMinute: 10})
	if _, err := svc.StartIVRCall(context.Background(), apiUser, cti.IVRCallRequest{Number: "+15559990000", Flow: "survey"}); err != nil {
		t.Fatal(err)
	}
	(<-legs).Fail(cti.EndBusy)
	if _, err := svc.StartIVRCall(context.Background(), apiUser, cti.IVRCallRequest{Number: "+15559990000", Flow: "survey"}); cti.ErrorKind(err) != cti.KindRateLimited {
		t.Fatalf("second call within the minute: %v, want rate limited", err)
	}
}

// An outbound IVR call the process dropped (a crash) still reports its
// end at the next start: interrupted, with what the callee entered.
func TestInterruptedIVRCallReportsItsEnd(t *testing.T) {
	ctx := context.Background()
	st := tenantStore(t)
	started := time.Now().UTC().Add(-time.Minute)
	live := cti.CallRecord{ID: "call_ivr", TenantID: "demo", Direction: cti.DirectionOutbound, Origin: cti.OriginIVRCall,
		From: "anonymous", To: "+15559990000", StartedAt: started, AnsweredAt: started.Add(3 * time.Second), Tags: []string{},
		IVR: &cti.IVRRecord{Flow: "survey", Version: 2, Node: "ask", Vars: map[string]string{"score": "5"}}}
	if err := st.ApplyEventState(ctx, &cti.EventState{LiveCall: &cti.LiveCall{Record: live, SeenAt: started.Add(20 * time.Second)}}); err != nil {
		t.Fatal(err)
	}
	events := &ctitest.Events{}
	svc := cti.New(cti.Config{}, st, &ctitest.Media{}, nil)
	svc.SetEventSink(events)
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Close()
	var got *cti.IVRCall
	for _, e := range events.All() {
		if e.Type == cti.EventIVRCallEnded {
			c := e.Data.(cti.IVRCall)
			got = &c
		}
	}
	if got == nil || got.ID != "call_ivr" || got.Outcome != "answered" || got.EndReason != cti.EndInterrupted ||
		got.Vars["score"] != "5" || got.Node != "ask" || got.Status != "ended" {
		t.Fatalf("ivr.call.ended at start: %+v", got)
	}
	if rec, err := st.GetCallRecord(ctx, "demo", "call_ivr"); err != nil || rec.IVR == nil || rec.IVR.Outcome != "answered" {
		t.Fatalf("stored record: %+v %v", rec, err)
	}
}
