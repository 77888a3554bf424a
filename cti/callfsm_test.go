package cti_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
)

// fsmCall is a call brought into one state, with its parts.
type fsmCall struct {
	svc   *cti.Service
	agent *cti.AgentSession
	id    string
	in    *ctitest.InboundLeg  // the caller of an inbound call
	out   *ctitest.OutboundLeg // the dialled leg of an outbound call
	ev    *ctitest.Events
	// dialled hands over every leg the call dials (from its goroutine).
	dialled chan *ctitest.OutboundLeg
}

func fsmService(t *testing.T) (*fsmCall, *ctitest.Media) {
	t.Helper()
	svc, m := newService(t, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}})
	f := &fsmCall{svc: svc, ev: &ctitest.Events{}, dialled: make(chan *ctitest.OutboundLeg, 4)}
	svc.SetEventSink(f.ev)
	ss, err := svc.Connect(t.Context(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	f.agent = ss
	m.DialFunc = func(_ context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
		leg := ctitest.NewOutboundLeg(fmt.Sprintf("out-%d", len(m.DialRequests())), req.To)
		f.dialled <- leg
		return leg, nil
	}
	return f, m
}

// state waits until the agent sees the call in state st.
func (f *fsmCall) state(t *testing.T, st cti.CallState) cti.CallInfo {
	t.Helper()
	return nextCall(t, f.agent, st)
}

func ringing(t *testing.T) *fsmCall {
	f, _ := fsmService(t)
	f.in = ctitest.NewInboundLeg("in-1")
	if err := f.svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550001001", Leg: f.in}); err != nil {
		t.Fatal(err)
	}
	f.id = f.state(t, cti.CallRinging).ID
	return f
}

func dialing(t *testing.T) *fsmCall {
	f, _ := fsmService(t)
	ci, err := f.agent.Dial(t.Context(), "+15557654321")
	if err != nil {
		t.Fatal(err)
	}
	f.id = ci.ID
	f.out = <-f.dialled
	f.state(t, cti.CallDialing)
	return f
}

func early(t *testing.T) *fsmCall {
	f := dialing(t)
	f.out.Ring()
	f.state(t, cti.CallEarly)
	return f
}

func active(t *testing.T) *fsmCall {
	f := ringing(t)
	if err := f.agent.Answer(f.id); err != nil {
		t.Fatal(err)
	}
	f.state(t, cti.CallActive)
	return f
}

func held(t *testing.T) *fsmCall {
	f := active(t)
	if err := f.agent.Hold(f.id, true); err != nil {
		t.Fatal(err)
	}
	f.state(t, cti.CallHeld)
	return f
}

func ended(t *testing.T) *fsmCall {
	f := active(t)
	f.in.RemoteHangup()
	f.state(t, cti.CallEnded)
	return f
}

