package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/media/mediatest"
	"github.com/ringbridge/ringbridge/media/wav"
)

// A recorded call through the whole product, fetched the way a CRM
// would: the call record's download code, then GET with an API key. The
// file must hold the agent's tone on the left and the caller's on the
// right; without credentials, or with another code, nothing is served.
func TestE2ERecordingDownload(t *testing.T) {
	e := startE2E(t, func(c *Config) {
		c.Tenants = map[string]TenantConfig{"demo": {Record: true}}
	})
	status, body := e.api("POST", "/api/v1/api-keys", "Bearer "+e.login("admin"), map[string]string{"name": "crm"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}
	apiAuth := "Bearer " + key.Key

	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	heard := carrierAudio(call, 1000)
	a.hears(1000)
	if err := heard.WaitFor(e.ctx, 440); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a second of both tones on the recording
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")

	var rec struct {
		Recording *struct {
			Code string `json:"code"`
			URL  string `json:"url"`
		} `json:"recording"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for rec.Recording == nil && time.Now().Before(deadline) {
		status, body = e.api("GET", "/api/v1/calls/"+ring.ID, apiAuth, nil)
		if status == 200 {
			_ = json.Unmarshal(body, &rec)
		}
		if rec.Recording == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if rec.Recording == nil || rec.Recording.URL == "" {
		t.Fatalf("call record has no recording: %d %s", status, body)
	}
	if status, _ := e.api("GET", rec.Recording.URL, "", nil); status != 401 {
		t.Fatalf("download without credentials: %d, want 401", status)
	}
	if status, _ := e.api("GET", "/api/v1/recordings/not-a-code", apiAuth, nil); status != 400 {
		t.Fatalf("download with a garbage code: %d, want 400", status)
	}
	status, body = e.api("GET", rec.Recording.URL, apiAuth, nil)
	if status != 200 {
		t.Fatalf("download: %d %s", status, body)
	}
	pcm, channels, rate, err := wav.ReadInterleaved(bytes.NewReader(body))
	if err != nil || rate != 8000 || channels != 2 {
		t.Fatalf("recording: rate %d channels %d err %v", rate, channels, err)
	}
	left, right := mediatest.NewToneDetector(mediatest.ToneDetectorConfig{}), mediatest.NewToneDetector(mediatest.ToneDetectorConfig{})
	l, r := make([]int16, len(pcm)/2), make([]int16, len(pcm)/2)
	for i := range l {
		l[i], r[i] = pcm[2*i], pcm[2*i+1]
	}
	left.WritePCM(l)
	right.WritePCM(r)
	if !left.Detected(440) || left.Detected(1000) || !right.Detected(1000) || right.Detected(440) {
		t.Fatalf("channels: left 440=%v 1000=%v, right 1000=%v 440=%v", left.Detected(440), left.Detected(1000), right.Detected(1000), right.Detected(440))
	}
}
