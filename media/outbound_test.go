package media_test

import (
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/trunk"
)

func waitIncoming(t *testing.T, p *trunk.Phone) *trunk.PhoneCall {
	t.Helper()
	select {
	case c := <-p.Incoming():
		return c
	case <-time.After(15 * time.Second):
		t.Fatal("no call reached the carrier")
	}
	return nil
}

// An agent dials out: the carrier challenges with digest authentication,
// ringbridge answers the challenge, and both sides hear each other.
func TestOutboundCallWithDigestAuth(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	ci, err := a.sess.Dial(h.ctx, "+1 (555) 999-0000")
	if err != nil {
		t.Fatal(err)
	}
	if ci.State != cti.CallDialing || ci.Remote != "+15559990000" {
		t.Fatalf("dial returned %s to %q, want dialing to +15559990000", ci.State, ci.Remote)
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

	// Digits the agent types go to the far end as RFC 4733.
	if err := a.sess.SendDTMF(ci.ID, "42"); err != nil {
		t.Fatal(err)
	}
	if got := collectDigits(t, far.digits, 2); got != "42" {
		t.Fatalf("carrier received %q, want 42", got)
	}
	// The carrier holds us: the call stays up and resumes.
	if err := in.Hold(h.ctx, true); err != nil {
		t.Fatal(err)
	}
	if err := in.Hold(h.ctx, false); err != nil {
		t.Fatal(err)
	}
	a.heard.Reset()
	a.hears(carrierTone)

	if err := a.sess.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in)
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndLocalHangup {
		t.Fatalf("end reason %q, want local_hangup", end.EndReason)
	}
}

// The far end is busy, or hangs up first.
func TestOutboundBusyAndRemoteHangup(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	if _, err := a.sess.Dial(h.ctx, "15559990001"); err != nil {
		t.Fatal(err)
	}
	_ = waitIncoming(t, h.carrier).Reject(486, "Busy Here")
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndBusy {
		t.Fatalf("end reason %q, want busy", end.EndReason)
	}

	ci, err := a.sess.Dial(h.ctx, "15559990002")
	if err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	if err := in.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndRemoteHangup || end.ID != ci.ID {
		t.Fatalf("end %+v, want remote_hangup of %s", end, ci.ID)
	}
}

// Cancelling while the far end rings sends CANCEL.
func TestOutboundCancelWhileRinging(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	ci, err := a.sess.Dial(h.ctx, "15559990003")
	if err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	if err := a.sess.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in)
	a.waitCall(cti.CallEnded)
}

// Numbers outside the tenant's dialing rules are refused before any SIP.
func TestOutboundDialRules(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	for _, bad := range []string{"", "abc", "12345678901234567890", "1-900-HOT"} {
		if _, err := a.sess.Dial(h.ctx, bad); err == nil {
			t.Errorf("dialling %q succeeded", bad)
		} else if k := cti.ErrorKind(err); k != cti.KindInvalid && k != cti.KindForbidden {
			t.Errorf("dialling %q: %v (%s), want invalid or forbidden", bad, err, k)
		}
	}
}

// Two agents call each other: browser to browser through the server.
func TestAgentToAgentCall(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	b := h.signIn("1002", carrierTone)
	ci, err := a.sess.Dial(h.ctx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	ring := b.waitCall(cti.CallRinging)
	if ring.Remote != "1001" || ring.ID != ci.ID {
		t.Fatalf("callee sees %+v", ring)
	}
	if err := b.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	a.hears(carrierTone)
	b.hears(agentTone)

	if err := a.sess.SendDTMF(ci.ID, "7#"); err != nil {
		t.Fatal(err)
	}
	if got := collectDigits(t, b.digits, 2); got != "7#" {
		t.Fatalf("callee was told %q, want 7#", got)
	}
	if got := collectDigits(t, b.rtpDig, 2); got != "7#" {
		t.Fatalf("callee's audio carried %q, want 7#", got)
	}
	// Calling a busy or offline extension is refused.
	if _, err := h.signIn("1003", 700).sess.Dial(h.ctx, "1001"); cti.ErrorKind(err) != cti.KindBusy {
		t.Fatalf("calling a busy agent: %v, want busy", err)
	}
	if err := b.sess.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("caller sees %q, want remote_hangup", end.EndReason)
	}
	if end := b.waitCall(cti.CallEnded); end.EndReason != cti.EndLocalHangup {
		t.Fatalf("callee sees %q, want local_hangup", end.EndReason)
	}
}

// A trunk that goes silent is hung up after the media timeout.
func TestMediaTimeoutHangsUp(t *testing.T) {
	h := newHarness(t, harnessOpts{mediaTimeout: 2 * time.Second})
	a := h.signIn("1001", agentTone)
	_, far := h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
	far.call.StopAudio()
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndMediaTimeout {
		t.Fatalf("end reason %q, want media_timeout", end.EndReason)
	}
	waitDone(t, far.call)
}