// Every agent command in every state of a call: it either does what it
// says (and the call moves where it should), or is refused with a precise
// error and changes nothing.
func TestEveryStateAndCommand(t *testing.T) {
	commands := []struct {
		name string
		do   func(f *fsmCall) error
	}{
		{"answer", func(f *fsmCall) error { return f.agent.Answer(f.id) }},
		{"reject", func(f *fsmCall) error { return f.agent.Reject(f.id) }},
		{"hangup", func(f *fsmCall) error { return f.agent.Hangup(f.id) }},
		{"hold", func(f *fsmCall) error { return f.agent.Hold(f.id, true) }},
		{"unhold", func(f *fsmCall) error { return f.agent.Hold(f.id, false) }},
		{"dtmf", func(f *fsmCall) error { return f.agent.SendDTMF(f.id, "12") }},
		{"transfer", func(f *fsmCall) error { return f.agent.Transfer(f.id, "+15558880000") }},
		{"consult", func(f *fsmCall) error { return f.agent.Consult(f.id, "+15558880000") }},
		{"swap", func(f *fsmCall) error { return f.agent.ConsultSwap(f.id) }},
		{"complete", func(f *fsmCall) error { return f.agent.ConsultComplete(f.id) }},
		{"cancel", func(f *fsmCall) error { return f.agent.ConsultCancel(f.id) }},
		{"conference", func(f *fsmCall) error { return f.agent.Conference(f.id) }},
	}
	// Without a consultation its commands are refused in every live state
	// (consultations themselves are tested with real media in package
	// media); consulting needs hold music, which this fake cannot play.
	noConsult := map[string]bool{"swap": true, "complete": true, "cancel": true, "conference": true}
	// What each pair leads to: a state the agent then sees ("ended:why"
	// for an ended call), or the error kind of a refusal.
	type want struct {
		state  string
		reason cti.EndReason
		kind   cti.Kind
	}
	ok := func(st string) want { return want{state: st} }
	endsAs := func(why cti.EndReason) want { return want{state: "ended", reason: why} }
	refused := func(k cti.Kind) want { return want{kind: k} }
	conflict := refused(cti.KindConflict)
	states := []struct {
		name  string
		enter func(*testing.T) *fsmCall
		want  map[string]want
	}{
		{"ringing", ringing, map[string]want{
			"answer": ok("active"), "reject": endsAs(cti.EndRejected), "hangup": endsAs(cti.EndRejected),
			"hold": conflict, "unhold": conflict, "dtmf": conflict, "transfer": conflict,
		}},
		{"dialing", dialing, map[string]want{
			"answer": conflict, "reject": conflict, "hangup": endsAs(cti.EndLocalHangup),
			"hold": conflict, "unhold": conflict, "dtmf": ok("dialing"), "transfer": conflict,
		}},
		{"early", early, map[string]want{
			"answer": conflict, "reject": conflict, "hangup": endsAs(cti.EndLocalHangup),
			"hold": conflict, "unhold": conflict, "dtmf": ok("early"), "transfer": conflict,
		}},
		{"active", active, map[string]want{
			"answer": conflict, "reject": conflict, "hangup": endsAs(cti.EndLocalHangup),
			"hold": ok("held"), "unhold": conflict, "dtmf": ok("active"), "transfer": endsAs(cti.EndTransferred),
		}},
		{"held", held, map[string]want{
			"answer": conflict, "reject": conflict, "hangup": endsAs(cti.EndLocalHangup),
			"hold": conflict, "unhold": ok("active"), "dtmf": ok("held"), "transfer": endsAs(cti.EndTransferred),
		}},
		{"ended", ended, map[string]want{
			"answer": refused(cti.KindNotFound), "reject": refused(cti.KindNotFound), "hangup": refused(cti.KindNotFound),
			"hold": refused(cti.KindNotFound), "unhold": refused(cti.KindNotFound), "dtmf": refused(cti.KindNotFound),
			"transfer": refused(cti.KindNotFound),
		}},
	}
	for _, st := range states {
		for _, cmd := range commands {
			w, listed := st.want[cmd.name]
			switch {
			case listed:
			case st.name == "ended":
				w = refused(cti.KindNotFound)
			case noConsult[cmd.name] || st.name != "active" && st.name != "held":
				w = conflict
			default:
				w = refused(cti.KindUnavailable)
			}
			t.Run(st.name+"/"+cmd.name, func(t *testing.T) {
				f := st.enter(t)
				err := cmd.do(f)
				if w.state == "" {
					if cti.ErrorKind(err) != w.kind {
						t.Fatalf("%s while %s: %v, want %s", cmd.name, st.name, err, w.kind)
					}
					if w.kind == cti.KindConflict && (cti.ErrorMessage(err) == "" || f.svc.ActiveCalls() != 1) {
						t.Fatalf("refusal %q left %d calls", cti.ErrorMessage(err), f.svc.ActiveCalls())
					}
					return
				}
				if err != nil {
					t.Fatalf("%s while %s: %v", cmd.name, st.name, err)
				}
				if w.state == "ended" {
					got := f.state(t, cti.CallEnded)
					if got.EndReason != w.reason {
						t.Fatalf("ended as %s, want %s", got.EndReason, w.reason)
					}
					return
				}
				if w.state != st.name {
					f.state(t, stateNamed(t, w.state))
				}
				if f.svc.ActiveCalls() != 1 {
					t.Fatalf("%d calls after %s", f.svc.ActiveCalls(), cmd.name)
				}
			})
		}
	}
}

