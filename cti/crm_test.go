package cti_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

var (
	apiUser = cti.Principal{TenantID: "demo", UserID: "api1", Username: "crm", Role: cti.RoleAPI}
)

const caller = "15557654321" // as a trunk sends it; +15557654321 in E.164

// nextCall returns the session's next call event in one of the states.
func nextCall(t *testing.T, ss *cti.AgentSession, states ...cti.CallState) cti.CallInfo {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ss.Events():
			if ev.Kind == cti.EventCall && slices.Contains(states, ev.Call.State) {
				return *ev.Call
			}
		case <-timeout:
			t.Fatalf("no call event in %v", states)
		}
	}
}

// waitEvents waits until the sink holds an event of type typ for callID
// and returns every event for that call so far.
func waitEvents(t *testing.T, ev *ctitest.Events, callID string, typ cti.EventType) []cti.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		changed := ev.Changed()
		var mine []cti.Event
		found := false
		for _, e := range ev.All() {
			if e.CallID == callID {
				mine = append(mine, e)
				found = found || e.Type == typ
			}
		}
		if found {
			return mine
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %s event for %s; have %d events", typ, callID, len(ev.All()))
		}
	}
}

func types(evs []cti.Event) []cti.EventType {
	out := make([]cti.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func crmService(t *testing.T, crm *ctitest.CRM, cfg cti.Config) (*cti.Service, *ctitest.Media, *ctitest.Events) {
	t.Helper()
	if cfg.Numbers == nil {
		cfg.Numbers = map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001", Route: cti.RouteCRM}}
	}
	if crm != nil {
		cfg.CRM = crm
	}
	svc, m := newService(t, cfg)
	ev := &ctitest.Events{}
	svc.SetEventSink(ev)
	return svc, m, ev
}

func TestCRMRoutingAndFallback(t *testing.T) {
	var decide func(ctx context.Context) (cti.RouteDecision, error)
	crm := &ctitest.CRM{RouteFunc: func(ctx context.Context, p cti.CallParams) (cti.RouteDecision, error) { return decide(ctx) }}
	svc, _, _ := crmService(t, crm, cti.Config{
		Tenants:   map[string]cti.TenantSettings{"demo": {RouteTimeout: 50 * time.Millisecond}},
		DialRules: map[string]cti.DialRule{"demo": {AllowCountries: []string{"US"}}},
	})
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	b, _ := svc.Connect(t.Context(), principal("1002"), false)
	for _, c := range []struct {
		name   string
		decide func(ctx context.Context) (cti.RouteDecision, error)
		ss     *cti.AgentSession
		route  string
	}{
		{"crm extension", func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{Extension: "1002"}, nil }, b, "crm:1002"},
		{"timeout", func(ctx context.Context) (cti.RouteDecision, error) {
			<-ctx.Done()
			return cti.RouteDecision{}, ctx.Err()
		}, a, "fallback:1001"},
		{"error", func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{}, errors.New("HTTP 500") }, a, "fallback:1001"},
		{"empty", func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{}, nil }, a, "fallback:1001"},
		{"queue", func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{Queue: "sales"}, nil }, a, "fallback:1001"},
		{"unknown extension", func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{Extension: "1999"}, nil }, a, "fallback:1001"},
		{"number outside dial rules", func(context.Context) (cti.RouteDecision, error) {
			return cti.RouteDecision{Number: "+442079460000"}, nil
		}, a, "fallback:1001"},
	} {
		t.Run(c.name, func(t *testing.T) {
			decide = c.decide
			leg := ctitest.NewInboundLeg("sip-" + c.name)
			start := time.Now()
			if err := svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "carrier", From: caller, To: "15550001001", Leg: leg}); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("routing took %v", took)
			}
			ring := nextCall(t, c.ss, cti.CallRinging)
			if ring.Route != c.route {
				t.Fatalf("route %q, want %q", ring.Route, c.route)
			}
			leg.RemoteHangup()
			nextCall(t, c.ss, cti.CallEnded)
			rec, err := svc.GetCall(t.Context(), apiUser, ring.ID)
			if err != nil || rec.Route != c.route {
				t.Fatalf("record: %+v, %v", rec, err)
			}
		})
	}
	// The CRM heard the call's parameters in E.164.
	if p := crm.Routes[0]; p.From != "+15557654321" || p.To != "+15550001001" || p.Trunk != "carrier" || p.CallID == "" {
		t.Fatalf("routing query %+v", p)
	}

	// A CRM-chosen agent who cannot take the call falls back too.
	decide = func(context.Context) (cti.RouteDecision, error) { return cti.RouteDecision{Extension: "1002"}, nil }
	if err := b.SetStatus(cti.StatusAway, "lunch"); err != nil {
		t.Fatal(err)
	}
	leg := ctitest.NewInboundLeg("sip-away")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	if ring := nextCall(t, a, cti.CallRinging); ring.Route != "fallback:1001" {
		t.Fatalf("route %q with the CRM's agent away", ring.Route)
	}
	leg.RemoteHangup()
	nextCall(t, a, cti.CallEnded)
}