// Trunks that route inbound calls to registered contacts get a REGISTER,
// answered to the carrier's digest challenge, and refreshed.
func TestTrunkRegisters(t *testing.T) {
	h := newHarness(t, harnessOpts{register: true})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if regs := h.carrier.Registrations(); len(regs) >= 2 {
			if regs[0].User != carrierUser || regs[0].Contact == "" {
				t.Fatalf("registration %+v", regs[0])
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("registrations: %+v, want an authenticated REGISTER and a refresh", h.carrier.Registrations())
}

// A carrier's 183 with SDP carries early media (ringback, announcements)
// to the agent before the answer; the agent's microphone reaches the far
// end only once it answers.
func TestOutboundEarlyMedia(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	if _, err := a.sess.Dial(h.ctx, "15559990004"); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	far := newFarEnd(in, carrierTone)
	if err := in.Progress(); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEarly)
	a.hears(carrierTone)
	// The agent's audio has been flowing into the bridge for as long as
	// the agent took to detect the carrier's: none of it left for the far end.
	if n := in.RTPReceived(); n != 0 {
		t.Fatalf("the far end received %d RTP packets during early media", n)
	}
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	far.hears(t, h.ctx, agentTone)
}

// A trunk set to two-way early media (carriers that need our RTP before
// answering) hears the agent during early media already.
func TestOutboundTwoWayEarlyMedia(t *testing.T) {
	h := newHarness(t, harnessOpts{earlyMedia: trunk.EarlyMediaTwoWay})
	a := h.signIn("1001", agentTone)
	if _, err := a.sess.Dial(h.ctx, "15559990004"); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	far := newFarEnd(in, carrierTone)
	if err := in.Progress(); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEarly)
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
}

// Blind transfer to another agent: the caller ends up talking to agent 2,
// agent 1 is released with reason "transferred".
func TestBlindTransferToExtension(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	b := h.signIn("1002", 700)
	ring, far := h.answerInbound(a, didAgent1)
	far.hears(t, h.ctx, agentTone)
	if err := a.sess.Transfer(ring.ID, "1003"); cti.ErrorKind(err) != cti.KindUnavailable {
		t.Fatalf("transfer to an offline extension: %v, want unavailable", err)
	}
	if err := a.sess.Transfer(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndTransferred {
		t.Fatalf("transferring agent sees %q, want transferred", end.EndReason)
	}
	bring := b.waitCall(cti.CallRinging)
	if bring.ID != ring.ID || bring.Remote != callerNum {
		t.Fatalf("transfer target sees %+v", bring)
	}
	if err := b.sess.Answer(bring.ID); err != nil {
		t.Fatal(err)
	}
	far.heard.Reset()
	far.hears(t, h.ctx, 700)
	b.hears(carrierTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	if end := b.waitCall(cti.CallEnded); end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("target sees %q", end.EndReason)
	}
}

// Blind transfer to a number: the caller is bridged to a new outbound
// call, SIP to SIP, and the agent is free.
func TestBlindTransferToNumber(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	ring, caller := h.answerInbound(a, didAgent1)
	if err := a.sess.Transfer(ring.ID, "+15558880000"); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
	in := waitIncoming(t, h.carrier)
	if in.To != "+15558880000" {
		t.Fatalf("transfer dialled %q", in.To)
	}
	target := newFarEnd(in, 700)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	caller.heard.Reset()
	caller.hears(t, h.ctx, 700)
	target.hears(t, h.ctx, carrierTone)
	if err := in.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, caller.call)
	// The agent is free for the next call.
	calls, errs := h.dialIn(didAgent1)
	ring = a.waitCall(cti.CallRinging)
	_ = a.sess.Reject(ring.ID)
	select {
	case <-calls:
	case <-errs:
	case <-time.After(10 * time.Second):
		t.Fatal("second call never resolved")
	}
}

// A trunk reached over TCP: the INVITE, its answer and the BYE all travel
// on one TCP connection while RTP stays on UDP.
func TestOutboundOverTCPTrunk(t *testing.T) {
	h := newHarness(t, harnessOpts{trunkTransport: "tcp"})
	a := h.signIn("1001", agentTone)
	ci, err := a.sess.Dial(h.ctx, "15559990005")
	if err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	far := newFarEnd(in, carrierTone)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if err := a.sess.Hangup(ci.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in)
	if in.EndReason() != "remote_bye" {
		t.Fatalf("carrier call ended with %q", in.EndReason())
	}
}

// A far end that rings without early media (180 without SDP) sends
// nothing: the agent hears our ringback (425 Hz) instead of silence, and
// the far end's own audio once it answers.
func TestOutboundRingbackWithoutEarlyMedia(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	if _, err := a.sess.Dial(h.ctx, "+1 (555) 999-0000"); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier) // the carrier has sent 180 Ringing, no SDP
	a.waitCall(cti.CallEarly)
	a.hears(425)
	far := newFarEnd(in, carrierTone)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	a.heard.Reset()
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if a.heard.Detected(425) {
		t.Fatal("ringback went on after the answer")
	}
}
