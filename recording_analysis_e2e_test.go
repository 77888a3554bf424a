package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/examples/analysis/analyzer"
	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// callerScript is what the test caller says: a second of 1000 Hz, the
// in-band DTMF digits 4 and 2 (120 ms each, 120 ms apart), then silence.
type callerScript struct{ n int }

func (s *callerScript) next(_ rtpio.Codec, dst []byte) {
	for i := range dst {
		t := float64(s.n) / 8000
		var v float64
		switch ms := s.n / 8; {
		case ms < 1000:
			v = 0.3 * math.Sin(2*math.Pi*1000*t)
		case ms >= 1100 && ms < 1220: // '4': 770 + 1209 Hz
			v = 0.25*math.Sin(2*math.Pi*770*t) + 0.25*math.Sin(2*math.Pi*1209*t)
		case ms >= 1340 && ms < 1460: // '2': 697 + 1336 Hz
			v = 0.25*math.Sin(2*math.Pi*697*t) + 0.25*math.Sin(2*math.Pi*1336*t)
		}
		dst[i] = g711.EncodeUlaw(int16(v * 32767))
		s.n++
	}
}

// Post-call analysis end to end: a recorded call (the agent sends a tone
// throughout, the caller a second of tone, two in-band DTMF digits, then
// silence) goes, once ended, through the outbox to the example analysis
// service (examples/analysis, on a real HTTP server), which downloads the
// WAV with an API key, measures it and posts its result back. The result
// lands on the call record, and the stand-in CRM receives exactly one
// recording.analyzed, correctly signed, even when the service posts the
// same result twice.
func TestE2ERecordingAnalysis(t *testing.T) {
	type hit struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var crmHits []hit
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		crmHits = append(crmHits, hit{r.Header.Clone(), b})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer crm.Close()
	e := startE2E(t, func(c *Config) {
		c.WebhookAllowPrivate = []string{"127.0.0.1/32"}
		c.Tenants = map[string]TenantConfig{"demo": {Record: true}}
	})
	admin := "Bearer " + e.login("admin")
	if status, body := e.api("PATCH", "/api/v1/settings", admin, map[string]bool{"recordingAnalysis": true}); status != 200 {
		t.Fatalf("settings: %d %s", status, body)
	}
	status, body := e.api("POST", "/api/v1/api-keys", admin, map[string]string{"name": "analysis"})
	var key struct{ Key string }
	if err := json.Unmarshal(body, &key); err != nil || status != 201 {
		t.Fatalf("api key: %d %s", status, body)
	}

	// The analysis service: its address first, for the endpoint; then
	// the endpoint's secret, for the service.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type endpoint struct{ ID, Secret string }
	mkEndpoint := func(cfg map[string]any) endpoint {
		status, body := e.api("POST", "/api/v1/webhooks", admin, cfg)
		var ep endpoint
		if err := json.Unmarshal(body, &ep); err != nil || status != 201 || ep.Secret == "" {
			t.Fatalf("webhook %v: %d %s", cfg, status, body)
		}
		return ep
	}
	svcEP := mkEndpoint(map[string]any{"url": "http://" + ln.Addr().String() + "/analyze",
		"events": []string{"recording.analysis_requested"}, "batchSize": 10, "rateLimit": map[string]int{"perMinute": 120},
		"retry": map[string]any{"intervals": []string{"1s", "2s"}}})
	crmEP := mkEndpoint(map[string]any{"url": crm.URL + "/events", "events": []string{"recording.analyzed"}})
	srv := &http.Server{Handler: analyzer.Handler(analyzer.Config{Ringbridge: e.base, APIKey: key.Key, Secret: svcEP.Secret}),
		ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		srv.Close()
		<-served
	}()

	a := e.signIn("alice", 440)
	ring, call := e.ringAndAnswer(a, "1001")
	script := &callerScript{}
	call.SendAudio(script.next)
	a.hears(1000)
	time.Sleep(3 * time.Second) // tone, digits, a second and a half of silence
	if err := call.Hangup(e.ctx); err != nil {
		t.Fatal(err)
	}
	a.waitCall("ended")

	var rec struct {
		Analysis *struct {
			RecordingID, Provider, Transcript, DTMF string
			Keywords                                []string
			Metrics                                 map[string]float64
		} `json:"analysis"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for rec.Analysis == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no analysis on the call record: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
		if status, body = e.api("GET", "/api/v1/calls/"+ring.ID, admin, nil); status == 200 {
			_ = json.Unmarshal(body, &rec)
		}
	}
	an := rec.Analysis
	t.Logf("analysis: dtmf %q, metrics %v", an.DTMF, an.Metrics)
	if an.DTMF != "42" || !slices.Contains(an.Keywords, "dtmf") || an.Provider != analyzer.Provider {
		t.Fatalf("analysis %+v", an)
	}
	agentTalk, callerTalk := an.Metrics["agentTalkRatio"], an.Metrics["callerTalkRatio"]
	if agentTalk < 0.85 || callerTalk < 0.15 || callerTalk > agentTalk-0.2 {
		t.Fatalf("talk ratios: agent %.3f, caller %.3f", agentTalk, callerTalk)
	}

	// The CRM hears of it once, signed; a repeated submission (the
	// service retrying after a lost answer) publishes nothing new.
	var first hit
	for {
		mu.Lock()
		n := len(crmHits)
		if n > 0 {
			first = crmHits[0]
		}
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the CRM never received recording.analyzed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := verifyStandardWebhook(crmEP.Secret, first.header, first.body); err != nil {
		t.Fatalf("CRM signature: %v", err)
	}
	var env struct {
		Type, CallID string
		Data         struct {
			CallID   string
			Analysis struct{ DTMF string }
		}
	}
	if err := json.Unmarshal(first.body, &env); err != nil || env.Type != "recording.analyzed" || env.Data.CallID != ring.ID || env.Data.Analysis.DTMF != "42" {
		t.Fatalf("CRM event %s", first.body)
	}
	again := map[string]any{"recordingId": an.RecordingID, "provider": an.Provider, "transcript": an.Transcript,
		"keywords": an.Keywords, "sentiment": nil, "metrics": an.Metrics, "dtmf": an.DTMF}
	if status, body := e.api("POST", "/api/v1/calls/"+ring.ID+"/analysis", "Bearer "+key.Key, again); status != 200 {
		t.Fatalf("repeated result: %d %s", status, body)
	}
	status, body = e.api("GET", "/api/v1/webhooks/"+crmEP.ID+"/deliveries", admin, nil)
	var dl struct {
		Items []struct{ Type, Status string }
	}
	if err := json.Unmarshal(body, &dl); err != nil || status != 200 || len(dl.Items) != 1 {
		t.Fatalf("CRM deliveries: %d %s", status, body)
	}
	status, body = e.api("GET", "/api/v1/webhooks/"+svcEP.ID+"/deliveries?status=delivered", admin, nil)
	if err := json.Unmarshal(body, &dl); err != nil || status != 200 || len(dl.Items) != 1 {
		t.Fatalf("analysis deliveries: %d %s", status, body)
	}

	// Results come only with the tenant's credentials and in shape.
	agentTok := "Bearer " + e.login("alice")
	for _, c := range []struct {
		auth string
		body map[string]any
		want int
	}{
		{"", again, 401},
		{agentTok, again, 403},
		{"Bearer " + key.Key, map[string]any{"recordingId": an.RecordingID, "sentiment": 3}, 400},
		{"Bearer " + key.Key, map[string]any{"recordingId": "rec_other"}, 400},
	} {
		if status, body := e.api("POST", "/api/v1/calls/"+ring.ID+"/analysis", c.auth, c.body); status != c.want {
			t.Fatalf("POST analysis (%q, %v): %d %s, want %d", c.auth, c.body, status, body, c.want)
		}
	}
	// Let the outbox settle: still exactly one event at the CRM.
	ctx, cancel := context.WithTimeout(e.ctx, time.Second)
	defer cancel()
	<-ctx.Done()
	mu.Lock()
	defer mu.Unlock()
	if len(crmHits) != 1 {
		t.Fatalf("the CRM received %d requests, want 1", len(crmHits))
	}
}
