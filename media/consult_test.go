package media_test

import (
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// colleagueTone is what the consulted agent's microphone plays.
const colleagueTone = 600.0

// consultCall sets up a caller talking to agent 1001, with 1002 signed
// in; the caller's ear detects mixes.
func consultCall(t *testing.T) (*harness, *agent, *agent, cti.CallInfo, *farEnd, *callerEar) {
	t.Helper()
	h := newHarness(t, harnessOpts{})
	ag := h.signIn("1001", agentTone)
	col := h.signIn("1002", colleagueTone)
	ring, far := h.answerInbound(ag, didAgent1)
	ag.waitCall(cti.CallActive)
	ear := &callerEar{det: mediatest.MixedEar()}
	far.call.OnAudio(func(codec rtpio.Codec, p []byte) {
		if codec == rtpio.CodecPCMA {
			ear.det.WriteAlaw(p)
		} else {
			ear.det.WriteUlaw(p)
		}
	})
	mediatest.HearsAll(t, h.ctx, "caller", ear.det, agentTone)
	return h, ag, col, ring, far, ear
}

// callerEar is what the caller decodes, for ears that may hear two voices.
type callerEar struct{ det *mediatest.ToneDetector }

// waitRecord reads a finished call's record.
func waitRecord(t *testing.T, h *harness, id string) *cti.CallRecord {
	t.Helper()
	rec, err := h.store.GetCallRecord(h.ctx, tenant, id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Attended transfer to a colleague: the caller hears hold music while the
// agent consults, the colleague's phone rings with a call from the agent,
// agent and colleague hear each other, swap and swap back, complete: the
// caller and the colleague talk, the agent is released, and the record
// has both agents' parts.
func TestAttendedTransferToColleague(t *testing.T) {
	h, ag, col, ring, far, ear := consultCall(t)
	agEar, colEar := mediatest.MixedEar(), mediatest.MixedEar()
	ag.client.OnAudio(agEar.WriteUlaw)
	col.client.OnAudio(colEar.WriteUlaw)

	if err := ag.sess.Consult(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	offer := col.waitCall(cti.CallRinging)
	if offer.ID != ring.ID || offer.Remote != "1001" || offer.Consult == nil || offer.Consult.By != "1001" {
		t.Fatalf("the colleague was offered %+v, want a consultation from 1001", offer)
	}
	mediatest.HearsAll(t, h.ctx, "caller on hold while consulting", ear.det, holdMusicHz)
	if err := ag.sess.ConsultComplete(ring.ID); cti.ErrorKind(err) != cti.KindConflict {
		t.Errorf("completing before the colleague answered: %v, want a conflict", err)
	}
	if err := col.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "agent consulting", agEar, colleagueTone)
	mediatest.HearsAll(t, h.ctx, "colleague", colEar, agentTone)
	mediatest.NotHeard(t, h.ctx, "caller while consulting", ear.det, holdMusicHz, agentTone)

	// Swap: the agent is back with the caller, the colleague hears music.
	if err := ag.sess.ConsultSwap(ring.ID); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "caller after swap", ear.det, agentTone)
	mediatest.HearsAll(t, h.ctx, "colleague after swap", colEar, holdMusicHz)
	if err := ag.sess.ConsultSwap(ring.ID); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "agent after swapping back", agEar, colleagueTone)

	if err := ag.sess.ConsultComplete(ring.ID); err != nil {
		t.Fatal(err)
	}
	if got := ag.waitCall(cti.CallEnded); got.EndReason != cti.EndTransferred {
		t.Errorf("the agent's part ended with %q, want transferred", got.EndReason)
	}
	mediatest.HearsAll(t, h.ctx, "caller after the transfer", ear.det, colleagueTone)
	mediatest.HearsAll(t, h.ctx, "colleague after the transfer", colEar, carrierTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	col.waitCall(cti.CallEnded)
	rec := waitRecord(t, h, ring.ID)
	if len(rec.Agents) != 2 || rec.Agents[0].Extension != "1001" || rec.Agents[0].EndReason != cti.EndTransferred ||
		rec.Agents[1].Extension != "1002" || rec.Agents[1].AnsweredAt.IsZero() {
		t.Errorf("record's agents %+v, want 1001 transferred then 1002 answered", rec.Agents)
	}
}

// Consulting a number, then cancelling: the consultation leg is dialled
// and hung up, and it stays in the record as a leg; the agent is back
// with the caller.
func TestConsultNumberThenCancel(t *testing.T) {
	h, ag, _, ring, far, ear := consultCall(t)
	agEar := mediatest.MixedEar()
	ag.client.OnAudio(agEar.WriteUlaw)
	if err := ag.sess.Consult(ring.ID, "+15550009999"); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	other := newFarEnd(in, 1500)
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "agent consulting a number", agEar, 1500)
	other.hears(t, h.ctx, agentTone)
	mediatest.HearsAll(t, h.ctx, "caller while the agent consults", ear.det, holdMusicHz)

	if err := ag.sess.ConsultCancel(ring.ID); err != nil {
		t.Fatal(err)
	}
	waitDone(t, other.call)
	mediatest.HearsAll(t, h.ctx, "caller after cancel", ear.det, agentTone)
	mediatest.HearsAll(t, h.ctx, "agent after cancel", agEar, carrierTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	ag.waitCall(cti.CallEnded)
	rec := waitRecord(t, h, ring.ID)
	if len(rec.Legs) != 2 || rec.Legs[1].Number != "+15550009999" || rec.Legs[1].AnsweredAt.IsZero() ||
		rec.Legs[1].EndReason != cti.EndCancelled || !rec.Legs[1].EndedAt.Before(rec.Legs[0].EndedAt) {
		t.Errorf("record's legs %+v, want the caller's and the consultation's", rec.Legs)
	}
}

// Three-way conference: each of the three parties hears the other two;
// the agent leaving leaves the caller and the colleague talking.
func TestThreeWayConference(t *testing.T) {
	h, ag, col, ring, far, ear := consultCall(t)
	agEar, colEar := mediatest.MixedEar(), mediatest.MixedEar()
	ag.client.OnAudio(agEar.WriteUlaw)
	col.client.OnAudio(colEar.WriteUlaw)
	if err := ag.sess.Consult(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	col.waitCall(cti.CallRinging)
	if err := col.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	if err := ag.sess.Conference(ring.ID); err != nil {
		t.Fatal(err)
	}
	mediatest.HearsAll(t, h.ctx, "caller in the conference", ear.det, agentTone, colleagueTone)
	mediatest.HearsAll(t, h.ctx, "agent in the conference", agEar, carrierTone, colleagueTone)
	mediatest.HearsAll(t, h.ctx, "colleague in the conference", colEar, carrierTone, agentTone)

	if err := ag.sess.Hangup(ring.ID); err != nil {
		t.Fatal(err)
	}
	ag.waitCall(cti.CallEnded)
	mediatest.NotHeard(t, h.ctx, "caller after the host left", ear.det, colleagueTone, agentTone)
	mediatest.HearsAll(t, h.ctx, "colleague after the host left", colEar, carrierTone)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	col.waitCall(cti.CallEnded)
}

// The consulted colleague refusing brings the agent back to the caller.
func TestConsultRefused(t *testing.T) {
	h, ag, col, ring, _, ear := consultCall(t)
	if err := ag.sess.Consult(ring.ID, "1002"); err != nil {
		t.Fatal(err)
	}
	col.waitCall(cti.CallRinging)
	mediatest.HearsAll(t, h.ctx, "caller on hold", ear.det, holdMusicHz)
	if err := col.sess.Reject(ring.ID); err != nil {
		t.Fatal(err)
	}
	if got := col.waitCall(cti.CallEnded); got.EndReason != cti.EndRejected {
		t.Errorf("the colleague's part ended with %q", got.EndReason)
	}
	mediatest.HearsAll(t, h.ctx, "caller after the refusal", ear.det, agentTone)
	if err := ag.sess.ConsultSwap(ring.ID); cti.ErrorKind(err) != cti.KindConflict {
		t.Errorf("swap with no consultation: %v, want a conflict", err)
	}
}
