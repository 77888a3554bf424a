package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/wav"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// quietRun is the longest stretch of a channel where every sample is
// below level, in samples: where it starts and how long it is.
func quietRun(pcm []int16, ch int, level int16) (start, n int) {
	run := 0
	for i, k := ch, 0; i < len(pcm); i, k = i+2, k+1 {
		if pcm[i] > -level && pcm[i] < level {
			run++
			if run > n {
				start, n = k-run+1, run
			}
			continue
		}
		run = 0
	}
	return start, n
}

// The recording policy of the most specific rule applies (the agent's
// on_demand over the tenant's never); the agent starts the recording on
// the websocket, an integration pauses it through REST and the agent
// resumes it. The caller and the agent send tones all along, so the WAV
// must be silent on both channels exactly in the window the call record
// lists (with who paused and resumed), and nowhere else; every change is
// in the audit log.
func TestE2ERecordingPolicyAndPause(t *testing.T) {
	e := startE2E(t)
	admin := "Bearer " + e.login("admin")
	status, body := e.api("POST", "/api/v1/api-keys", admin, map[string]string{"name": "crm"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}
	apiAuth := "Bearer " + key.Key

	if status, body := e.api("PATCH", "/api/v1/settings", admin, map[string]string{"recordingPolicy": "never"}); status != 200 {
		t.Fatalf("tenant policy: %d %s", status, body)
	}
	for _, bad := range []struct{ path, policy string }{
		{"/api/v1/recording-policies/agent/1001", "sometimes"},
		{"/api/v1/recording-policies/team/1001", "always"},
		{"/api/v1/recording-policies/agent/4242", "always"},
	} {
		if status, body := e.api("PUT", bad.path, admin, map[string]string{"policy": bad.policy}); status != 400 {
			t.Fatalf("PUT %s %s: %d %s, want 400", bad.path, bad.policy, status, body)
		}
	}
	if status, body := e.api("PUT", "/api/v1/recording-policies/agent/1001", apiAuth, map[string]string{"policy": "always"}); status != 403 {
		t.Fatalf("an integration sets a policy: %d %s, want 403", status, body)
	}
	if status, body := e.api("PUT", "/api/v1/recording-policies/agent/1001", admin, map[string]string{"policy": "on_demand"}); status != 200 {
		t.Fatalf("agent policy: %d %s", status, body)
	}
	status, body = e.api("GET", "/api/v1/recording-policies", admin, nil)
	var pols struct {
		Default string
		Rules   []struct{ Scope, Target, Policy string }
	}
	if err := json.Unmarshal(body, &pols); err != nil || status != 200 || pols.Default != "never" ||
		len(pols.Rules) != 1 || pols.Rules[0].Policy != "on_demand" || pols.Rules[0].Target != "1001" {
		t.Fatalf("policies: %d %s", status, body)
	}

	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatal(err)
	}
	// On demand: nothing to pause before the recording is started.
	if status, body := e.api("POST", "/api/v1/calls/"+ring.ID+"/recording/pause", apiAuth, nil); status != 409 {
		t.Fatalf("pause before start: %d %s, want 409", status, body)
	}
	if r := a.request(wsproto.Message{Type: wsproto.TypeRecording, CallID: ring.ID, Action: "start"}); r.Type != wsproto.TypeAck {
		t.Fatalf("start on the websocket: %+v", r)
	}
	a.wait(func(m wsproto.Message) bool { return m.Type == wsproto.TypeCall && m.Call.Recording == "recording" })
	if r := a.request(wsproto.Message{Type: wsproto.TypeRecording, CallID: ring.ID, Action: "rewind"}); r.Type != wsproto.TypeError {
		t.Fatalf("unknown action: %+v", r)
	}
	time.Sleep(time.Second) // a second of both tones
	status, body = e.api("POST", "/api/v1/calls/"+ring.ID+"/recording/pause", apiAuth, nil)
	if status != 200 {
		t.Fatalf("pause: %d %s", status, body)
	}
	a.wait(func(m wsproto.Message) bool { return m.Type == wsproto.TypeCall && m.Call.Recording == "paused" })
	// The pause is in the call's stored picture: a crash now keeps it.
	live, err := e.app.store.LiveCalls(e.ctx)
	if err != nil || len(live) != 1 || len(live[0].Record.RecordingPauses) != 1 || live[0].Record.RecordingPauses[0].PausedBy != "crm" {
		t.Fatalf("live picture after the pause: %+v, %v", live, err)
	}
	time.Sleep(1500 * time.Millisecond) // the card number, not to be recorded
	if r := a.request(wsproto.Message{Type: wsproto.TypeRecording, CallID: ring.ID, Action: "resume"}); r.Type != wsproto.TypeAck {
		t.Fatalf("resume on the websocket: %+v", r)
	}
	time.Sleep(time.Second)
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")

	var rec struct {
		Recording *struct {
			URL             string  `json:"url"`
			DurationSeconds float64 `json:"durationSeconds"`
		} `json:"recording"`
		RecordingPauses []struct {
			PausedBy, ResumedBy            string
			OffsetSeconds, DurationSeconds float64
		} `json:"recordingPauses"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for rec.Recording == nil && time.Now().Before(deadline) {
		if status, body = e.api("GET", "/api/v1/calls/"+ring.ID, apiAuth, nil); status == 200 {
			_ = json.Unmarshal(body, &rec)
		}
		if rec.Recording == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if rec.Recording == nil || len(rec.RecordingPauses) != 1 {
		t.Fatalf("call record: %d %s", status, body)
	}
	if live, err := e.app.store.LiveCalls(e.ctx); err != nil || len(live) != 0 {
		t.Fatalf("a live picture outlived the call: %+v, %v", live, err)
	}
	p := rec.RecordingPauses[0]
	if p.PausedBy != "crm" || p.ResumedBy != "alice" || p.OffsetSeconds < 0.8 || p.DurationSeconds < 1.3 {
		t.Fatalf("pause in the record: %+v", p)
	}
	status, body = e.api("GET", rec.Recording.URL, apiAuth, nil)
	if status != 200 {
		t.Fatalf("download: %d", status)
	}
	pcm, channels, _, err := wav.ReadInterleaved(bytes.NewReader(body))
	if err != nil || channels != 2 {
		t.Fatalf("wav: %d channels, %v", channels, err)
	}
	// Tones at 0.3 of full scale never stay under 200 for more than a
	// few samples; silence is exact zeros.
	for ch, name := range []string{"agent", "caller"} {
		start, n := quietRun(pcm, ch, 200)
		from, length := float64(start)/8000, float64(n)/8000
		t.Logf("%s channel: silent %.3f s from %.3f s; the record says %.3f s from %.3f s",
			name, length, from, p.DurationSeconds, p.OffsetSeconds)
		// The silence covers the pause: it starts where the pause was
		// asked (within the frame in flight) and ends where the resume
		// was. Audio still on its way at either moment (a late frame
		// under load) is dropped, or arrives later, and widens the gap by
		// its delay: more silence, never less.
		end, want := from+length, p.OffsetSeconds+p.DurationSeconds
		if from > p.OffsetSeconds+0.045 || end < want-0.065 || from < p.OffsetSeconds-0.2 || end > want+0.2 {
			t.Fatalf("%s channel: silence %.3f s from %.3f s, want %.3f s from %.3f s", name, length, from, p.DurationSeconds, p.OffsetSeconds)
		}
	}
	if total := float64(len(pcm)/2) / 8000; total < p.OffsetSeconds+p.DurationSeconds+0.8 {
		t.Fatalf("recording %.3f s ends too early", total)
	}

	status, body = e.api("GET", "/api/v1/audit", admin, nil)
	var audit struct {
		Items []struct{ Action, Target, ActorName string }
	}
	if err := json.Unmarshal(body, &audit); err != nil || status != 200 {
		t.Fatalf("audit: %d %s", status, body)
	}
	seen := map[string]string{}
	for _, it := range audit.Items {
		if it.Target == ring.ID || it.Target == "agent:1001" {
			seen[it.Action] = it.ActorName
		}
	}
	want := map[string]string{"recording_policy.put": "admin", "recording.start": "alice", "recording.pause": "crm", "recording.resume": "alice"}
	for action, who := range want {
		if seen[action] != who {
			t.Fatalf("audit %s by %q, want %q (seen %v)", action, seen[action], who, seen)
		}
	}
}
