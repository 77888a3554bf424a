package media_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ivr"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

const (
	didIVR      = "15550009000"
	helloHz     = 600.0
	menuHz      = 700.0
	goodbyeHz   = 900.0
	goodbye2Hz  = 1200.0
	ivrAgentExt = "1001"
)

func ivrFlow(goodbye float64) ivr.Flow {
	return ivr.Flow{ID: "main", Name: "Main line", Start: "hello", Nodes: []ivr.Node{
		{ID: "hello", Kind: ivr.Play, Say: []ivr.Sound{{ToneHz: helloHz, Ms: 600}}, Next: "menu"},
		{ID: "menu", Kind: ivr.Menu, Say: []ivr.Sound{{ToneHz: menuHz, Ms: 600}}, Choices: map[string]string{"1": "agent", "2": "goodbye"},
			TimeoutSeconds: 2, OnTimeout: "goodbye", OnInvalid: "goodbye"},
		{ID: "agent", Kind: ivr.Route, To: &ivr.Target{Kind: "extension", Target: ivrAgentExt}},
		{ID: "goodbye", Kind: ivr.Play, Say: []ivr.Sound{{ToneHz: goodbye, Ms: 800}}, Next: "bye"},
		{ID: "bye", Kind: ivr.Hangup},
	}}
}

func ivrHarness(t *testing.T, opts ...func(*harnessOpts)) *harness {
	t.Helper()
	o := harnessOpts{}
	for _, f := range opts {
		f(&o)
	}
	o.ctiConfig = func(c *cti.Config) {
		c.Numbers[didIVR] = cti.NumberRoute{TenantID: tenant, Route: cti.RouteIVR, Flow: "main", Extension: "1002"}
	}
	h := newHarness(t, o)
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), ivrFlow(goodbyeHz)); err != nil {
		t.Fatal(err)
	}
	return h
}

// callIVR dials the flow's number and returns the caller once answered.
func callIVR(t *testing.T, h *harness) *farEnd {
	t.Helper()
	calls, errs := h.dialIn(didIVR)
	return newFarEnd(waitDialed(t, calls, errs), carrierTone)
}

func pressKeys(t *testing.T, ctx context.Context, f *farEnd, keys string) {
	t.Helper()
	if err := f.call.SendDTMF(ctx, keys); err != nil {
		t.Fatal(err)
	}
}

// A caller walks the menu with RFC 4733 digits, hearing each prompt: 1
// reaches the agent (both hear each other).
func TestIVRMenuToAnAgent(t *testing.T) {
	h := ivrHarness(t)
	ag := h.signIn(ivrAgentExt, agentTone)
	far := callIVR(t, h)
	far.hears(t, h.ctx, helloHz)
	far.hears(t, h.ctx, menuHz)
	pressKeys(t, h.ctx, far, "1")
	ring := ag.waitCall(cti.CallRinging)
	if ring.Route != "ivr:main" {
		t.Errorf("route %q", ring.Route)
	}
	if err := ag.sess.Answer(ring.ID); err != nil {
		t.Fatal(err)
	}
	far.heard.Reset()
	far.hears(t, h.ctx, agentTone)
	ag.hears(carrierTone)
}

// 2 plays goodbye and hangs up; so does waiting past the menu's timeout.
func TestIVRChoiceAndTimeoutBranches(t *testing.T) {
	h := ivrHarness(t)
	far := callIVR(t, h)
	far.hears(t, h.ctx, menuHz)
	pressKeys(t, h.ctx, far, "2")
	far.hears(t, h.ctx, goodbyeHz)
	waitDone(t, far.call)

	began := time.Now()
	slow := callIVR(t, h)
	slow.hears(t, h.ctx, menuHz)
	slow.hears(t, h.ctx, goodbyeHz) // nobody pressed anything
	if time.Since(began) < 2*time.Second {
		t.Errorf("the timeout branch came after %v, before the menu's 2 s", time.Since(began))
	}
	waitDone(t, slow.call)
}

// A flow changed while a caller is in it: that caller finishes on the
// version it started with, the next caller gets the new one.
func TestIVRCallsKeepTheirVersion(t *testing.T) {
	h := ivrHarness(t)
	first := callIVR(t, h)
	first.hears(t, h.ctx, menuHz)
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), ivrFlow(goodbye2Hz)); err != nil {
		t.Fatal(err)
	}
	second := callIVR(t, h)
	second.hears(t, h.ctx, menuHz)
	pressKeys(t, h.ctx, first, "2")
	pressKeys(t, h.ctx, second, "2")
	first.hears(t, h.ctx, goodbyeHz)
	second.hears(t, h.ctx, goodbye2Hz)
	if first.heard.Detected(goodbye2Hz) || second.heard.Detected(goodbyeHz) {
		t.Error("a caller heard the other version's goodbye")
	}
}

// A carrier that sends no RFC 4733: the caller's key is a tone pair in
// the audio, detected by the server, and the menu takes it.
func TestIVRInBandDigits(t *testing.T) {
	h := ivrHarness(t, func(o *harnessOpts) { o.carrierNoEvents = true })
	// Here waiting hangs up without the goodbye: only the key plays it.
	f := ivrFlow(goodbyeHz)
	f.Node("menu").OnTimeout = "bye"
	if _, err := h.svc.SaveIVRFlow(h.ctx, cti.SystemPrincipal(tenant, "test"), f); err != nil {
		t.Fatal(err)
	}
	calls, errs := h.dialIn(didIVR)
	call := waitDialed(t, calls, errs)
	heard := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	call.OnAudio(func(codec rtpio.Codec, p []byte) {
		if codec == rtpio.CodecPCMA {
			heard.WriteAlaw(p)
		} else {
			heard.WriteUlaw(p)
		}
	})
	var keyDown atomic.Bool
	key := mediatest.NewMultiToneGenerator(8000, mediatest.Tone{Freq: 697, Amplitude: 0.25}, mediatest.Tone{Freq: 1336, Amplitude: 0.25})
	quiet := make([]int16, 160)
	pcm := make([]int16, 160)
	call.SendAudio(func(codec rtpio.Codec, dst []byte) {
		src := quiet
		if keyDown.Load() {
			key.NextFrame(pcm)
			src = pcm
		}
		if codec == rtpio.CodecPCMA {
			g711.EncodeAlawTo(dst, src)
		} else {
			g711.EncodeUlawTo(dst, src)
		}
	})
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := heard.WaitFor(ctx, menuHz); err != nil {
		t.Fatalf("caller never heard the menu: %v", err)
	}
	keyDown.Store(true) // "2", 200 ms, as a phone's keypad sends it
	time.Sleep(200 * time.Millisecond)
	keyDown.Store(false)
	if err := heard.WaitFor(ctx, goodbyeHz); err != nil {
		t.Fatalf("the in-band key did not take the menu's choice 2: %v", err)
	}
	waitDone(t, call)
}
