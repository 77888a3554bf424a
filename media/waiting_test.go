package media_test

import (
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/mediatest"
)

// secondCallerTone is what the second caller plays.
const secondCallerTone = 1500.0

// Call waiting: a second caller rings for an agent who is talking; the
// agent takes it (the first caller is held and stops hearing the agent),
// hangs up on it, and resumes the first caller, who hears the agent again.
func TestCallWaiting(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if _, err := h.svc.UpdateSettings(h.ctx, cti.SystemPrincipal(tenant, "test"), func(s *cti.TenantSettings) { s.CallWaiting = true }); err != nil {
		t.Fatal(err)
	}
	ag := h.signIn("1001", agentTone)
	first, farA := h.answerInbound(ag, didAgent1)
	ag.waitCall(cti.CallActive)
	farA.hears(t, h.ctx, agentTone)

	calls, errs := h.dialIn(didAgent1)
	second := ag.waitCall(cti.CallRinging)
	if second.ID == first.ID {
		t.Fatal("no second call rang")
	}
	if err := ag.sess.Answer(second.ID); err != nil {
		t.Fatal(err)
	}
	farB := newFarEnd(waitDialed(t, calls, errs), secondCallerTone)
	farB.hears(t, h.ctx, agentTone)
	ag.heard.Reset()
	ag.hears(secondCallerTone)
	farA.heard.Reset()
	mediatest.NotHeard(t, h.ctx, "agent while the first caller is held", ag.heard, secondCallerTone, carrierTone)
	if farA.heard.Detected(agentTone) {
		t.Error("the held first caller still hears the agent")
	}
	calls2 := ag.sess.Calls()
	if len(calls2) != 2 || calls2[0].ID != second.ID || calls2[1].ID != first.ID || calls2[1].State != cti.CallHeld {
		t.Errorf("agent's calls %+v, want the second talking and the first held", calls2)
	}

	// A reload while talking on the second call with the first held: the
	// second caller hears the new page, the held one still nobody.
	const reloadedTone = 880.0
	ag = h.signInWith("1001", reloadedTone, true)
	farB.heard.Reset()
	farB.hears(t, h.ctx, reloadedTone)
	ag.hears(secondCallerTone)
	farA.heard.Reset()
	mediatest.NotHeard(t, h.ctx, "the second caller after the reload", farB.heard, reloadedTone, carrierTone)
	if farA.heard.Detected(reloadedTone) {
		t.Error("the held first caller hears the reloaded agent")
	}

	if err := ag.sess.Hangup(second.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, farB.call)
	if err := ag.sess.Hold(first.ID, false); err != nil {
		t.Fatal(err)
	}
	farA.heard.Reset()
	farA.hears(t, h.ctx, reloadedTone)
	ag.heard.Reset()
	ag.hears(carrierTone)
}

// Without the setting a talking agent is busy: the second caller gets 486.
func TestBusyWithoutCallWaiting(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ag := h.signIn("1001", agentTone)
	h.answerInbound(ag, didAgent1)
	ag.waitCall(cti.CallActive)
	_, errs := h.dialIn(didAgent1)
	select {
	case err := <-errs:
		if err == nil {
			t.Fatal("the second call was answered")
		}
	case <-h.ctx.Done():
		t.Fatal("the second call was never refused")
	}
}
