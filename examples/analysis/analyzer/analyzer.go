// Package analyzer is a small post-call analysis service for ringbridge
// (docs/recordings.md §6), the engine of examples/analysis: it receives
// recording.analysis_requested webhooks (Standard Webhooks signatures
// checked, single events or batches), downloads each recording with an
// API key, measures it, and posts the result back to the call.
//
// What it measures is real but modest — no speech recognition: per
// channel (left our agent, right the far end) the share of 20 ms frames
// with speech-level energy (talk) and without (silence), and the DTMF
// digits heard in the audio (media/dtmf's Goertzel detector, on the far
// end's channel and ours). Swap Analyze for a vendor's transcription to
// get transcripts, keywords and sentiment.
//
// # Concurrency
//
// Handler serves each webhook request on the caller's goroutine (net/http
// gives each its own); requests share nothing but the immutable Config.
package analyzer

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/media/dtmf"
	"github.com/ringbridge/ringbridge/media/wav"
)

// Config is the service's configuration.
type Config struct {
	// Ringbridge is the product's base URL ("https://pbx.example:8443").
	Ringbridge string
	// APIKey is a ringbridge API key of the tenant (role api): it
	// downloads recordings and posts results.
	APIKey string
	// Secret is the webhook endpoint's signing secret ("whsec_…").
	Secret string
	// Client makes the requests to ringbridge (nil: a 30 s timeout client).
	Client *http.Client
	Log    *slog.Logger
}

// Provider names this service in results.
const Provider = "ringbridge-example-analyzer"

// talkLevel is the RMS (of 16-bit samples) above which a 20 ms frame
// counts as talk: about -40 dBFS, well above line noise and G.711's
// quantisation of silence.
const talkLevel = 330

// Result is what the service posts to ringbridge (cti.CallAnalysis).
type Result struct {
	RecordingID string             `json:"recordingId"`
	Provider    string             `json:"provider"`
	Transcript  string             `json:"transcript"`
	Keywords    []string           `json:"keywords"`
	Sentiment   *float64           `json:"sentiment"`
	Metrics     map[string]float64 `json:"metrics"`
	DTMF        string             `json:"dtmf,omitempty"`
}

// Analyze measures a stereo 8 kHz WAV recording.
func Analyze(r io.Reader) (Result, error) {
	pcm, channels, rate, err := wav.ReadInterleaved(r)
	if err != nil {
		return Result{}, err
	}
	if channels != 2 {
		return Result{}, fmt.Errorf("want a stereo recording, got %d channels", channels)
	}
	frame := rate / 50
	res := Result{Provider: Provider, Keywords: []string{}, Metrics: map[string]float64{}}
	var digits [2][]rune
	for ch, name := range []string{"agent", "caller"} {
		mono := make([]int16, 0, len(pcm)/2)
		for i := ch; i < len(pcm); i += 2 {
			mono = append(mono, pcm[i])
		}
		talk, total := 0, 0
		for i := 0; i+frame <= len(mono); i += frame {
			var sum float64
			for _, s := range mono[i : i+frame] {
				sum += float64(s) * float64(s)
			}
			if math.Sqrt(sum/float64(frame)) >= talkLevel {
				talk++
			}
			total++
		}
		ratio := 0.0
		if total > 0 {
			ratio = float64(talk) / float64(total)
		}
		res.Metrics[name+"TalkRatio"] = math.Round(ratio*1000) / 1000
		res.Metrics[name+"SilenceRatio"] = math.Round((1-ratio)*1000) / 1000
		det := dtmf.NewDetector(rate)
		for i := 0; i < len(mono); i += frame {
			digits[ch] = append(digits[ch], det.Write(mono[i:min(i+frame, len(mono))])...)
		}
	}
	res.Metrics["durationSeconds"] = math.Round(float64(len(pcm)/2)/float64(rate)*1000) / 1000
	// The far end's digits are what a caller pressed (a menu, a card
	// number read by keypad); ours are what the agent sent.
	res.DTMF = string(digits[1])
	if res.DTMF != "" {
		res.Keywords = append(res.Keywords, "dtmf")
	}
	if len(digits[0]) > 0 {
		res.Metrics["agentDigits"] = float64(len(digits[0]))
	}
	res.Transcript = fmt.Sprintf("[no speech recognition] agent talked %.0f%% of the time, caller %.0f%%; caller keyed %q",
		res.Metrics["agentTalkRatio"]*100, res.Metrics["callerTalkRatio"]*100, res.DTMF)
	return res, nil
}

// event is the part of a webhook envelope the service reads.
type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		CallID    string `json:"callId"`
		ResultURL string `json:"resultUrl"`
		Recording struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"recording"`
	} `json:"data"`
}

// Handler returns the webhook receiver. It answers 204 once every
// analysis of the request is posted, 401 for a bad signature, 400 for a
// body it cannot read, and 502 when ringbridge could not be reached or
// refused (so the outbox retries the whole request later).
func Handler(cfg Config) http.Handler {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, "read error", http.StatusBadRequest)
			return
		}
		if err := Verify(cfg.Secret, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var events []event
		if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
			err = json.Unmarshal(body, &events)
		} else {
			var ev event
			err = json.Unmarshal(body, &ev)
			events = []event{ev}
		}
		if err != nil {
			http.Error(w, "not a webhook body", http.StatusBadRequest)
			return
		}
		for _, ev := range events {
			if ev.Type != "recording.analysis_requested" {
				continue
			}
			if err := handle(r.Context(), cfg, ev); err != nil {
				cfg.Log.Warn("analysis failed; the outbox will retry", "event", ev.ID, "call", ev.Data.CallID, "err", err)
				http.Error(w, "analysis failed: "+err.Error(), http.StatusBadGateway)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// handle analyses one recording and posts the result.
func handle(ctx context.Context, cfg Config, ev event) error {
	d := ev.Data
	if d.Recording.URL == "" || d.ResultURL == "" || !strings.HasPrefix(d.Recording.URL, "/") || !strings.HasPrefix(d.ResultURL, "/") {
		return errors.New("event without recording url or result url")
	}
	req, err := http.NewRequestWithContext(ctx, "GET", cfg.Ringbridge+d.Recording.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	res, err := cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("downloading the recording: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("downloading the recording: HTTP %d", res.StatusCode)
	}
	result, err := Analyze(res.Body)
	if err != nil {
		return fmt.Errorf("reading the recording: %w", err)
	}
	result.RecordingID = d.Recording.ID
	b, _ := json.Marshal(result)
	post, err := http.NewRequestWithContext(ctx, "POST", cfg.Ringbridge+d.ResultURL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	post.Header.Set("Authorization", "Bearer "+cfg.APIKey)
	post.Header.Set("Content-Type", "application/json")
	pr, err := cfg.Client.Do(post)
	if err != nil {
		return fmt.Errorf("posting the result: %w", err)
	}
	defer pr.Body.Close()
	if pr.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(pr.Body, 1024))
		return fmt.Errorf("posting the result: HTTP %d %s", pr.StatusCode, msg)
	}
	cfg.Log.Info("analysed", "call", d.CallID, "recording", d.Recording.ID, "dtmf", result.DTMF, "metrics", result.Metrics)
	return nil
}

// Verify checks Standard Webhooks headers: the HMAC-SHA256 of
// "id.timestamp.body" under the secret, and a timestamp within five
// minutes of now (replays of old requests are refused).
func Verify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return errors.New("bad webhook secret")
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || math.Abs(now.Sub(time.Unix(ts, 0)).Seconds()) > 300 {
		return errors.New("webhook-timestamp missing or too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}
