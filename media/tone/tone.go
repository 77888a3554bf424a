// Package tone tells whether a call carries a given tone: a Goertzel
// filter per 20 ms frame and a run counter. ringbridge dial -expect uses it
// as an audio check ("can the other side hear me?").
package tone

import (
	"math"
	"sync"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Power is the normalised power of freq in pcm (a full-scale sine gives
// 0.5), by the Goertzel algorithm.
func Power(pcm []int16, freq float64, rate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*freq/float64(rate))
	var s1, s2 float64
	for _, v := range pcm {
		s := float64(v)/32768 + coeff*s1 - s2
		s2, s1 = s1, s
	}
	p := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(pcm))
	return 2 * p / (n * n)
}

// Meter listens for one frequency in 8 kHz G.711 frames.
type Meter struct {
	freq   float64
	minRun int
	mu     sync.Mutex
	run    int
	best   int
	frames int
	pcm    [160]int16
}

// NewMeter detects freq once it dominates minRun consecutive frames.
func NewMeter(freq float64, minRun int) *Meter { return &Meter{freq: freq, minRun: minRun} }

// Write adds one G.711 frame.
func (m *Meter) Write(codec rtpio.Codec, payload []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := min(len(payload), len(m.pcm))
	if codec == rtpio.CodecPCMA {
		g711.DecodeAlawTo(m.pcm[:n], payload[:n])
	} else {
		g711.DecodeUlawTo(m.pcm[:n], payload[:n])
	}
	frame := m.pcm[:n]
	var total float64
	for _, v := range frame {
		f := float64(v) / 32768
		total += f * f
	}
	total /= float64(max(n, 1))
	// The tone must carry most of the frame's energy and be audible.
	if p := Power(frame, m.freq, 8000); p > 1e-4 && p > 0.6*total {
		m.run++
		m.frames++
	} else {
		m.run = 0
	}
	m.best = max(m.best, m.run)
}

// Frames counts the frames that carried the tone so far: a caller
// watching it grow knows the tone is heard now, not only once.
func (m *Meter) Frames() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.frames
}

// Heard reports whether the tone has been present long enough.
func (m *Meter) Heard() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.best >= m.minRun
}