// The CRM may send the caller to an outside number: the inbound leg is
// answered only when the far end answers, and both legs are recorded.
func TestCRMRoutesToNumber(t *testing.T) {
	crm := &ctitest.CRM{RouteFunc: func(context.Context, cti.CallParams) (cti.RouteDecision, error) {
		return cti.RouteDecision{Number: "(555) 222-3333"}, nil
	}}
	svc, m, ev := crmService(t, crm, cti.Config{})
	out := ctitest.NewOutboundLeg("sip-out", "")
	m.DialFunc = func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) { return out, nil }
	in := ctitest.NewInboundLeg("sip-in")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: in}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(m.DialRequests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dials := m.DialRequests()
	if len(dials) != 1 || dials[0].To != "+15552223333" {
		t.Fatalf("dials %+v", dials)
	}
	if _, answered, _ := in.State(); answered {
		t.Fatal("caller answered before the far end")
	}
	out.Answer()
	callID := dials[0].CallID
	waitEvents(t, ev, callID, cti.EventCallAnswered)
	if _, answered, _ := in.State(); !answered {
		t.Fatal("caller not answered after the far end answered")
	}
	in.RemoteHangup()
	evs := waitEvents(t, ev, callID, cti.EventCallEnded)
	rec := evs[len(evs)-1].Data.(*cti.CallRecord)
	if rec.Route != "crm-number:+15552223333" || len(rec.Legs) != 2 || len(rec.Agents) != 0 ||
		rec.Legs[1].Number != "+15552223333" || rec.Legs[1].AnsweredAt.IsZero() {
		t.Fatalf("record %+v", rec)
	}
}

