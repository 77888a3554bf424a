package cti

import (
	"context"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Post-call analysis (docs/recordings.md §6): when a tenant enables
// RecordingAnalysis, each recorded call, once ended, publishes
// recording.analysis_requested with the recording's download code and the
// call record. An analysis service subscribes to that event like any
// webhook endpoint, so the request travels through the durable outbox
// (signed, retried, rate-limited, batched). The service fetches the WAV
// with an API key of the tenant and posts its result to
// POST /api/v1/calls/{id}/analysis with the same key; the result is
// stored on the call record and published as recording.analyzed, in one
// transaction.

const (
	// EventAnalysisRequested asks the analysis endpoint to analyse a
	// recorded call. Data: AnalysisRequest.
	EventAnalysisRequested EventType = "recording.analysis_requested"
	// EventRecordingAnalyzed carries an analysis result to CRMs. Data:
	// AnalysisResult.
	EventRecordingAnalyzed EventType = "recording.analyzed"
)

// AnalysisRequest is the data of recording.analysis_requested.
type AnalysisRequest struct {
	CallID    string         `json:"callId"`
	Recording RecordingReady `json:"recording"`
	Call      CallRecord     `json:"call"`
	// ResultURL is where the service posts its CallAnalysis.
	ResultURL string `json:"resultUrl"`
}

// CallAnalysis is what an analysis service found in a call's recording.
type CallAnalysis struct {
	RecordingID string   `json:"recordingId"`
	Provider    string   `json:"provider,omitempty"`
	Transcript  string   `json:"transcript"`
	Keywords    []string `json:"keywords"`
	// Sentiment runs from -1 (negative) to 1 (positive); null when the
	// service does not judge it.
	Sentiment *float64 `json:"sentiment"`
	// Metrics are named numbers (agentTalkRatio, callerTalkRatio, …).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// DTMF is the digits heard in the audio, in order.
	DTMF       string    `json:"dtmf,omitempty"`
	AnalyzedAt time.Time `json:"analyzedAt"`
}

// AnalysisResult is the data of recording.analyzed.
type AnalysisResult struct {
	CallID   string       `json:"callId"`
	Analysis CallAnalysis `json:"analysis"`
}

// Limits of an analysis result.
const (
	maxTranscript = 200_000
	maxKeywords   = 100
	maxKeywordLen = 64
	maxMetrics    = 50
)

// requestAnalysis publishes the analysis request of a recorded call
// whose tenant wants it. Runs on the call's goroutine after
// recording.ready.
func (s *Service) requestAnalysis(log *slog.Logger, ready *RecordingReady, rec CallRecord) {
	if ready == nil || ready.Voicemail || !s.tenant(ready.TenantID).RecordingAnalysis {
		return
	}
	req := AnalysisRequest{CallID: rec.ID, Recording: *ready, Call: rec, ResultURL: "/api/v1/calls/" + rec.ID + "/analysis"}
	if err := s.publish(EventAnalysisRequested, rec.TenantID, rec.ID, &req); err != nil {
		log.Error("requesting the recording's analysis", "err", err)
	}
}

// SubmitAnalysis stores an analysis service's result on a finished
// call's record and publishes recording.analyzed (one transaction). The
// tenant's integrations (API keys) and admins may submit; the result must
// name the call's recording. The same result submitted again (a retry
// whose answer was lost) changes nothing and publishes nothing.
func (s *Service) SubmitAnalysis(ctx context.Context, p Principal, callID string, a CallAnalysis) (*CallRecord, error) {
	if err := p.require(rolesIntegrate, "submit recording analyses"); err != nil {
		return nil, err
	}
	if err := cleanAnalysis(&a); err != nil {
		return nil, err
	}
	rec, err := s.store.GetCallRecord(ctx, p.TenantID, callID)
	if err != nil {
		return nil, err
	}
	if rec.Recording == nil {
		return nil, Errorf(KindConflict, "call %s has no recording to analyse", callID)
	}
	meta, err := s.store.GetRecording(ctx, p.TenantID, a.RecordingID)
	if err != nil || meta.CallID != callID {
		return nil, &Error{Kind: KindInvalid, Message: "recordingId does not name this call's recording",
			Fields: []FieldError{{Field: "recordingId", Message: "not this call's recording"}}}
	}
	if old := rec.Analysis; old != nil {
		same := *old
		same.AnalyzedAt = a.AnalyzedAt
		if reflect.DeepEqual(same, a) {
			return rec, nil
		}
	}
	rec.Analysis = &a
	if err := s.publishWith(EventRecordingAnalyzed, rec.TenantID, rec.ID, &AnalysisResult{CallID: rec.ID, Analysis: a},
		&EventState{CallRecord: rec}); err != nil {
		return nil, err
	}
	return rec, nil
}

// cleanAnalysis validates a result and fills its time.
func cleanAnalysis(a *CallAnalysis) error {
	var f fieldErrors
	if a.RecordingID == "" {
		f.add("recordingId", "required: the id from recording.analysis_requested")
	}
	if utf8.RuneCountInString(a.Transcript) > maxTranscript {
		f.add("transcript", "longer than %d characters", maxTranscript)
	}
	if len(a.Provider) > 64 {
		f.add("provider", "longer than 64 characters")
	}
	if len(a.Keywords) > maxKeywords {
		f.add("keywords", "more than %d", maxKeywords)
	}
	if a.Keywords == nil {
		a.Keywords = []string{}
	}
	for i, k := range a.Keywords {
		a.Keywords[i] = strings.TrimSpace(k)
		if a.Keywords[i] == "" || utf8.RuneCountInString(a.Keywords[i]) > maxKeywordLen {
			f.add("keywords", "%q: 1–%d characters", k, maxKeywordLen)
		}
	}
	a.Keywords = slices.Compact(a.Keywords)
	if a.Sentiment != nil && (math.IsNaN(*a.Sentiment) || *a.Sentiment < -1 || *a.Sentiment > 1) {
		f.add("sentiment", "want -1 to 1")
	}
	if len(a.Metrics) > maxMetrics {
		f.add("metrics", "more than %d", maxMetrics)
	}
	for k, v := range a.Metrics {
		if k == "" || len(k) > 64 || math.IsNaN(v) || math.IsInf(v, 0) {
			f.add("metrics", "%q: a name of 1–64 characters and a finite number", k)
		}
	}
	if len(a.DTMF) > 256 || strings.Trim(a.DTMF, "0123456789*#ABCD") != "" {
		f.add("dtmf", "want up to 256 of 0-9 * # A-D")
	}
	if a.AnalyzedAt.IsZero() {
		a.AnalyzedAt = time.Now().UTC()
	}
	return f.err()
}
