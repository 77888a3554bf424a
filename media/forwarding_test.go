package media_test

import (
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

var fwdAdmin = cti.SystemPrincipal(tenant, "test")

// forwardedNumberTone is what a forwarded-to number's phone plays.
const forwardedNumberTone = 1500.0

func setForwarding(t *testing.T, h *harness, f cti.Forwarding) {
	t.Helper()
	if _, err := h.svc.SetForwarding(h.ctx, fwdAdmin, f); err != nil {
		t.Fatal(err)
	}
}

// answerForwardedNumber takes the call the carrier receives for a
// forwarded number, answers it with its own tone, and checks the number
// it was sent to.
func answerForwardedNumber(t *testing.T, h *harness, want string) *farEnd {
	t.Helper()
	in := waitIncoming(t, h.carrier)
	if in.To != want {
		t.Fatalf("the carrier was asked for %q, want %q", in.To, want)
	}
	far := newFarEnd(in, forwardedNumberTone)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	return far
}

// Each forwarding rule with real SIP callers and agents who hear tones:
// to an extension (unconditional, no answer) and to a number (busy,
// offline); the caller and whoever takes the call hear each other.
func TestForwardingWithRealCalls(t *testing.T) {
	t.Run("unconditional to an extension", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		h.signIn("1001", agentTone)
		b := h.signIn("1002", colleagueTone)
		setForwarding(t, h, cti.Forwarding{Extension: "1001", Unconditional: &cti.Destination{Kind: cti.DestExtension, Target: "1002"}})
		_, far := h.answerInbound(b, didAgent1)
		far.hears(t, h.ctx, colleagueTone)
		b.hears(carrierTone)
	})
	t.Run("no answer to an extension", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		a := h.signIn("1001", agentTone)
		b := h.signIn("1002", colleagueTone)
		setForwarding(t, h, cti.Forwarding{Extension: "1001", NoAnswer: &cti.Destination{Kind: cti.DestExtension, Target: "1002"}, NoAnswerSeconds: 5})
		calls, errs := h.dialIn(didAgent1)
		a.waitCall(cti.CallRinging)
		ring := b.waitCall(cti.CallRinging)
		if err := b.sess.Answer(ring.ID); err != nil {
			t.Fatal(err)
		}
		far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
		far.hears(t, h.ctx, colleagueTone)
		b.hears(carrierTone)
	})
	t.Run("busy to a number", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		a := h.signIn("1001", agentTone)
		setForwarding(t, h, cti.Forwarding{Extension: "1001", Busy: &cti.Destination{Kind: cti.DestNumber, Target: "+15550107777"}})
		h.answerInbound(a, didAgent1)
		a.waitCall(cti.CallActive)
		calls, errs := h.dialIn(didAgent1)
		number := answerForwardedNumber(t, h, "+15550107777")
		far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
		far.hears(t, h.ctx, forwardedNumberTone)
		number.hears(t, h.ctx, carrierTone)
	})
	t.Run("offline to a number", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		setForwarding(t, h, cti.Forwarding{Extension: "1001", Offline: &cti.Destination{Kind: cti.DestNumber, Target: "+15550107777"}})
		calls, errs := h.dialIn(didAgent1)
		number := answerForwardedNumber(t, h, "+15550107777")
		far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
		far.hears(t, h.ctx, forwardedNumberTone)
		number.hears(t, h.ctx, carrierTone)
	})
	t.Run("a loop is refused", func(t *testing.T) {
		h := newHarness(t, harnessOpts{})
		setForwarding(t, h, cti.Forwarding{Extension: "1002", Unconditional: &cti.Destination{Kind: cti.DestExtension, Target: "1001"}})
		_, err := h.svc.SetForwarding(h.ctx, fwdAdmin, cti.Forwarding{Extension: "1001", Busy: &cti.Destination{Kind: cti.DestExtension, Target: "1002"}})
		if cti.ErrorKind(err) != cti.KindInvalid {
			t.Fatalf("a loop: %v, want invalid", err)
		}
	})
}
