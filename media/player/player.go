// Package player makes audio to play into a call: tones and sampled
// audio (prompts, WAV files), delivered as 20 ms G.711 frames.
package player

import (
	"math"

	"github.com/ringbridge/ringbridge/media/g711"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Source fills one 20 ms frame (160 bytes) in the given codec.
type Source interface {
	Next(codec rtpio.Codec, dst []byte)
}

// Tone is a sine source with continuous phase across frames.
type Tone struct {
	step, phase, amp float64
	pcm              [160]int16
}

// NewTone plays freq Hz at amplitude (fraction of full scale).
func NewTone(freq, amplitude float64) *Tone {
	return &Tone{step: 2 * math.Pi * freq / 8000, amp: amplitude * 32767}
}

// Next implements Source.
func (t *Tone) Next(codec rtpio.Codec, dst []byte) {
	for i := range t.pcm {
		t.pcm[i] = int16(t.amp * math.Sin(t.phase))
		t.phase += t.step
		if t.phase > 2*math.Pi {
			t.phase -= 2 * math.Pi
		}
	}
	encode(codec, dst, t.pcm[:])
}

// Samples plays 8 kHz PCM in a loop.
type Samples struct {
	pcm []int16
	pos int
	buf [160]int16
}

// NewSamples plays pcm recorded at rate; other rates than 8 kHz are
// brought down by averaging (good enough for prompts, not for music).
func NewSamples(pcm []int16, rate int) *Samples {
	if rate > 8000 && rate%8000 == 0 {
		k := rate / 8000
		out := make([]int16, len(pcm)/k)
		for i := range out {
			var sum int
			for j := range k {
				sum += int(pcm[i*k+j])
			}
			out[i] = int16(sum / k)
		}
		pcm = out
	}
	if len(pcm) == 0 {
		pcm = make([]int16, 160)
	}
	return &Samples{pcm: pcm}
}

// Next implements Source.
func (s *Samples) Next(codec rtpio.Codec, dst []byte) {
	for i := range s.buf {
		s.buf[i] = s.pcm[s.pos]
		s.pos = (s.pos + 1) % len(s.pcm)
	}
	encode(codec, dst, s.buf[:])
}

func encode(codec rtpio.Codec, dst []byte, pcm []int16) {
	if codec == rtpio.CodecPCMA {
		g711.EncodeAlawTo(dst, pcm)
		return
	}
	g711.EncodeUlawTo(dst, pcm)
}
