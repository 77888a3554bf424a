package media_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
)

const (
	agentTone   = 440.0
	carrierTone = 1000.0
)

// An inbound call a person can hear: the caller's tone reaches the agent,
// the agent's tone reaches the caller, digits cross both ways, hold stops
// the audio and unhold brings it back, and the caller's BYE ends it.
func TestInboundCallAudioDTMFHold(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)

	calls, errs := h.dialIn(didAgent1)
	ring := a.waitCall(cti.CallRinging)
	if ring.Remote != callerNum || ring.Direction != cti.DirectionInbound {
		t.Fatalf("ringing call shows %q (%s), want caller %q inbound", ring.Remote, ring.Direction, callerNum)
	}
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
	a.waitCall(cti.CallActive)

	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)

	// Agent → caller: the browser's RFC 4733 digits reach the trunk.
	if err := a.client.SendDTMF(h.ctx, "123#"); err != nil {
		t.Fatal(err)
	}
	if got := collectDigits(t, far.digits, 4); got != "123#" {
		t.Fatalf("caller received digits %q, want 123#", got)
	}
	// Agent → caller through the websocket command path.
	if err := a.sess.SendDTMF(ring.ID, "58"); err != nil {
		t.Fatal(err)
	}
	if got := collectDigits(t, far.digits, 2); got != "58" {
		t.Fatalf("caller received digits %q, want 58", got)
	}
	// Caller → agent: reported as events and relayed in the audio.
	if err := far.call.SendDTMF(h.ctx, "9*0"); err != nil {
		t.Fatal(err)
	}
	if got := collectDigits(t, a.digits, 3); got != "9*0" {
		t.Fatalf("agent was told digits %q, want 9*0", got)
	}
	if got := collectDigits(t, a.rtpDig, 3); got != "9*0" {
		t.Fatalf("agent's audio carried digits %q, want 9*0", got)
	}

	// Hold: the far end is told by re-INVITE and the audio stops.
	if err := a.sess.Hold(ring.ID, true); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallHeld)
	if !far.call.RemoteHeld() {
		t.Fatal("carrier was not told about the hold")
	}
	time.Sleep(100 * time.Millisecond) // let in-flight packets land
	a.heard.Reset()
	far.heard.Reset()
	time.Sleep(600 * time.Millisecond)
	if a.heard.Detected(carrierTone) || far.heard.Detected(agentTone) {
		t.Fatal("audio still flows while held")
	}
	if err := a.sess.Hold(ring.ID, false); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallActive)
	if far.call.RemoteHeld() {
		t.Fatal("carrier still thinks it is held")
	}
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)

	// The caller hangs up.
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	end := a.waitCall(cti.CallEnded)
	if end.EndReason != cti.EndRemoteHangup {
		t.Fatalf("end reason %q, want %q", end.EndReason, cti.EndRemoteHangup)
	}
	if n := h.svc.ActiveCalls(); n != 0 {
		t.Fatalf("%d calls still active", n)
	}
}

// The agent hangs up: the caller gets a BYE.
func TestInboundAgentHangsUp(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	ring, far := h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
	if err := a.sess.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, far.call)
	if far.call.EndReason() != "remote_bye" {
		t.Fatalf("carrier call ended with %q, want remote_bye", far.call.EndReason())
	}
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndLocalHangup {
		t.Fatalf("end reason %q, want local_hangup", end.EndReason)
	}
}

// A PCMA-only trunk: the agent leg stays PCMU and the bridge converts.
func TestInboundPCMATranscoded(t *testing.T) {
	h := newHarness(t, harnessOpts{carrierCodec: rtpio.CodecPCMA})
	a := h.signIn("1001", agentTone)
	_, far := h.answerInbound(a, didAgent1)
	if far.call.Codec() != rtpio.CodecPCMA {
		t.Fatalf("carrier negotiated %s, want PCMA", far.call.Codec())
	}
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
}

// The caller gives up while the agent's phone rings.
func TestInboundCancelWhileRinging(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	ctx, cancel := contextWithCancel(h)
	errs := make(chan error, 1)
	go func() {
		_, err := h.carrier.Dial(ctx, "sip:"+didAgent1+"@"+h.sipAddr.String(), callerNum)
		errs <- err
	}()
	a.waitCall(cti.CallRinging)
	cancel()
	if end := a.waitCall(cti.CallEnded); end.EndReason != cti.EndCancelled {
		t.Fatalf("end reason %q, want cancelled", end.EndReason)
	}
	if err := <-errs; err == nil {
		t.Fatal("cancelled dial reported success")
	}
	// The agent is free again: a new call rings.
	calls, errs2 := h.dialIn(didAgent1)
	ring := a.waitCall(cti.CallRinging)
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDialed(t, calls, errs2)
}

