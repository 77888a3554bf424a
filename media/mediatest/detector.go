package mediatest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/media/g711"
)

// ToneDetectorConfig tunes a ToneDetector. Zero fields take the defaults.
type ToneDetectorConfig struct {
	// SampleRate of the PCM passed to WritePCM, in Hz. Default 8000, which
	// WriteUlaw and WriteAlaw require since G.711 is 8 kHz by definition.
	SampleRate int
	// MinFrames is how many consecutive 20 ms frames a tone must dominate
	// to count as detected. Default 10 (200 ms): long enough that clicks,
	// comfort noise bursts and jitter-buffer glitches do not qualify.
	MinFrames int
	// MinPower is the least Power a dominant tone must have in a frame.
	// Default 1e-4 (-37 dBFS), well below any deliberately sent tone but
	// above G.711 idle noise.
	MinPower float64
	// Dominance is the least share of a frame's total power the tone must
	// hold. Default 0.7: noise and all other tones together stay under 30%,
	// so two tones further apart than the ~50 Hz resolution of a 20 ms
	// frame cannot both dominate it.
	Dominance float64
	// MaxHistory bounds the audio retained for analysis. Default 60 s.
	MaxHistory time.Duration
}

// ToneDetector accumulates the audio a test receives and answers whether a
// given tone has been heard. A frequency is dominant in a 20 ms frame when
// its Power is at least MinPower and at least Dominance of the frame's
// MeanPower; it is detected when it has been dominant for MinFrames
// consecutive frames anywhere in the retained history. Frames are cut from
// the concatenated stream, independent of how writes are sized.
//
// All methods are safe for concurrent use, so one goroutine can feed
// received packets while the test goroutine waits.
type ToneDetector struct {
	cfg       ToneDetectorConfig
	frameLen  int
	maxFrames int

	mu      sync.Mutex
	samples []int16 // retained audio; samples[0] starts frame base
	base    int     // absolute index of the first retained frame
	gen     int     // incremented by Reset, so waiters restart their runs
	resetAt int     // absolute frame index of the last Reset
	changed chan struct{}
}

// NewToneDetector returns an empty detector.
func NewToneDetector(cfg ToneDetectorConfig) *ToneDetector {
	if cfg.SampleRate <= 0 {
		cfg.SampleRate = 8000
	}
	if cfg.MinFrames <= 0 {
		cfg.MinFrames = 10
	}
	if cfg.MinPower <= 0 {
		cfg.MinPower = 1e-4
	}
	if cfg.Dominance <= 0 {
		cfg.Dominance = 0.7
	}
	if cfg.MaxHistory <= 0 {
		cfg.MaxHistory = time.Minute
	}
	frameLen := max(cfg.SampleRate*int(FrameDuration/time.Millisecond)/1000, 1)
	return &ToneDetector{
		cfg:       cfg,
		frameLen:  frameLen,
		maxFrames: max(int(cfg.MaxHistory/FrameDuration), cfg.MinFrames),
		changed:   make(chan struct{}),
	}
}

// WriteUlaw appends a PCMU payload. It panics unless SampleRate is 8000,
// since mixing rates would silently skew every measurement.
func (d *ToneDetector) WriteUlaw(payload []byte) {
	d.mustBeNarrowband()
	d.write(len(payload), func(dst []int16) { g711.DecodeUlawTo(dst, payload) })
}

// WriteAlaw appends a PCMA payload. It panics unless SampleRate is 8000.
func (d *ToneDetector) WriteAlaw(payload []byte) {
	d.mustBeNarrowband()
	d.write(len(payload), func(dst []int16) { g711.DecodeAlawTo(dst, payload) })
}

// WritePCM appends linear samples at the configured sample rate.
func (d *ToneDetector) WritePCM(pcm []int16) {
	d.write(len(pcm), func(dst []int16) { copy(dst, pcm) })
}

func (d *ToneDetector) mustBeNarrowband() {
	if d.cfg.SampleRate != 8000 {
		panic(fmt.Sprintf("mediatest: G.711 audio written to a %d Hz ToneDetector", d.cfg.SampleRate))
	}
}