func stateNamed(t *testing.T, name string) cti.CallState {
	t.Helper()
	for st := cti.CallRinging; st <= cti.CallEnded; st++ {
		if st.String() == name {
			return st
		}
	}
	t.Fatalf("no state %q", name)
	return 0
}

// The SIP legs are told how the call ended, once: a refused caller gets
// the status for why, an answered one a hang-up.
func TestLegsAreClosedOnceWithTheReason(t *testing.T) {
	f := ringing(t)
	if err := f.agent.Reject(f.id); err != nil {
		t.Fatal(err)
	}
	f.state(t, cti.CallEnded)
	if _, answered, status := f.in.State(); answered || status != 486 {
		t.Fatalf("rejected caller: answered %v, status %d; want 486", answered, status)
	}

	f = dialing(t)
	if err := f.agent.Hangup(f.id); err != nil {
		t.Fatal(err)
	}
	f.state(t, cti.CallEnded)
	select {
	case <-f.out.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the dialled leg was not cancelled")
	}
	if f.out.EndReason() != cti.EndLocalHangup {
		t.Fatalf("dialled leg ended as %s", f.out.EndReason())
	}
}

// A transfer to a number rings it, and when it answers the caller and the
// number talk without any agent; either hanging up ends the call.
func TestTransferToNumberThroughTheStateMachine(t *testing.T) {
	f := active(t)
	if err := f.agent.Transfer(f.id, "+15558880000"); err != nil {
		t.Fatal(err)
	}
	f.state(t, cti.CallEnded) // for the agent, who is released
	var far *ctitest.OutboundLeg
	select {
	case far = <-f.dialled:
	case <-time.After(5 * time.Second):
		t.Fatal("the transfer dialled nothing")
	}
	far.Answer()
	far.RemoteHangup()
	select {
	case <-f.in.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the caller was not hung up when the transfer target left")
	}
	waitEvents(t, f.ev, f.id, cti.EventCallEnded)
	rec, err := f.svc.GetCall(t.Context(), cti.Principal{TenantID: "demo", Role: cti.RoleAdmin}, f.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Legs) != 2 || rec.Agents[0].EndReason != cti.EndTransferred {
		t.Fatalf("record of the transferred call: %+v", rec)
	}
}

// panickyMedia fails the way a bug would: Connect panics.
type panickyMedia struct{ ctitest.Media }

func (*panickyMedia) Connect(a, b cti.Endpoint) (cti.Connection, error) {
	panic("bug in the voice path")
}

// A panic while handling a call ends that call — with an error for the
// agent, the caller's leg closed and a record — and nothing else: the
// service keeps taking calls.
func TestPanicEndsOnlyItsCall(t *testing.T) {
	svc := newServiceWith(t, cti.Config{Numbers: map[string]cti.NumberRoute{"15550001001": {TenantID: "demo", Extension: "1001"}}}, &panickyMedia{})
	ev := &ctitest.Events{}
	svc.SetEventSink(ev)
	ss, err := svc.Connect(t.Context(), principal("1001"), false)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		leg := ctitest.NewInboundLeg(fmt.Sprintf("in-%d", i))
		if err := svc.InboundCall(t.Context(), cti.InboundCall{Trunk: "t", From: "15557654321", To: "15550001001", Leg: leg}); err != nil {
			t.Fatalf("call %d after a panic: %v", i, err)
		}
		ring := nextCall(t, ss, cti.CallRinging)
		if err := ss.Answer(ring.ID); cti.ErrorKind(err) != cti.KindInternal {
			t.Fatalf("answer that panicked: %v, want an internal error", err)
		}
		if got := nextCall(t, ss, cti.CallEnded); got.EndReason != cti.EndFailed {
			t.Fatalf("ended as %s", got.EndReason)
		}
		select {
		case <-leg.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the caller's leg was left open")
		}
		waitEvents(t, ev, ring.ID, cti.EventCallEnded)
	}
}
