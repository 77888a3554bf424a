package player

import (
	"math"

	"github.com/ringbridge/ringbridge/media/rtpio"
)

// Frames of 20 ms at 8 kHz.
const frameSamples = 160

// Part is one piece of a Sequence: a source for a number of frames (0:
// for ever).
type Part struct {
	Source Source
	Frames int
}

// Sequence plays parts in order; with Loop the last part repeats for ever
// (hold music after an announcement), otherwise silence follows and Done
// turns true.
type Sequence struct {
	parts []Part
	loop  bool
	i, n  int
}

// NewSequence plays parts in order.
func NewSequence(parts []Part, loop bool) *Sequence { return &Sequence{parts: parts, loop: loop} }

// Done reports whether a sequence without Loop has played everything.
func (s *Sequence) Done() bool { return !s.loop && s.i >= len(s.parts) }

// Next implements Source.
func (s *Sequence) Next(codec rtpio.Codec, dst []byte) {
	for s.i < len(s.parts) {
		p := s.parts[s.i]
		last := s.i == len(s.parts)-1
		if p.Frames == 0 || s.n < p.Frames || (last && s.loop) {
			p.Source.Next(codec, dst)
			s.n++
			return
		}
		s.i, s.n = s.i+1, 0
	}
	Silence{}.Next(codec, dst)
}

// Silence is a source of silence.
type Silence struct{}

// Next implements Source.
func (Silence) Next(codec rtpio.Codec, dst []byte) {
	var pcm [frameSamples]int16
	encode(codec, dst, pcm[:])
}

// dtmfFreqs are the row and column tones of each DTMF digit.
var dtmfFreqs = map[rune][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

// DualTone is the sum of two sines (a DTMF digit).
type DualTone struct{ a, b *Tone }

// NewDigit plays a DTMF digit's two tones; ok is false for a non-digit.
func NewDigit(d rune, amplitude float64) (*DualTone, bool) {
	f, ok := dtmfFreqs[d]
	if !ok {
		return nil, false
	}
	return &DualTone{a: NewTone(f[0], amplitude), b: NewTone(f[1], amplitude)}, true
}

// Next implements Source.
func (t *DualTone) Next(codec rtpio.Codec, dst []byte) {
	var pcm [frameSamples]int16
	for i := range pcm {
		pcm[i] = int16(t.a.amp*math.Sin(t.a.phase) + t.b.amp*math.Sin(t.b.phase))
		t.a.phase = math.Mod(t.a.phase+t.a.step, 2*math.Pi)
		t.b.phase = math.Mod(t.b.phase+t.b.step, 2*math.Pi)
	}
	encode(codec, dst, pcm[:])
}

// HoldMusic is the built-in hold music: a slow, quiet C-major arpeggio
// (C5, E5, G5, E5), 400 ms a note.
type HoldMusic struct {
	notes [4]*Tone
	frame int
}

// NewHoldMusic returns the built-in hold music.
func NewHoldMusic() *HoldMusic {
	return &HoldMusic{notes: [4]*Tone{NewTone(523.25, 0.15), NewTone(659.25, 0.15), NewTone(783.99, 0.15), NewTone(659.25, 0.15)}}
}

// Next implements Source.
func (m *HoldMusic) Next(codec rtpio.Codec, dst []byte) {
	m.notes[(m.frame/20)%len(m.notes)].Next(codec, dst)
	m.frame++
}

// Ringback is the ringing tone a caller hears while the far end rings:
// 425 Hz (the ITU-T recommendation), one second on, four off.
type Ringback struct {
	tone  *Tone
	frame int
}

// NewRingback returns the ringing tone.
func NewRingback() *Ringback { return &Ringback{tone: NewTone(425, 0.2)} }

// Next implements Source.
func (r *Ringback) Next(codec rtpio.Codec, dst []byte) {
	if r.frame%250 < 50 { // 5 s cadence of 20 ms frames: 1 s on
		r.tone.Next(codec, dst)
	} else {
		Silence{}.Next(codec, dst)
	}
	r.frame++
}