func (d *ToneDetector) write(n int, fill func([]int16)) {
	if n == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	before := d.framesLocked()
	old := len(d.samples)
	d.samples = slices.Grow(d.samples, n)[:old+n]
	fill(d.samples[old:])
	if d.framesLocked() == before {
		return
	}
	// Drop old audio in large steps so the copy cost stays amortised.
	if retained := len(d.samples) / d.frameLen; retained > 2*d.maxFrames {
		drop := retained - d.maxFrames
		d.samples = append(d.samples[:0], d.samples[drop*d.frameLen:]...)
		d.base += drop
	}
	close(d.changed)
	d.changed = make(chan struct{})
}

// framesLocked returns the absolute index just past the last complete
// retained frame.
func (d *ToneDetector) framesLocked() int {
	return d.base + len(d.samples)/d.frameLen
}

// Frames returns how many complete 20 ms frames have been written since
// the detector was created or last Reset, so a test can tell "no tone"
// apart from "no audio at all".
func (d *ToneDetector) Frames() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.framesLocked() - d.resetAt
}

// Reset discards all audio, for example to check what is heard after a
// transfer or hold without the earlier audio counting.
func (d *ToneDetector) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.base = d.framesLocked()
	d.samples = d.samples[:0]
	d.gen++
	d.resetAt = d.base
	close(d.changed)
	d.changed = make(chan struct{})
}

// Detected reports whether freq has dominated MinFrames consecutive frames.
func (d *ToneDetector) Detected(freq float64) bool {
	return d.longestRun(freq) >= d.cfg.MinFrames
}

// DominantFrequency returns the candidate that has been detected over the
// longest run of frames (the first listed on a tie), or false if none has
// been detected.
func (d *ToneDetector) DominantFrequency(candidates []float64) (float64, bool) {
	best, bestRun := 0.0, 0
	for _, f := range candidates {
		if run := d.longestRun(f); run > bestRun {
			best, bestRun = f, run
		}
	}
	return best, bestRun >= d.cfg.MinFrames
}

func (d *ToneDetector) longestRun(freq float64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	best, run := 0, 0
	for i := d.base; i < d.framesLocked(); i++ {
		if d.dominantLocked(i, freq) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

func (d *ToneDetector) frameLocked(abs int) []int16 {
	off := (abs - d.base) * d.frameLen
	return d.samples[off : off+d.frameLen]
}

func (d *ToneDetector) dominantLocked(abs int, freq float64) bool {
	frame := d.frameLocked(abs)
	p := Power(frame, freq, d.cfg.SampleRate)
	return p >= d.cfg.MinPower && p >= d.cfg.Dominance*MeanPower(frame)
}

// WaitFor blocks until freq is detected, counting audio already written,
// or until ctx is done. The error then wraps ctx.Err() and says how close
// detection came and how loud the latest audio was, which usually tells a
// wrong tone from no audio at all.
func (d *ToneDetector) WaitFor(ctx context.Context, freq float64) error {
	d.mu.Lock()
	pos, gen, run, best := d.base, d.gen, 0, 0
	for {
		if gen != d.gen || pos < d.base {
			pos, gen, run, best = d.base, d.gen, 0, 0
		}
		// Only frames not yet examined are analysed, so waking on every
		// write costs one frame of work rather than a rescan.
		for ; pos < d.framesLocked(); pos++ {
			if !d.dominantLocked(pos, freq) {
				run = 0
				continue
			}
			run++
			best = max(best, run)
			if run >= d.cfg.MinFrames {
				d.mu.Unlock()
				return nil
			}
		}
		changed := d.changed
		frames := d.framesLocked() - d.resetAt
		level := math.Inf(-1)
		if pos > d.base {
			level = DBFS(MeanPower(d.frameLocked(pos - 1)))
		}
		d.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("mediatest: %g Hz not detected in %d frames: longest run %d of %d, last frame %.1f dBFS: %w",
				freq, frames, best, d.cfg.MinFrames, level, ctx.Err())
		}
		d.mu.Lock()
	}
}
