package mediatest

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// probes spans the telephone band so "nothing detected" is checked broadly.
func probes() []float64 {
	var fs []float64
	for f := 200.0; f <= 3400; f += 50 {
		fs = append(fs, f)
	}
	return fs
}

func feedPCM(d *ToneDetector, g *ToneGenerator, frames int) {
	buf := make([]int16, G711FrameSize)
	for range frames {
		g.NextFrame(buf)
		d.WritePCM(buf)
	}
}

func TestDetectsOnlyTheToneSent(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{})
	feedPCM(d, NewToneGenerator(440, 0.3, 8000), 25)
	if !d.Detected(440) {
		t.Fatal("440 Hz not detected")
	}
	for _, f := range []float64{1000, 500, 380, 880} {
		if d.Detected(f) {
			t.Errorf("%g Hz detected though only 440 Hz was sent", f)
		}
	}
	if f, ok := d.DominantFrequency([]float64{350, 440, 1000}); !ok || f != 440 {
		t.Errorf("DominantFrequency = %g, %v; want 440", f, ok)
	}
	if d.Frames() != 25 {
		t.Errorf("Frames = %d, want 25", d.Frames())
	}
}

func TestDetectsThroughG711(t *testing.T) {
	for _, codec := range []string{"PCMU", "PCMA"} {
		d := NewToneDetector(ToneDetectorConfig{})
		g := NewToneGenerator(440, 0.05, 8000) // quiet: G.711 noise matters more
		payload := make([]byte, G711FrameSize)
		for range 15 {
			if codec == "PCMU" {
				g.NextPCMU(payload)
				d.WriteUlaw(payload)
			} else {
				g.NextPCMA(payload)
				d.WriteAlaw(payload)
			}
		}
		if !d.Detected(440) || d.Detected(1000) {
			t.Errorf("%s: Detected(440)=%v Detected(1000)=%v", codec, d.Detected(440), d.Detected(1000))
		}
	}
}

func TestSilenceAndNoiseDetectNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	noise := make([]int16, 100*G711FrameSize)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 5000)
	}
	silence := make([]byte, 100*G711FrameSize)
	for i := range silence {
		silence[i] = 0xFF // μ-law zero
	}
	cases := map[string]func(*ToneDetector){
		"silence": func(d *ToneDetector) { d.WriteUlaw(silence) },
		"noise":   func(d *ToneDetector) { d.WritePCM(noise) },
	}
	for name, write := range cases {
		d := NewToneDetector(ToneDetectorConfig{})
		write(d)
		for _, f := range probes() {
			if d.Detected(f) {
				t.Errorf("%s: %g Hz detected", name, f)
			}
		}
		if f, ok := d.DominantFrequency(probes()); ok {
			t.Errorf("%s: DominantFrequency = %g", name, f)
		}
	}
}

func TestRequiresConsecutiveFrames(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{MinFrames: 5})
	g := NewToneGenerator(440, 0.3, 8000)
	quiet := NewToneGenerator(0, 0, 8000)
	feedPCM(d, g, 4)
	feedPCM(d, quiet, 1)
	feedPCM(d, g, 4)
	if d.Detected(440) {
		t.Fatal("two 4-frame bursts counted as 5 consecutive frames")
	}
	feedPCM(d, g, 1)
	if !d.Detected(440) {
		t.Fatal("5 consecutive frames not detected")
	}
}

func TestDominanceRejectsMixes(t *testing.T) {
	mix := func(a440, a1000 float64) *ToneDetector {
		d := NewToneDetector(ToneDetectorConfig{})
		feedPCM(d, NewMultiToneGenerator(8000, Tone{440, a440}, Tone{1000, a1000}), 20)
		return d
	}
	if d := mix(0.2, 0.2); d.Detected(440) || d.Detected(1000) {
		t.Error("equal mix: one tone reported dominant")
	}
	if d := mix(0.3, 0.05); !d.Detected(440) || d.Detected(1000) {
		t.Error("440 Hz 15 dB above 1000 Hz should be the only detection")
	}
	// Too quiet for MinPower, though perfectly clean.
	d := NewToneDetector(ToneDetectorConfig{})
	feedPCM(d, NewToneGenerator(440, 0.005, 8000), 20)
	if d.Detected(440) {
		t.Error("-46 dBFS tone detected")
	}
}

func TestDominantFrequencyPrefersLongestRun(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{})
	feedPCM(d, NewToneGenerator(440, 0.3, 8000), 12)
	feedPCM(d, NewToneGenerator(1000, 0.3, 8000), 30)
	if f, ok := d.DominantFrequency([]float64{440, 1000, 2000}); !ok || f != 1000 {
		t.Errorf("DominantFrequency = %g, %v; want 1000", f, ok)
	}
	d.Reset()
	if d.Detected(1000) || d.Frames() != 0 {
		t.Errorf("after Reset: Detected(1000)=%v Frames=%d", d.Detected(1000), d.Frames())
	}
}

func TestHistoryIsBounded(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{MaxHistory: time.Second})
	feedPCM(d, NewToneGenerator(440, 0.3, 8000), 20)
	feedPCM(d, NewToneGenerator(0, 0, 8000), 200) // 4 s of silence
	if d.Detected(440) {
		t.Error("tone older than MaxHistory still detected")
	}
	if d.Frames() != 220 {
		t.Errorf("Frames = %d, want 220 (trimming must not lose count)", d.Frames())
	}
}

func TestWaitFor(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{})
	var wg sync.WaitGroup
	wg.Go(func() {
		g := NewToneGenerator(440, 0.3, 8000)
		payload := make([]byte, G711FrameSize)
		// Odd-sized writes check that frames are cut from the stream,
		// not from the writes.
		for range 30 {
			g.NextPCMU(payload)
			d.WriteUlaw(payload[:100])
			d.WriteUlaw(payload[100:])
			d.Detected(440) // concurrent readers are allowed too
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := d.WaitFor(ctx, 440); err != nil {
		t.Fatalf("WaitFor(440): %v", err)
	}
	wg.Wait()

	// Already detected: returns at once even with a cancelled context.
	done, cancelDone := context.WithCancel(t.Context())
	cancelDone()
	if err := d.WaitFor(done, 440); err != nil {
		t.Fatalf("WaitFor on past detection: %v", err)
	}

	short, cancelShort := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelShort()
	err := d.WaitFor(short, 1000)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor(1000) = %v, want deadline exceeded", err)
	}
	if !strings.Contains(err.Error(), "1000 Hz not detected in 30 frames") {
		t.Errorf("error lacks diagnostics: %v", err)
	}
}

func TestWaitForWakesOnWrite(t *testing.T) {
	d := NewToneDetector(ToneDetectorConfig{MinFrames: 3})
	result := make(chan error, 1)
	go func() { result <- d.WaitFor(t.Context(), 1000) }()

	g := NewToneGenerator(1000, 0.3, 8000)
	buf := make([]int16, G711FrameSize)
	// tone, tone, gap, tone, tone: never three in a row.
	for i := range 5 {
		g.NextFrame(buf)
		if i == 2 {
			clear(buf)
		}
		d.WritePCM(buf)
	}
	select {
	case err := <-result:
		t.Fatalf("WaitFor returned without 3 consecutive frames: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	g.NextFrame(buf)
	d.WritePCM(buf)
	select {
	case err := <-result:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitFor did not wake after the third frame")
	}
}