// Refusals map to the SIP statuses a carrier expects.
func TestInboundRefusals(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)

	status := func(number string) int {
		t.Helper()
		_, err := h.carrier.Dial(h.ctx, "sip:"+number+"@"+h.sipAddr.String(), callerNum)
		var de *trunk.DialError
		if !errors.As(err, &de) {
			t.Fatalf("dialling %s: got %v, want a SIP refusal", number, err)
		}
		return de.Status
	}
	if got := status("15550009999"); got != 404 {
		t.Errorf("unknown number: %d, want 404", got)
	}
	if got := status(didAgent2); got != 480 {
		t.Errorf("offline agent: %d, want 480", got)
	}
	// Agent 1001 is ringing with a first call: the second is busy.
	calls, errs := h.dialIn(didAgent1)
	ring := a.waitCall(cti.CallRinging)
	if got := status(didAgent1); got != 486 {
		t.Errorf("busy agent: %d, want 486", got)
	}
	// Away agents take no calls.
	if err := a.sess.Reject(ring.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		var de *trunk.DialError
		if !errors.As(err, &de) || de.Status != 486 {
			t.Errorf("rejected call: %v, want 486", err)
		}
	case <-calls:
		t.Fatal("rejected call was answered")
	case <-time.After(10 * time.Second):
		t.Fatal("rejected call never ended")
	}
	// The 486 goes out before cti has finished with the call.
	a.waitCall(cti.CallEnded)
	if err := a.sess.SetStatus(cti.StatusAway, "lunch"); err != nil {
		t.Fatal(err)
	}
	if got := status(didAgent1); got != 480 {
		t.Errorf("away agent: %d, want 480", got)
	}
}

// Only configured trunks may send us calls.
func TestInboundFromUnknownSourceRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.signIn("1001", agentTone)
	stranger, err := trunk.NewPhone(trunk.PhoneConfig{Listen: "127.0.0.2:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	_, err = stranger.Dial(h.ctx, "sip:"+didAgent1+"@"+h.sipAddr.String(), callerNum)
	var de *trunk.DialError
	if !errors.As(err, &de) || de.Status != 403 {
		t.Fatalf("stranger's call: %v, want 403", err)
	}
	if h.svc.ActiveCalls() != 0 {
		t.Fatal("stranger's call reached the core")
	}
}

// The browser's network changes mid-call: an ICE restart on the same
// PeerConnection keeps the call and its audio.
func TestICERestartKeepsTheCall(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	_, far := h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
	offer, err := a.client.Offer(h.ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := a.sess.HandleOffer(h.ctx, offer)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.client.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	a.heard.Reset()
	far.heard.Reset()
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	select {
	case <-far.call.Done():
		t.Fatal("ICE restart dropped the call")
	default:
	}
}

// A garbage SDP offer is refused with a clear error and the session's
// PeerConnection keeps working for the next call.
func TestBadOfferLeavesSessionUsable(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	for _, bad := range []string{"v=0\r\nthis is not sdp", "m=audio 0 RTP/AVP 0\r\n", "\x00\x01\x02"} {
		if _, err := a.sess.HandleOffer(h.ctx, bad); cti.ErrorKind(err) != cti.KindInvalid {
			t.Fatalf("offer %q: %v, want invalid", bad, err)
		}
	}
	h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
}

// Trunks that signal over TCP reach agents the same way.
func TestInboundOverTCP(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	a := h.signIn("1001", agentTone)
	calls, errs := make(chan *trunk.PhoneCall, 1), make(chan error, 1)
	go func() {
		c, err := h.carrier.Dial(h.ctx, "sip:"+didAgent1+"@"+h.sipAddr.String()+";transport=tcp", callerNum)
		if err != nil {
			errs <- err
			return
		}
		calls <- c
	}()
	ring := a.waitCall(cti.CallRinging)
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far := newFarEnd(waitDialed(t, calls, errs), carrierTone)
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
}