func TestScreenPopPhonebookThenCRM(t *testing.T) {
	release := make(chan struct{})
	crm := &ctitest.CRM{LookupFunc: func(ctx context.Context, req cti.LookupRequest) (*cti.Card, error) {
		select {
		case <-release:
			return &cti.Card{Name: "Ada (CRM)", Tier: "gold"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	svc, _, _ := crmService(t, crm, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	if _, err := svc.CreateContact(t.Context(), apiUser, cti.Contact{Name: "Ada (phonebook)", Numbers: []string{"+1 555 765 4321"}}); err != nil {
		t.Fatal(err)
	}
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	leg := ctitest.NewInboundLeg("sip-1")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	if ring.Card == nil || ring.Card.Name != "Ada (phonebook)" {
		t.Fatalf("first ringing event carries card %+v, want the phonebook's", ring.Card)
	}
	close(release)
	ring = nextCall(t, a, cti.CallRinging)
	if ring.Card == nil || ring.Card.Name != "Ada (CRM)" {
		t.Fatalf("second ringing event carries card %+v, want the CRM's", ring.Card)
	}
	if req := crm.Lookups[0]; req.Number != "+15557654321" || req.Extension != "1001" || req.Event != cti.LookupRinging || req.CallID != ring.ID {
		t.Fatalf("lookup %+v", req)
	}
	leg.RemoteHangup()
	nextCall(t, a, cti.CallEnded)
}

// A CRM that never answers is cut off at the lookup timeout, and the call
// ending cancels a lookup still in flight.
func TestScreenPopCRMTimeoutKeepsPhonebookCard(t *testing.T) {
	gone := make(chan struct{}, 4)
	crm := &ctitest.CRM{LookupFunc: func(ctx context.Context, req cti.LookupRequest) (*cti.Card, error) {
		<-ctx.Done()
		gone <- struct{}{}
		return nil, ctx.Err()
	}}
	svc, _, _ := crmService(t, crm, cti.Config{
		Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}},
		Tenants: map[string]cti.TenantSettings{"demo": {LookupTimeout: 30 * time.Millisecond}},
	})
	if _, err := svc.CreateContact(t.Context(), apiUser, cti.Contact{Name: "Ada", Numbers: []string{"+15557654321"}}); err != nil {
		t.Fatal(err)
	}
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	leg := ctitest.NewInboundLeg("sip-1")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	select {
	case <-gone:
	case <-time.After(3 * time.Second):
		t.Fatal("lookup not cut off at its timeout")
	}
	if err := a.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	if act := nextCall(t, a, cti.CallActive); act.Card == nil || act.Card.Name != "Ada" {
		t.Fatalf("answered call shows %+v", act.Card)
	}
	leg.RemoteHangup()
	nextCall(t, a, cti.CallEnded)
}

func TestClickToCallRingsAgentThenDials(t *testing.T) {
	svc, m, ev := crmService(t, nil, cti.Config{DialRules: map[string]cti.DialRule{"demo": {AllowCountries: []string{"US", "CA"}}}})
	out := ctitest.NewOutboundLeg("sip-out", "")
	m.DialFunc = func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) { return out, nil }
	a, _ := svc.Connect(t.Context(), principal("1001"), false)

	for _, c := range []struct {
		p    cti.Principal
		req  cti.ClickToCall
		kind cti.Kind
	}{
		{principal("1001"), cti.ClickToCall{Extension: "1001", Number: "5551234567"}, cti.KindForbidden}, // agents may not
		{apiUser, cti.ClickToCall{Extension: "1001", Number: "not a number"}, cti.KindInvalid},
		{apiUser, cti.ClickToCall{Extension: "1001", Number: "+44 20 7946 0000"}, cti.KindForbidden}, // outside the rules
		{apiUser, cti.ClickToCall{Extension: "1999", Number: "5551234567"}, cti.KindNotFound},
		{apiUser, cti.ClickToCall{Extension: "1002", Number: "5551234567"}, cti.KindConflict}, // offline
		{apiUser, cti.ClickToCall{Extension: "1001", Number: "5551234567", CallerID: "abc"}, cti.KindInvalid},
	} {
		if _, err := svc.ClickToCall(t.Context(), c.p, c.req); cti.ErrorKind(err) != c.kind {
			t.Errorf("%+v: %v, want %s", c.req, err, c.kind)
		}
	}

	ci, err := svc.ClickToCall(t.Context(), apiUser, cti.ClickToCall{Extension: "1001", Number: "(555) 123-4567", CallerID: "+15550001000"})
	if err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	if ring.ID != ci.ID || ring.Origin != cti.OriginClickToCall || ring.Direction != cti.DirectionOutbound || ring.Remote != "+15551234567" {
		t.Fatalf("agent sees %+v", ring)
	}
	// Another click-to-call for a ringing agent is refused: busy.
	if _, err := svc.ClickToCall(t.Context(), apiUser, cti.ClickToCall{Extension: "1001", Number: "5551234567"}); cti.ErrorKind(err) != cti.KindConflict {
		t.Fatalf("second click-to-call: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if len(m.DialRequests()) != 0 {
		t.Fatal("the number was dialled before the agent answered")
	}
	if err := a.Answer(ci.ID); err != nil {
		t.Fatal(err)
	}
	if d := m.DialRequests(); len(d) != 1 || d[0].To != "+15551234567" || d[0].From != "+15550001000" {
		t.Fatalf("dials %+v", d)
	}
	nextCall(t, a, cti.CallDialing)
	out.Ring()
	nextCall(t, a, cti.CallEarly)
	out.Answer()
	nextCall(t, a, cti.CallActive)
	out.RemoteHangup()
	end := nextCall(t, a, cti.CallEnded)
	if end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("end reason %s", end.EndReason)
	}
	evs := waitEvents(t, ev, ci.ID, cti.EventCallEnded)
	if got := types(evs); !slices.Equal(got, []cti.EventType{cti.EventCallRinging, cti.EventCallAnswered, cti.EventCallEnded}) {
		t.Fatalf("events %v", got)
	}
	rec := evs[2].Data.(*cti.CallRecord)
	if rec.Origin != cti.OriginClickToCall || len(rec.Legs) != 1 || rec.Legs[0].Direction != cti.DirectionOutbound ||
		len(rec.Agents) != 1 || rec.Agents[0].AnsweredAt.IsZero() || !rec.Agents[0].AnsweredAt.Before(rec.Legs[0].StartedAt.Add(time.Millisecond)) {
		t.Fatalf("record %+v", rec)
	}
}

// A transferred call's record: one SIP leg, two agent parts (the first
// ended "transferred"), hold time, and the durations adding up.
func TestCallRecordOfTransferredCall(t *testing.T) {
	svc, _, ev := crmService(t, nil, cti.Config{WrapUp: 10 * time.Second,
		Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	b, _ := svc.Connect(t.Context(), principal("1002"), false)
	leg := ctitest.NewInboundLeg("sip-1")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "carrier", From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	time.Sleep(20 * time.Millisecond)
	if err := a.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Hold(ring.ID, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := a.Hold(ring.ID, false); err != nil {
		t.Fatal(err)
	}
	if err := a.Transfer(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	nextCall(t, b, cti.CallRinging)
	if err := b.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	nextCall(t, b, cti.CallActive)
	time.Sleep(30 * time.Millisecond)
	leg.RemoteHangup()
	nextCall(t, b, cti.CallEnded)

	evs := waitEvents(t, ev, ring.ID, cti.EventCallEnded)
	want := []cti.EventType{cti.EventCallRinging, cti.EventCallAnswered, cti.EventCallRinging, cti.EventCallAnswered, cti.EventCallEnded}
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	rec, err := svc.GetCall(t.Context(), apiUser, ring.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Legs) != 1 || rec.Legs[0].SIPCallID != "sip-1" || rec.Legs[0].Trunk != "fake" || rec.Legs[0].EndReason != cti.EndRemoteHangup ||
		rec.Legs[0].Number != caller || rec.CustomerNumber != "+"+caller {
		t.Fatalf("legs %+v", rec.Legs)
	}
	if len(rec.Agents) != 2 {
		t.Fatalf("agents %+v", rec.Agents)
	}
	first, second := rec.Agents[0], rec.Agents[1]
	if first.Extension != "1001" || first.EndReason != cti.EndTransferred || first.AnsweredAt.IsZero() || first.UserID != "u1001" ||
		second.Extension != "1002" || second.EndReason != cti.EndRemoteHangup || second.AnsweredAt.IsZero() ||
		first.WrapUpSeconds != 10 || second.WrapUpSeconds != 10 {
		t.Fatalf("agents %+v", rec.Agents)
	}
	d := rec.Durations
	if d.Ring < 0.02 || d.Hold < 0.05 || d.WrapUp != 20 || d.Talk <= 0 ||
		d.Total < d.Ring+d.Talk+d.Hold-0.01 || d.Total > d.Ring+d.Talk+d.Hold+0.01 {
		t.Fatalf("durations %+v", d)
	}
	if rec.Queue != nil || rec.Recording != nil {
		t.Fatal("queue and recording are reserved and must be null")
	}
}

func TestUpdateCallDuringAndAfter(t *testing.T) {
	svc, _, ev := crmService(t, nil, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	leg := ctitest.NewInboundLeg("sip-1")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	_ = a.Answer(ring.ID)
	notes := "wants an upgrade"
	if _, err := svc.UpdateCall(t.Context(), principal("1001"), ring.ID, cti.CallUpdate{Notes: &notes}); err != nil {
		t.Fatalf("agent on the call updating it: %v", err)
	}
	if _, err := svc.UpdateCall(t.Context(), principal("1002"), ring.ID, cti.CallUpdate{Notes: &notes}); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("agent not on the call: %v", err)
	}
	leg.RemoteHangup()
	evs := waitEvents(t, ev, ring.ID, cti.EventCallEnded)
	if rec := evs[len(evs)-1].Data.(*cti.CallRecord); rec.Notes != notes {
		t.Fatalf("notes set during the call missing from the record: %+v", rec)
	}
	disp, tags := "sale", []string{"vip", " upsell ", "vip"}
	rec, err := svc.UpdateCall(t.Context(), apiUser, ring.ID, cti.CallUpdate{Disposition: &disp, Tags: &tags})
	if err != nil || rec.Disposition != "sale" || rec.Notes != notes || !slices.Equal(rec.Tags, []string{"vip", "upsell"}) {
		t.Fatalf("update after the call: %+v, %v", rec, err)
	}
	want := []cti.EventType{cti.EventCallRinging, cti.EventCallAnswered, cti.EventCallUpdated, cti.EventCallEnded, cti.EventCallUpdated}
	deadline := time.Now().Add(5 * time.Second)
	for len(waitEvents(t, ev, ring.ID, cti.EventCallUpdated)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := types(waitEvents(t, ev, ring.ID, cti.EventCallUpdated)); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if rec, _ := svc.GetCall(t.Context(), apiUser, ring.ID); rec.Disposition != "sale" {
		t.Fatalf("stored %+v", rec)
	}
	other := cti.Principal{TenantID: "other", UserID: "x", Role: cti.RoleAPI}
	if _, err := svc.UpdateCall(t.Context(), other, ring.ID, cti.CallUpdate{Disposition: &disp}); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("another tenant: %v", err)
	}
	if _, err := svc.UpdateCall(t.Context(), apiUser, ring.ID, cti.CallUpdate{}); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("empty update: %v", err)
	}
}

func TestAgentStatusEvents(t *testing.T) {
	svc, _, ev := crmService(t, nil, cti.Config{AwayReasons: []string{"lunch"}})
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	time.Sleep(20 * time.Millisecond)
	if err := a.SetStatus(cti.StatusAway, "lunch"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetStatus(cti.StatusAway, "lunch"); err != nil { // no change, no event
		t.Fatal(err)
	}
	a.Close()
	deadline := time.After(5 * time.Second)
	var got []*cti.AgentStatusChange
	for len(got) < 3 {
		changed := ev.Changed()
		got = nil
		for _, e := range ev.All() {
			if e.Type == cti.EventAgentStatus {
				got = append(got, e.Data.(*cti.AgentStatusChange))
			}
		}
		if len(got) >= 3 {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("status events %+v", got)
		}
	}
	want := [][2]cti.AgentStatus{{cti.StatusOffline, cti.StatusAvailable}, {cti.StatusAvailable, cti.StatusAway}, {cti.StatusAway, cti.StatusOffline}}
	for i, w := range want {
		if got[i].PreviousStatus != w[0] || got[i].Status != w[1] || got[i].Extension != "1001" {
			t.Fatalf("event %d: %+v, want %v", i, got[i], w)
		}
	}
	if got[1].PreviousSeconds < 0.02 || got[1].Reason != "lunch" || got[2].PreviousReason != "lunch" {
		t.Fatalf("time in status / reasons: %+v %+v", got[1], got[2])
	}
	if len(got) != 3 {
		t.Fatalf("%d status events, want 3", len(got))
	}
}

// A sink that fails is retried and logged; calls carry on regardless.
func TestFailingSinkDoesNotHoldCalls(t *testing.T) {
	svc, _, ev := crmService(t, nil, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	ev.Err = errors.New("disk full")
	a, _ := svc.Connect(t.Context(), principal("1001"), false)
	leg := ctitest.NewInboundLeg("sip-1")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{From: caller, To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	ring := nextCall(t, a, cti.CallRinging)
	if err := a.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	nextCall(t, a, cti.CallEnded)
	if rec, err := svc.GetCall(t.Context(), apiUser, ring.ID); err != nil || rec.EndReason != cti.EndLocalHangup {
		t.Fatalf("record despite the failing sink: %+v, %v", rec, err)
	}
}
