package media_test

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/cti/queue"
	"github.com/ringbridge/ringbridge/media/dtmf"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/wav"
)

// Queues with real SIP callers and WebRTC agents: who rings, in what
// order, what the waiting caller hears, and where a call goes when nobody
// answers.

const (
	didQueue = "15550003000"
	// holdMusicHz is a note of the built-in hold music (E5).
	holdMusicHz = 659.25
)

var queueAdmin = cti.Principal{TenantID: tenant, UserID: "admin", Role: cti.RoleAdmin}

// queueHarness is a harness whose number didQueue goes into a queue.
func queueHarness(t *testing.T, q cti.QueueConfig) *harness {
	music := t.TempDir()
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) {
		c.Numbers[didQueue] = cti.NumberRoute{TenantID: tenant, Route: cti.RouteQueue, Queue: q.Name}
		c.MusicDir = music
	}})
	if _, err := h.svc.CreateQueue(h.ctx, queueAdmin, q); err != nil {
		t.Fatal(err)
	}
	return h
}

// queuedCaller is a carrier call into the queue: answered at once (the
// caller hears music), its own tone, and a detector of what it hears.
func (h *harness) queuedCaller(from string) *farEnd {
	h.t.Helper()
	c, err := h.carrier.Dial(h.ctx, "sip:"+didQueue+"@"+h.sipAddr.String(), from)
	if err != nil {
		h.t.Fatalf("queued call: %v", err)
	}
	return newFarEnd(c, carrierTone)
}

// rings waits until the agent's phone rings and returns the call.
func (a *agent) rings() cti.CallInfo {
	a.t.Helper()
	return a.waitCall(cti.CallRinging)
}

// quiet reports that no call rings for the agent within d.
func (a *agent) quiet(d time.Duration) bool {
	select {
	case ci := <-a.calls:
		if ci.State == cti.CallRinging {
			return false
		}
		return a.quiet(d)
	case <-time.After(d):
		return true
	}
}

// Five calls into a longest-idle queue with three agents land on the
// agents in the order they became free; callers who wait hear the hold
// music, and every answered caller and agent hear each other.
func TestQueueLongestIdleOrder(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "sales", Strategy: queue.LongestIdle, Members: []string{"1001", "1002", "1003"}})
	agents := map[string]*agent{}
	for _, ext := range []string{"1002", "1003", "1001"} { // 1002 has been free the longest
		agents[ext] = h.signIn(ext, agentTone)
		time.Sleep(20 * time.Millisecond) // distinct idle times, in sign-in order
	}
	var farEnds []*farEnd
	var calls []string
	take := func(ext string) {
		t.Helper()
		ring := agents[ext].rings()
		if err := agents[ext].sess.Answer(ring.ID); err != nil {
			t.Fatal(err)
		}
		agents[ext].waitCall(cti.CallActive)
		calls = append(calls, ext)
	}
	for i := range 3 {
		farEnds = append(farEnds, h.queuedCaller("1555000100"+string(rune('1'+i))))
		take([]string{"1002", "1003", "1001"}[i])
	}
	farEnds[0].hears(t, h.ctx, agentTone)
	agents["1002"].hears(carrierTone)

	// Everyone is busy: the next two wait, hearing music.
	farEnds = append(farEnds, h.queuedCaller("15550001004"))
	farEnds[3].hears(t, h.ctx, holdMusicHz) // in the line before the fifth dials
	farEnds = append(farEnds, h.queuedCaller("15550001005"))
	farEnds[4].hears(t, h.ctx, holdMusicHz)
	st := queueState(t, h, "sales")
	if len(st.Waiting) != 2 || st.AgentsBusy != 3 || st.Waiting[0].From != "15550001004" {
		t.Fatalf("queue state with two waiting: %+v", st)
	}
	// 1002 hangs up first: it is offered the fourth caller, then 1003 the fifth.
	if err := agents["1002"].sess.Hangup(agents["1002"].waitCallID()); err != nil {
		t.Fatal(err)
	}
	take("1002")
	if err := farEnds[1].call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	take("1003")
	want := []string{"1002", "1003", "1001", "1002", "1003"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls landed on %v, want %v", calls, want)
	}
	farEnds[4].heard.Reset()
	farEnds[4].hears(t, h.ctx, agentTone)
}

// waitCallID returns the id of the agent's current call.
func (a *agent) waitCallID() string {
	a.t.Helper()
	if ci, err := a.h.svc.AgentCall(a.h.ctx, queueAdmin, a.ext); err == nil {
		return ci.ID
	}
	a.t.Fatalf("agent %s is on no call", a.ext)
	return ""
}

