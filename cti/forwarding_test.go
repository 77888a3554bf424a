package cti_test

import (
	"context"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

var fwdAdmin = cti.Principal{TenantID: "demo", Role: cti.RoleAdmin, UserID: "admin"}

func ext(e string) *cti.Destination { return &cti.Destination{Kind: cti.DestExtension, Target: e} }

// fwdService has agents 1001 and 1002, a number for 1001, and a trunk
// whose dials are handed to the test.
func fwdService(t *testing.T) (*cti.Service, chan *ctitest.OutboundLeg) {
	t.Helper()
	svc, m := newService(t, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}},
		RingTimeout: 10 * time.Second})
	dialled := make(chan *ctitest.OutboundLeg, 4)
	m.DialFunc = func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
		leg := ctitest.NewOutboundLeg("out", req.To)
		dialled <- leg
		return leg, nil
	}
	return svc, dialled
}

func callIn(t *testing.T, svc *cti.Service) *ctitest.InboundLeg {
	t.Helper()
	leg := ctitest.NewInboundLeg("in")
	if err := svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550001001", Leg: leg}); err != nil {
		t.Fatal(err)
	}
	return leg
}

// Each rule sends the call where it says: unconditional and busy to
// another extension, offline to a number (the caller is answered when the
// number answers), no answer after its seconds to another extension.
func TestForwardingRules(t *testing.T) {
	t.Run("unconditional", func(t *testing.T) {
		svc, _ := fwdService(t)
		a, _ := svc.Connect(t.Context(), principal("1001"), false)
		b, _ := svc.Connect(t.Context(), principal("1002"), false)
		if _, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1001", Unconditional: ext("1002")}); err != nil {
			t.Fatal(err)
		}
		callIn(t, svc)
		ring := nextCall(t, b, cti.CallRinging)
		if ring.Route != "static:1001 forward-always:1002" {
			t.Fatalf("route %q", ring.Route)
		}
		select {
		case ev := <-a.Events():
			if ev.Kind == cti.EventCall {
				t.Fatalf("the forwarding agent was rung: %+v", ev.Call)
			}
		default:
		}
	})
	t.Run("busy", func(t *testing.T) {
		svc, _ := fwdService(t)
		a, _ := svc.Connect(t.Context(), principal("1001"), false)
		b, _ := svc.Connect(t.Context(), principal("1002"), false)
		if _, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1001", Busy: ext("1002")}); err != nil {
			t.Fatal(err)
		}
		first := nextCallAfter(t, a, func() { callIn(t, svc) })
		if err := a.Answer(first.ID); err != nil {
			t.Fatal(err)
		}
		callIn(t, svc) // 1001 is on the first call
		if ring := nextCall(t, b, cti.CallRinging); ring.Route != "static:1001 forward-busy:1002" {
			t.Fatalf("route %q", ring.Route)
		}
	})
	t.Run("offline to a number", func(t *testing.T) {
		svc, dialled := fwdService(t)
		if _, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1001",
			Offline: &cti.Destination{Kind: cti.DestNumber, Target: "+1 555 888 0000"}}); err != nil {
			t.Fatal(err)
		}
		caller := callIn(t, svc)
		out := <-dialled
		if out.To != "+15558880000" {
			t.Fatalf("dialled %s", out.To)
		}
		out.Answer()
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, answered, _ := caller.State(); answered {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the caller was not answered when the number answered")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		svc, _ := fwdService(t)
		a, _ := svc.Connect(t.Context(), principal("1001"), false)
		b, _ := svc.Connect(t.Context(), principal("1002"), false)
		if _, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1001", NoAnswer: ext("1002"), NoAnswerSeconds: 5}); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		callIn(t, svc)
		nextCall(t, a, cti.CallRinging)
		ended := nextCallWithin(t, a, 8*time.Second, cti.CallEnded)
		if ended.EndReason != cti.EndNoAnswer || time.Since(began) < 5*time.Second {
			t.Fatalf("first agent's part ended %s after %v", ended.EndReason, time.Since(began))
		}
		ring := nextCall(t, b, cti.CallRinging)
		if err := b.Answer(ring.ID); err != nil {
			t.Fatal(err)
		}
		nextCall(t, b, cti.CallActive)
	})
}

// Rules that would send a call round in a circle are refused, naming it;
// so are targets that do not exist and numbers outside the dialing rules.
func TestForwardingRefusesLoops(t *testing.T) {
	svc, _ := fwdService(t)
	if _, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1001", Busy: ext("1002")}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.SetForwarding(t.Context(), fwdAdmin, cti.Forwarding{Extension: "1002", NoAnswer: ext("1001")})
	if cti.ErrorKind(err) != cti.KindInvalid || cti.ErrorMessage(err) == "" {
		t.Fatalf("loop accepted: %v", err)
	}
	if f := cti.ErrorFields(err); len(f) != 1 || f[0].Field != "forwarding" {
		t.Fatalf("loop error fields %+v", f)
	}
	for _, bad := range []cti.Forwarding{
		{Extension: "1001", Unconditional: ext("1001")},
		{Extension: "1001", Unconditional: ext("1999")},
		{Extension: "1001", Offline: &cti.Destination{Kind: cti.DestNumber, Target: "+44 20 7946 0000"}},
	} {
		if _, err := svc.SetForwarding(t.Context(), fwdAdmin, bad); cti.ErrorKind(err) != cti.KindInvalid {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
	// An agent manages their own forwarding, not a colleague's.
	if _, err := svc.SetForwarding(t.Context(), principal("1002"), cti.Forwarding{Extension: "1001", Busy: ext("1002")}); cti.ErrorKind(err) != cti.KindForbidden {
		t.Fatalf("an agent set a colleague's forwarding: %v", err)
	}
	if err := svc.DeleteForwarding(t.Context(), principal("1001"), "1001"); err != nil {
		t.Fatal(err)
	}
	if f, err := svc.GetForwarding(t.Context(), fwdAdmin, "1001"); err != nil || f.Busy != nil {
		t.Fatalf("after delete: %+v, %v", f, err)
	}
}

// nextCallAfter runs f and returns the next ringing call the agent sees.
func nextCallAfter(t *testing.T, ss *cti.AgentSession, f func()) cti.CallInfo {
	t.Helper()
	f()
	return nextCall(t, ss, cti.CallRinging)
}

// nextCallWithin is nextCall with a longer wait.
func nextCallWithin(t *testing.T, ss *cti.AgentSession, d time.Duration, st cti.CallState) cti.CallInfo {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-ss.Events():
			if ev.Kind == cti.EventCall && ev.Call.State == st {
				return *ev.Call
			}
		case <-timeout:
			t.Fatalf("no call event in %s within %v", st, d)
		}
	}
}
