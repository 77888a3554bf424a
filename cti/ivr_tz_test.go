package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// A condition's office hours are read in the tenant's time zone: at
// Monday 15:30 UTC the office is open in Budapest (16:30) and closed in
// Tokyo (Tuesday 00:30). The clock is the service's injectable one.
func TestIVRConditionInTheTenantsTimeZone(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.UTC) // a Monday
	events := &ctitest.Events{}
	svc, _ := newService(t, cti.Config{
		Now:     func() time.Time { return now },
		Numbers: map[string]cti.NumberRoute{"15550009000": {TenantID: "demo", Route: cti.RouteIVR, Flow: "hours", Extension: "1001"}},
	})
	svc.SetEventSink(events)
	ctx := context.Background()
	admin := cti.Principal{TenantID: "demo", UserID: "adm", Username: "admin", Role: cti.RoleAdmin}
	flow := ivr.Flow{ID: "hours", Name: "Office hours", Start: "is-open", Nodes: []ivr.Node{
		{ID: "is-open", Kind: ivr.Condition, If: &ivr.Cond{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", Until: "17:00"},
			Then: "open", Else: "closed"},
		{ID: "open", Kind: ivr.Webhook, Event: "office.open", Next: "bye"},
		{ID: "closed", Kind: ivr.Webhook, Event: "office.closed", Next: "bye"},
		{ID: "bye", Kind: ivr.Hangup},
	}}
	if _, err := svc.SaveIVRFlow(ctx, admin, flow); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateSettings(ctx, admin, func(s *cti.TenantSettings) { s.TimeZone = "Mars/Olympus_Mons" }); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("an unknown time zone was accepted: %v", err)
	}
	for i, tc := range []struct{ zone, want string }{
		{"", "office.open"}, // UTC: 15:30
		{"Europe/Budapest", "office.open"},
		{"Asia/Tokyo", "office.closed"},
		{"America/Los_Angeles", "office.closed"}, // 07:30
	} {
		if _, err := svc.UpdateSettings(ctx, admin, func(s *cti.TenantSettings) { s.TimeZone = tc.zone }); err != nil {
			t.Fatal(err)
		}
		leg := ctitest.NewInboundLeg("leg-" + tc.zone)
		if err := svc.InboundCall(ctx, cti.InboundCall{Trunk: "fake", From: caller, To: "15550009000", Leg: leg}); err != nil {
			t.Fatal(err)
		}
		got := waitIVREvent(t, events, i)
		if got.Event != tc.want {
			t.Errorf("zone %q: the flow went to %s, want %s", tc.zone, got.Event, tc.want)
		}
	}
}

// waitIVREvent waits for the n-th (from 0) ivr.event in the sink.
func waitIVREvent(t *testing.T, events *ctitest.Events, n int) cti.IVREvent {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		changed := events.Changed()
		var seen []cti.IVREvent
		for _, e := range events.All() {
			if e.Type == cti.EventIVR {
				seen = append(seen, e.Data.(cti.IVREvent))
			}
		}
		if len(seen) > n {
			return seen[n]
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("ivr.event %d never came; have %d", n, len(seen))
		}
	}
}