func queueState(t *testing.T, h *harness, name string) *cti.QueueState {
	t.Helper()
	qs, err := h.svc.ListQueues(h.ctx, queueAdmin)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Name == name {
			st, err := h.svc.QueueStateOf(h.ctx, queueAdmin, q.ID)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	t.Fatalf("no queue %s", name)
	return nil
}

// An agent who lets a queued call ring out is skipped for the next one
// (top-down goes on down the list), is set away after missing too many
// in a row, and the call record tells each offer's answer.
func TestQueueNoAnswerMovesOn(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "support", Strategy: queue.TopDown, Members: []string{"1001", "1002"},
		RingSeconds: 3, MaxMissed: 1})
	a1, a2 := h.signIn("1001", agentTone), h.signIn("1002", 700)
	far := h.queuedCaller(callerNum)
	a1.rings() // and nobody answers
	ring := a2.rings()
	if err := a2.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far.hears(t, h.ctx, 700)
	a2.hears(carrierTone)
	if p, err := h.svc.AgentStatusOf(h.ctx, queueAdmin, "1001"); err != nil || p.Status != cti.StatusAway || p.Reason != "missed_calls" {
		t.Fatalf("agent who missed the call: %+v, %v", p, err)
	}
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	a2.waitCall(cti.CallEnded)
	rec, err := h.svc.GetCall(h.ctx, queueAdmin, ring.ID)
	if err != nil {
		t.Fatal(err)
	}
	q := rec.Queue
	if q == nil || q.Name != "support" || q.Outcome != "answered" || len(q.Offers) != 2 ||
		q.Offers[0].Extension != "1001" || q.Offers[0].Outcome != "no_answer" || q.Offers[1].Outcome != "answered" {
		t.Fatalf("queue story: %+v", q)
	}
	// The day's figures come from the same records and status intervals.
	day := cti.MetricsQuery{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Interval: 24 * time.Hour}
	qm, err := h.svc.QueueMetricsOf(h.ctx, queueAdmin, day)
	if err != nil || len(qm) != 1 || qm[0].Offered != 1 || qm[0].Answered != 1 || qm[0].AvgSpeedOfAnswerSeconds < 3 {
		t.Fatalf("queue metrics: %+v, %v", qm, err)
	}
	am, err := h.svc.AgentMetricsOf(h.ctx, queueAdmin, day)
	if err != nil || len(am) != 2 || am[0].Offered != 1 || am[0].Answered != 0 || am[1].Answered != 1 ||
		am[0].StatusSeconds["away/missed_calls"] <= 0 || am[1].StatusSeconds["on_call"] <= 0 {
		t.Fatalf("agent metrics: %+v, %v", am, err)
	}
}

// When nobody takes the call within the longest wait, the caller goes to
// the overflow (an extension outside the queue) and talks to it.
func TestQueueOverflowAfterMaxWait(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "billing", Members: []string{"1001"}, MaxWaitSeconds: 2,
		Overflow: cti.Destination{Kind: cti.DestExtension, Target: "1003"}})
	away := h.signIn("1001", agentTone)
	if err := away.sess.SetStatus(cti.StatusAway, "lunch"); err != nil {
		t.Fatal(err)
	}
	backup := h.signIn("1003", 700)
	far := h.queuedCaller(callerNum)
	far.hears(t, h.ctx, holdMusicHz)
	ring := backup.rings()
	if err := backup.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far.hears(t, h.ctx, 700)
	backup.hears(carrierTone)
	if !away.quiet(100 * time.Millisecond) {
		t.Fatal("the away member was rung")
	}
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	backup.waitCall(cti.CallEnded)
	rec, err := h.svc.GetCall(h.ctx, queueAdmin, ring.ID)
	if err != nil || rec.Queue == nil || rec.Queue.Outcome != "overflow" || rec.Queue.WaitSeconds < 2 {
		t.Fatalf("record after overflow: %+v, %v", rec.Queue, err)
	}
}

// digitsHeard collects the DTMF digits the far end hears in-band.
func digitsHeard(f *farEnd) <-chan rune {
	out := make(chan rune, 32)
	det := dtmf.NewDetector(8000)
	pcm := make([]int16, 160)
	f.call.OnAudio(func(codec rtpio.Codec, p []byte) {
		f.heard.WriteUlaw(p)
		for i, b := range p[:min(len(p), 160)] {
			if codec == rtpio.CodecPCMA {
				pcm[i] = g711.DecodeAlaw(b)
			} else {
				pcm[i] = g711.DecodeUlaw(b)
			}
		}
		for _, d := range det.Write(pcm[:min(len(p), 160)]) {
			out <- d
		}
	})
	return out
}

// A waiting caller hears the announcement: a beep, their position and the
// estimated wait in minutes, as tones, between the music.
func TestQueueAnnouncesPosition(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "care", Members: []string{"1001"}, AnnounceSeconds: 5})
	first := h.queuedCaller("15550001001")
	// The first caller joins the line once its answer is acknowledged:
	// its music says it is in, so the second caller is second.
	first.hears(t, h.ctx, holdMusicHz)
	second := h.queuedCaller("15550001002")
	digits := digitsHeard(second)
	second.hears(t, h.ctx, holdMusicHz)
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := second.heard.WaitFor(ctx, 1400); err != nil {
		t.Fatalf("no announcement beep: %v", err)
	}
	// Position 2, then "#", then 2 minutes (one minute per caller ahead
	// and including, before any call was answered).
	if got := collectDigits(t, digits, 3); got != "2#2" {
		t.Fatalf("announcement digits %q, want 2#2", got)
	}
}

