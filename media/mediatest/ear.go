package mediatest

import (
	"context"
	"testing"
	"time"
)

// MixedEar is a detector for audio that sums several tones (a mixed call:
// each party's tone holds only part of the energy).
func MixedEar() *ToneDetector {
	return NewToneDetector(ToneDetectorConfig{Dominance: 0.2})
}

// HearsAll waits, for up to 10 s each, for every tone in what det decodes
// from now on, and fails the test naming who does not hear which.
func HearsAll(t testing.TB, ctx context.Context, who string, det *ToneDetector, freqs ...float64) {
	t.Helper()
	det.Reset()
	for _, f := range freqs {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := det.WaitFor(wctx, f)
		cancel()
		if err != nil {
			t.Fatalf("%s does not hear %.0f Hz: %v", who, f, err)
		}
	}
}

// NotHeard checks that det hears live (so the path carries audio) and,
// for a second after, never absent.
func NotHeard(t testing.TB, ctx context.Context, who string, det *ToneDetector, live, absent float64) {
	t.Helper()
	HearsAll(t, ctx, who, det, live)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if det.Detected(absent) {
			t.Fatalf("%s hears %.0f Hz, which it must not", who, absent)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
