// Package mediatest provides audio helpers for tests that need to assert
// what a call leg actually carries: phase-continuous tone generators that
// emit linear PCM or G.711 payloads, and Goertzel-based tone detection.
//
// Levels use one convention throughout: a sample value of 1.0 is int16
// full scale (32767), and powers are mean-square values on that scale, so
// a sine of amplitude a has power a²/2 (0.5 at full scale, 0 dBFS sine).
package mediatest

import (
	"math"
	"time"

	"github.com/ringbridge/ringbridge/media/g711"
)

// FrameDuration is the packetisation interval the helpers assume: 20 ms,
// the SDP default ptime for PCMU/PCMA and the usual Opus frame.
const FrameDuration = 20 * time.Millisecond

// G711FrameSize is the number of samples (and payload bytes) in one 20 ms
// G.711 frame at 8 kHz.
const G711FrameSize = 160

// Tone is one sinusoidal component: Freq in Hz, Amplitude as a fraction of
// full scale (0.5 is about -6 dBFS).
type Tone struct {
	Freq      float64
	Amplitude float64
}

// ToneGenerator synthesises a sum of sines and keeps every component's
// phase across calls, so consecutive frames join without the clicks that
// restarting each frame at phase zero would add (and that a detector would
// see as broadband energy). It is not safe for concurrent use.
type ToneGenerator struct {
	rate   float64
	tones  []Tone
	phases []float64 // in cycles, [0, 1)
}

// NewToneGenerator returns a generator for a single tone of freq Hz at
// amplitude (fraction of full scale), sampled at sampleRate Hz.
func NewToneGenerator(freq, amplitude float64, sampleRate int) *ToneGenerator {
	return NewMultiToneGenerator(sampleRate, Tone{Freq: freq, Amplitude: amplitude})
}

// NewMultiToneGenerator returns a generator for the sum of tones, for
// example a DTMF pair or a tone mixed with an interfering one. Samples whose
// sum exceeds full scale are clipped.
func NewMultiToneGenerator(sampleRate int, tones ...Tone) *ToneGenerator {
	if sampleRate <= 0 {
		panic("mediatest: sample rate must be positive")
	}
	return &ToneGenerator{
		rate:   float64(sampleRate),
		tones:  append([]Tone(nil), tones...),
		phases: make([]float64, len(tones)),
	}
}

// NextFrame fills dst with the next len(dst) samples. Use a 20 ms buffer
// (sampleRate/50 samples) to mimic real packetisation.
func (g *ToneGenerator) NextFrame(dst []int16) {
	for i := range dst {
		dst[i] = g.next()
	}
}

// NextPCMU fills dst with the next len(dst) samples encoded as μ-law, a
// ready RTP payload for PCMU (160 bytes = 20 ms at 8 kHz).
func (g *ToneGenerator) NextPCMU(dst []byte) {
	for i := range dst {
		dst[i] = g711.EncodeUlaw(g.next())
	}
}

// NextPCMA fills dst with the next len(dst) samples encoded as A-law, a
// ready RTP payload for PCMA (160 bytes = 20 ms at 8 kHz).
func (g *ToneGenerator) NextPCMA(dst []byte) {
	for i := range dst {
		dst[i] = g711.EncodeAlaw(g.next())
	}
}

func (g *ToneGenerator) next() int16 {
	var v float64
	for k, t := range g.tones {
		v += t.Amplitude * math.Sin(2*math.Pi*g.phases[k])
		// Accumulating a wrapped phase rather than computing f·n/rate
		// keeps precision constant however long the generator runs.
		p := g.phases[k] + t.Freq/g.rate
		g.phases[k] = p - math.Floor(p)
	}
	return toSample(v)
}

func toSample(v float64) int16 {
	return int16(max(min(math.Round(v*math.MaxInt16), math.MaxInt16), math.MinInt16))
}

// Power returns the power of the freq Hz component of pcm, measured with a
// Goertzel filter over the whole slice and scaled so that a sine of
// amplitude a at exactly freq yields about a²/2, whatever len(pcm) is. The
// filter's bandwidth is about sampleRate/len(pcm) Hz, so a 20 ms frame
// resolves frequencies roughly 50 Hz apart. An empty slice has power 0.
func Power(pcm []int16, freq float64, sampleRate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	c := 2 * math.Cos(2*math.Pi*freq/float64(sampleRate))
	var s1, s2 float64
	for _, v := range pcm {
		s1, s2 = float64(v)/math.MaxInt16+c*s1-s2, s1
	}
	n := float64(len(pcm))
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / (n * n)
}

// MeanPower returns the mean-square level of pcm on the same scale as
// Power, so Power(pcm, f, r)/MeanPower(pcm) is the share of the signal's
// power at f. An empty slice has power 0.
func MeanPower(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		x := float64(v) / math.MaxInt16
		sum += x * x
	}
	return sum / float64(len(pcm))
}

// DBFS converts a power from Power or MeanPower to decibels relative to a
// full-scale sine, for readable test failure messages. Zero gives -Inf.
func DBFS(power float64) float64 {
	return 10 * math.Log10(power/0.5)
}