// A caller who presses the callback digit is hung up with a beep, keeps
// their place, and when an agent is free the agent rings first and then
// the caller's number is dialled and bridged.
func TestQueueCallback(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "callme", Members: []string{"1001"}, CallbackDigit: "*"})
	far := h.queuedCaller(callerNum)
	far.hears(t, h.ctx, holdMusicHz)
	if err := far.call.SendDTMF(h.ctx, "*"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-far.call.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the caller who asked for a callback was not hung up")
	}
	st := queueState(t, h, "callme")
	if len(st.Waiting) != 1 || !st.Waiting[0].Callback {
		t.Fatalf("the callback lost its place: %+v", st)
	}
	a := h.signIn("1001", agentTone)
	ring := a.rings()
	if err := a.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	in := waitIncoming(t, h.carrier)
	if !strings.Contains(in.To, callerNum) {
		t.Fatalf("callback dialled %s, want %s", in.To, callerNum)
	}
	if err := in.Answer(h.ctx); err != nil {
		t.Fatal(err)
	}
	back := newFarEnd(in, carrierTone)
	back.hears(t, h.ctx, agentTone)
	a.hears(carrierTone)
	if err := back.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
	rec, err := h.svc.GetCall(h.ctx, queueAdmin, ring.ID)
	if err != nil || rec.Queue == nil || !rec.Queue.Callback || rec.Queue.Outcome != "callback_answered" {
		t.Fatalf("record of the callback: %+v, %v", rec.Queue, err)
	}
}

// A skills queue offers the call to the agent with the skill it needs,
// not to the one free the longest.
func TestQueueRoutesBySkill(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "german", Strategy: queue.Skills, Members: []string{"1001", "1002"},
		Skills: map[string]int{"de": 50}})
	for ext, level := range map[string]int{"1001": 30, "1002": 80} {
		u := h.users[ext]
		u.Skills = []cti.Skill{{Name: "de", Level: level}}
		if err := h.store.UpdateUser(h.ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	novice := h.signIn("1001", agentTone) // free the longest
	expert := h.signIn("1002", 700)
	far := h.queuedCaller(callerNum)
	ring := expert.rings()
	if err := expert.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far.hears(t, h.ctx, 700)
	expert.hears(carrierTone)
	if !novice.quiet(100 * time.Millisecond) {
		t.Fatal("the agent without the skill was rung")
	}
}

// With voicemail as the overflow, a caller nobody answers hears a beep and
// leaves a message; it reaches the CRM as a recording marked voicemail,
// holding what the caller said.
func TestQueueVoicemailOverflow(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "after-hours", Members: []string{"1001"}, MaxWaitSeconds: 1,
		Overflow: cti.Destination{Kind: cti.DestVoicemail}})
	events := &ctitest.Events{}
	h.svc.SetEventSink(events)
	far := h.queuedCaller(callerNum)
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := far.heard.WaitFor(ctx, 880); err != nil {
		t.Fatalf("no voicemail beep: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // the caller speaks (its tone) for a while
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	ready := waitEvent(t, events, cti.EventRecordingReady)
	data, ok := ready.Data.(*cti.RecordingReady)
	if !ok || !data.Voicemail || data.DurationSeconds < 1 {
		t.Fatalf("recording.ready %#v", ready.Data)
	}
	raw, err := os.ReadFile(data.Path)
	if err != nil {
		t.Fatal(err)
	}
	pcm, channels, _, err := wav.ReadInterleaved(bytes.NewReader(raw))
	if err != nil || channels != 2 {
		t.Fatalf("voicemail file: %d channels, %v", channels, err)
	}
	if !channelDetector(pcm, 1).Detected(carrierTone) {
		t.Fatal("the caller's message is not in the voicemail")
	}
}

// An administrator uploads hold music; the next caller hears it instead
// of the built-in music, and a file that is not a mono 16-bit WAV is
// refused with a field error.
func TestQueueUploadedMusic(t *testing.T) {
	h := queueHarness(t, cti.QueueConfig{Name: "music", Members: []string{"1001"}})
	qs, err := h.svc.ListQueues(h.ctx, queueAdmin)
	if err != nil || len(qs) != 1 {
		t.Fatalf("queues: %v %v", qs, err)
	}
	gen := mediatest.NewToneGenerator(500, 0.3, 16000)
	pcm := make([]int16, 2*16000)
	gen.NextFrame(pcm)
	var buf bytes.Buffer
	if err := wav.Write(&buf, pcm, 16000); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.SetQueueMusic(h.ctx, queueAdmin, qs[0].ID, []byte("RIFF....WAVEnot audio")); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("a broken file: %v", err)
	}
	if _, err := h.svc.SetQueueMusic(h.ctx, queueAdmin, qs[0].ID, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	far := h.queuedCaller(callerNum)
	far.hears(t, h.ctx, 500)
	if far.heard.Detected(holdMusicHz) {
		t.Fatal("the built-in music played instead of the uploaded one")
	}
}
