package media_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ctitest"
	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/wav"
)

// recordedCall runs one inbound call to 1001 where the agent sends
// agentTone and the caller carrierTone for about talk, and returns the
// stored call record and the events published.
func recordedCall(t *testing.T, h *harness, events *ctitest.Events, talk time.Duration) *cti.CallRecord {
	t.Helper()
	a := h.signIn("1001", agentTone)
	ring, far := h.answerInbound(a, didAgent1)
	a.hears(carrierTone)
	far.hears(t, h.ctx, agentTone)
	time.Sleep(talk)
	if err := far.call.Hangup(h.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall(cti.CallEnded)
	rec, err := h.store.GetCallRecord(h.ctx, tenant, ring.ID)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// waitEvent waits until an event of type typ has been published.
func waitEvent(t *testing.T, events *ctitest.Events, typ cti.EventType) cti.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		ch := events.Changed()
		for _, ev := range events.All() {
			if ev.Type == typ {
				return ev
			}
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

// channelDetector runs one channel of an interleaved stereo recording
// through a tone detector.
func channelDetector(pcm []int16, ch int) *mediatest.ToneDetector {
	d := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	mono := make([]int16, 0, len(pcm)/2)
	for i := ch; i < len(pcm); i += 2 {
		mono = append(mono, pcm[i])
	}
	d.WritePCM(mono)
	return d
}

// A recorded inbound call: the WAV is stereo, as long as the call, the
// agent's tone is on the left and the caller's on the right (and not the
// other way round), recording.ready follows call.ended, the record
// carries a download code that opens the same bytes for the tenant's
// integration and for the agent, and nothing for another tenant.
func TestRecordedInboundCall(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) {
		c.Tenants = map[string]cti.TenantSettings{tenant: {Record: true}}
	}})
	h.svc.SetEventSink(events)
	const talk = 1500 * time.Millisecond
	rec := recordedCall(t, h, events, talk)

	ready := waitEvent(t, events, cti.EventRecordingReady)
	data, ok := ready.Data.(*cti.RecordingReady)
	if !ok || data.CallID != rec.ID || data.TenantID != tenant || data.ContentType != "audio/wav" {
		t.Fatalf("recording.ready data %#v", ready.Data)
	}
	var endedAt, readyAt int = -1, -1
	for i, ev := range events.All() {
		switch ev.Type {
		case cti.EventCallEnded:
			endedAt = i
		case cti.EventRecordingReady:
			readyAt = i
		}
	}
	if endedAt < 0 || readyAt < endedAt {
		t.Fatalf("call.ended at %d, recording.ready at %d: want the recording after the record", endedAt, readyAt)
	}
	if rec.Recording == nil || rec.Recording.Code != data.Code || rec.Recording.URL != "/api/v1/recordings/"+data.Code ||
		rec.Recording.Base64 != "" || rec.Recording.DurationSeconds <= 0 {
		t.Fatalf("call record's recording %+v, want the code %s", rec.Recording, data.Code)
	}

	path := filepath.Join(h.recDir, tenant, data.ID+".wav")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != data.SizeBytes {
		t.Fatalf("file is %d bytes, event says %d", len(raw), data.SizeBytes)
	}
	pcm, channels, rate, err := wav.ReadInterleaved(bytes.NewReader(raw))
	if err != nil || channels != 2 || rate != 8000 {
		t.Fatalf("recording: %d channels at %d Hz, %v", channels, rate, err)
	}
	got := time.Duration(len(pcm)/2) * time.Second / 8000
	answered := rec.EndedAt.Sub(rec.AnsweredAt)
	if got < talk || got > answered+time.Second {
		t.Fatalf("recording lasts %v; the call was answered for %v (talked at least %v)", got, answered, talk)
	}
	left, right := channelDetector(pcm, 0), channelDetector(pcm, 1)
	if !left.Detected(agentTone) || left.Detected(carrierTone) {
		t.Fatalf("left channel: agent tone %v, caller tone %v; want only the agent's", left.Detected(agentTone), left.Detected(carrierTone))
	}
	if !right.Detected(carrierTone) || right.Detected(agentTone) {
		t.Fatalf("right channel: caller tone %v, agent tone %v; want only the caller's", right.Detected(carrierTone), right.Detected(agentTone))
	}
	if m, _ := filepath.Glob(filepath.Join(h.recDir, tenant, "*.part")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	// Download through the core, as GET /api/v1/recordings/{code} does.
	open := func(p cti.Principal, code string) ([]byte, error) {
		_, body, err := h.svc.OpenRecording(h.ctx, p, code)
		if err != nil {
			return nil, err
		}
		defer body.Close()
		return io.ReadAll(body)
	}
	if b, err := open(apiPrincipal, data.Code); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("integration download: %d bytes, %v", len(b), err)
	}
	u := h.users["1001"]
	if b, err := open(cti.Principal{TenantID: tenant, UserID: u.ID, Extension: "1001", Role: cti.RoleAgent}, data.Code); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("the agent's own call: %d bytes, %v", len(b), err)
	}
	other := h.users["1002"]
	if _, err := open(cti.Principal{TenantID: tenant, UserID: other.ID, Extension: "1002", Role: cti.RoleAgent}, data.Code); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("another agent: %v, want not found", err)
	}
	if _, err := open(cti.Principal{TenantID: "other", UserID: "u", Role: cti.RoleAPI}, data.Code); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("another tenant: %v, want not found", err)
	}
	if _, err := open(apiPrincipal, "garbage!"); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("garbage code: %v, want invalid", err)
	}
}

// With recordingDelivery inline the record carries the WAV itself.
func TestRecordingInline(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{ctiConfig: func(c *cti.Config) {
		c.Tenants = map[string]cti.TenantSettings{tenant: {Record: true, RecordingDelivery: cti.RecordingInline}}
	}})
	h.svc.SetEventSink(events)
	rec := recordedCall(t, h, events, 0)
	data := waitEvent(t, events, cti.EventRecordingReady).Data.(*cti.RecordingReady)
	raw, err := os.ReadFile(data.Path)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Recording == nil || rec.Recording.Code != "" || rec.Recording.Base64 == "" {
		t.Fatalf("inline recording %+v", rec.Recording)
	}
	if b, err := base64.StdEncoding.DecodeString(rec.Recording.Base64); err != nil || !bytes.Equal(b, raw) {
		t.Fatalf("inline base64 is not the file (%v)", err)
	}
}

// A tenant that does not record gets no file, no event, no reference.
func TestRecordingOffByDefault(t *testing.T) {
	events := &ctitest.Events{}
	h := newHarness(t, harnessOpts{})
	h.svc.SetEventSink(events)
	rec := recordedCall(t, h, events, 0)
	waitEvent(t, events, cti.EventCallEnded)
	if rec.Recording != nil {
		t.Fatalf("unrecorded call has recording %+v", rec.Recording)
	}
	for _, ev := range events.All() {
		if ev.Type == cti.EventRecordingReady {
			t.Fatal("recording.ready for an unrecorded call")
		}
	}
	if _, err := os.Stat(h.recDir); !os.IsNotExist(err) {
		t.Fatalf("recording directory exists: %v", err)
	}
}
