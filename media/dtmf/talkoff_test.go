package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Talk-off: an IVR listening for in-band keys hears the caller talk, or
// hold music played down the line. None of it may become a digit. Real
// recordings are not in the repository, so speech and music are
// synthesised here with the properties that make talk-off a risk: voiced
// speech is a harmonic series (a glottal pulse train) shaped by formant
// resonances that sweep through the DTMF bands, with pitch glides and
// fricatives; music is chords of harmonic-rich notes of the tempered
// scale, several of which sit within 1.5 % of a DTMF frequency (F5 ≈ 697,
// E6 ≈ 1336 Hz). Each case also carries real key presses afterwards, so a
// detector that stopped detecting anything would fail too. The speech is
// hard enough to matter: with the peak ratio loosened to 3 dB and the
// energy share to 45 %, the same minute of each talker gives digits.

// resonator is a two-pole band-pass filter (a formant).
type resonator struct {
	b0, a1, a2 float64
	y1, y2     float64
}

func (r *resonator) tune(freq, bw float64) {
	rad := math.Exp(-math.Pi * bw / rate)
	r.a1 = 2 * rad * math.Cos(2*math.Pi*freq/rate)
	r.a2 = -rad * rad
	r.b0 = 1 - rad
}

func (r *resonator) step(x float64) float64 {
	y := r.b0*x + r.a1*r.y1 + r.a2*r.y2
	r.y2, r.y1 = r.y1, y
	return y
}

// vowels are formant frequencies (F1, F2, F3 in Hz) of English vowels,
// after Peterson & Barney; with the speaker's scale applied.
var vowels = [][3]float64{
	{270, 2290, 3010}, // i
	{390, 1990, 2550}, // ɪ
	{530, 1840, 2480}, // ɛ
	{660, 1720, 2410}, // æ
	{730, 1090, 2440}, // ɑ
	{570, 840, 2410},  // ɔ
	{440, 1020, 2240}, // ʊ
	{300, 870, 2240},  // u
	{640, 1190, 2390}, // ʌ
	{490, 1350, 1690}, // ɝ
}

// speech synthesises seconds of a talker with base pitch f0 and formant
// scale (1 for a man, ~1.17 for a woman, ~1.3 for a child).
func speech(seed uint64, seconds, f0, scale float64) []int16 {
	rng := rand.New(rand.NewPCG(seed, seed*7+1))
	out := make([]int16, int(seconds*rate))
	var formants [3]resonator
	var hiss resonator
	hiss.tune(3500, 1500)
	cur := vowels[rng.IntN(len(vowels))]
	target := cur
	phase, pitch := 0.0, f0
	segLeft, voiced := 0, true
	for i := range out {
		if segLeft == 0 {
			// A new segment: mostly vowels, some fricatives and pauses.
			segLeft = int((0.08 + rng.Float64()*0.2) * rate)
			switch p := rng.Float64(); {
			case p < 0.75:
				voiced, target = true, vowels[rng.IntN(len(vowels))]
			case p < 0.9:
				voiced = false
			default:
				voiced, target = true, [3]float64{0, 0, 0} // a pause
			}
			pitch = f0 * (0.8 + rng.Float64()*0.5)
		}
		segLeft--
		// Formants glide toward the segment's vowel over ~30 ms.
		for k := range cur {
			if target[k] > 0 {
				cur[k] += (target[k]*scale - cur[k]) * 0.004
			}
		}
		bw := [3]float64{80, 100, 150}
		for k := range formants {
			formants[k].tune(cur[k], bw[k])
		}
		// Syllables swell and fade about four times a second.
		env := 0.5 + 0.5*math.Sin(2*math.Pi*4*float64(i)/rate+rng.Float64()*0.05)
		var x float64
		switch {
		case voiced && target[0] > 0:
			// A glottal pulse per period, with a little jitter.
			pitch *= 1 + (rng.Float64()-0.5)*0.002
			phase += pitch / rate
			if phase >= 1 {
				phase--
				x = 1
			}
			x = formants[0].step(x)*1.0 + formants[1].step(x)*0.6 + formants[2].step(x)*0.3
			x *= 60000 * env
		case !voiced:
			x = hiss.step(rng.NormFloat64()) * 9000 * env
		}
		out[i] = clip(x)
	}
	return out
}

// music synthesises seconds of chords: each chord holds three or four
// notes of the tempered scale for a beat, with piano-like harmonics that
// decay, and a melody note above it.
func music(seed uint64, seconds float64) []int16 {
	rng := rand.New(rand.NewPCG(seed, seed*3+5))
	out := make([]float64, int(seconds*rate))
	beat := int(0.35 * rate)
	// MIDI 57 (A3) … 88 (E6): the span that holds 697 (F5, MIDI 77)
	// and 1318.5 (E6) as well as their neighbours.
	note := func(midi int) float64 { return 440 * math.Pow(2, float64(midi-69)/12) }
	for start := 0; start < len(out); start += beat {
		root := 57 + rng.IntN(12)
		chord := []int{root, root + 4, root + 7}
		if rng.IntN(2) == 0 {
			chord = append(chord, root+12)
		}
		chord = append(chord, 76+rng.IntN(13)) // the melody, E5 … E6
		for _, m := range chord {
			f := note(m)
			amp := 2500 + rng.Float64()*1500
			for h := 1; h <= 6 && f*float64(h) < rate/2; h++ {
				hf := f * float64(h) * (1 + 0.0004*float64(h*h)) // a string's inharmonicity
				ha := amp / float64(h)
				for i := start; i < start+beat && i < len(out); i++ {
					t := float64(i-start) / rate
					out[i] += ha * math.Exp(-t*(2+float64(h))) * math.Sin(2*math.Pi*hf*t)
				}
			}
		}
	}
	pcm := make([]int16, len(out))
	for i, v := range out {
		pcm[i] = clip(v)
	}
	return pcm
}

func clip(x float64) int16 {
	return int16(max(-32768, min(32767, math.Round(x))))
}

func TestDetectorTalkOff(t *testing.T) {
	cases := map[string][]int16{
		"man":   speech(1, 60, 110, 1),
		"woman": speech(2, 60, 210, 1.17),
		"child": speech(3, 60, 300, 1.3),
		"music": music(4, 60),
	}
	for name, pcm := range cases {
		if got := run(NewDetector(rate), pcm, 160); got != "" {
			t.Errorf("%s: %d s without keys gave digits %q", name, len(pcm)/rate, got)
		}
		// The same audio is loud enough to matter, and keys pressed
		// after it are still heard.
		var peak int16
		for _, v := range pcm {
			peak = max(peak, v, -v)
		}
		if peak < 8000 {
			t.Errorf("%s: peak %d; too quiet to test talk-off", name, peak)
		}
		tail := append(append(append([]int16{}, pcm[len(pcm)-rate:]...), key('5', 80)...), silence(60)...)
		tail = append(append(tail, key('#', 80)...), silence(60)...)
		if got := run(NewDetector(rate), tail, 160); got != "5#" {
			t.Errorf("%s: keys after it gave %q, want \"5#\"", name, got)
		}
	}
}
