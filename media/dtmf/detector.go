package dtmf

import "math"

// DTMF frequencies in Hz: the four rows (low group), then the four columns
// (high group).
var toneFreqs = [8]float64{697, 770, 852, 941, 1209, 1336, 1477, 1633}

// keypad[row][col] is the digit at that intersection.
var keypad = [4][4]rune{
	{'1', '2', '3', 'A'},
	{'4', '5', '6', 'B'},
	{'7', '8', '9', 'C'},
	{'*', '0', '#', 'D'},
}

// Detection thresholds. Powers are mean-square values in int16 units, so a
// sine of amplitude A has power A²/2.
const (
	// 205 samples at 8 kHz is the classic DTMF Goertzel block: bins are
	// 39 Hz wide, narrow enough to separate adjacent rows (73 Hz apart),
	// while the block stays short enough to resolve 40 ms presses.
	windowSeconds = 205.0 / 8000

	// Each tone must reach about -33 dBm0 (amplitude ≈ 500, taking a
	// full-scale sine as +3.17 dBm0), comfortably below the -25 dBm0 that
	// Q.24 requires receivers to accept.
	minTonePower = 500 * 500 / 2

	// The high group may be at most 4 dB stronger than the low group
	// (reverse twist) and at most 8 dB weaker (normal twist, which line
	// loss at higher frequencies produces).
	maxReverseTwist = 2.512 // 10^(4/10)
	maxNormalTwist  = 6.310 // 10^(8/10)

	// The winning row and column must each beat the runner-up in their
	// group by 8 dB; speech and noise rarely concentrate that sharply.
	minPeakRatio = 6.310

	// The two tones must carry this share of the window's energy, which
	// rejects speech (energy spread across harmonics), noise and extra
	// tones. A window only partly overlapping a press holds a share about
	// equal to the overlap, so this also sets the duration limits below.
	minEnergyShare = 0.75

	// Q.24 requires accepting tones up to 1.5% off nominal, where a single
	// filter 39 Hz wide would lose up to 6 dB at 1633 Hz and fail the
	// energy share. Probing ±1% as well keeps the loss under 1 dB.
	probeOffset = 0.01

	// Two consecutive agreeing windows half a window apart, each at least
	// 75% covered by the tone, need a press of 25.6-38 ms depending on how
	// it aligns with the windows: 38 ms presses are always detected and
	// shorter than 25.6 ms never (Q.24 asks for 40 and 23 ms).
	hitsToPress = 2
	// A window fails once more than 25% of it is silent, so three failing
	// windows need a gap of 13-26 ms: dropouts of 10 ms are bridged and
	// pauses of 40 ms always separate presses (both Q.24 requirements).
	missesToRelease = 3
)

// Detector finds DTMF key presses in linear PCM by running Goertzel filters
// for the eight DTMF frequencies over half-overlapping windows.
//
// Each key press is reported once: presses of 38 ms or more are always
// detected, presses shorter than 25.6 ms never, and holding the key does
// not repeat it. The same key is reported again only after a pause; pauses
// of 26 ms or more always count, 10 ms dropouts never do. A press is
// reported at most 45 ms after it starts. A Detector is not safe for
// concurrent use.
type Detector struct {
	n, hop int
	coef   [8][3]float64 // 2·cos(ω) per probe, rows then columns
	buf    []float64     // len n; the first fill samples are valid
	fill   int

	last   rune // classification of the previous window, 0 for none
	run    int  // consecutive windows classified as last
	held   rune // digit already reported and not yet released
	misses int  // consecutive windows not showing held
}

// NewDetector returns a Detector for PCM at sampleRate Hz; 0 or a negative
// rate means 8000. It panics if sampleRate is positive but too low to carry
// the 1633 Hz column tone.
func NewDetector(sampleRate int) *Detector {
	if sampleRate <= 0 {
		sampleRate = 8000
	}
	if sampleRate < 4000 {
		panic("dtmf: sample rate too low for DTMF")
	}
	n := int(math.Round(windowSeconds * float64(sampleRate)))
	d := &Detector{n: n, hop: n / 2, buf: make([]float64, n)}
	for i, f := range toneFreqs {
		for j, k := range [3]float64{1, 1 - probeOffset, 1 + probeOffset} {
			d.coef[i][j] = 2 * math.Cos(2*math.Pi*f*k/float64(sampleRate))
		}
	}
	return d
}

// Write feeds consecutive PCM samples and returns the key presses
// recognised within them, in order, or nil if there were none. Samples may
// be split across calls arbitrarily.
func (d *Detector) Write(pcm []int16) []rune {
	var out []rune
	for len(pcm) > 0 {
		k := min(d.n-d.fill, len(pcm))
		for i, s := range pcm[:k] {
			d.buf[d.fill+i] = float64(s)
		}
		pcm = pcm[k:]
		d.fill += k
		if d.fill < d.n {
			break
		}
		if r, ok := d.step(d.classify()); ok {
			out = append(out, r)
		}
		copy(d.buf, d.buf[d.hop:])
		d.fill = d.n - d.hop
	}
	return out
}

// Reset discards buffered audio and any key currently held.
func (d *Detector) Reset() {
	d.fill, d.last, d.run, d.held, d.misses = 0, 0, 0, 0, 0
}

// step advances the press state machine by one window classification and
// reports a press when one is recognised.
func (d *Detector) step(c rune) (rune, bool) {
	if c == d.last {
		d.run++
	} else {
		d.last, d.run = c, 1
	}
	if d.held != 0 {
		if c == d.held {
			d.misses = 0
		} else if d.misses++; d.misses >= missesToRelease {
			d.held = 0
		}
	}
	if c != 0 && c != d.held && d.run >= hitsToPress {
		d.held, d.misses = c, 0
		return c, true
	}
	return 0, false
}

// classify returns the digit present in the current window, or 0.
func (d *Detector) classify() rune {
	x := d.buf[:d.n]
	var energy float64
	for _, v := range x {
		energy += v * v
	}
	energy /= float64(d.n)
	if energy < minTonePower {
		return 0 // too quiet for any tone pair; skip the filters
	}

	var p [8]float64
	for i, probes := range d.coef {
		for _, c := range probes {
			p[i] = max(p[i], goertzel(x, c))
		}
	}

	row, rowP, ok := peak(p[:4])
	if !ok {
		return 0
	}
	col, colP, ok := peak(p[4:])
	if !ok {
		return 0
	}
	switch {
	case rowP < minTonePower, colP < minTonePower:
		return 0
	case colP > rowP*maxReverseTwist, rowP > colP*maxNormalTwist:
		return 0
	case rowP+colP < minEnergyShare*energy:
		return 0
	}
	return keypad[row][col]
}

// goertzel returns the power of x at the frequency whose coefficient is
// c = 2·cos(ω), scaled so that a sine of amplitude A at ω yields A²/2.
func goertzel(x []float64, c float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s1, s2 = v+c*s1-s2, s1
	}
	n := float64(len(x))
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / (n * n)
}

// peak returns the strongest of a group's powers, and whether it stands out
// from the others by minPeakRatio.
func peak(p []float64) (idx int, pow float64, ok bool) {
	for i, v := range p {
		if v > pow {
			idx, pow = i, v
		}
	}
	for i, v := range p {
		if i != idx && v*minPeakRatio > pow {
			return idx, pow, false
		}
	}
	return idx, pow, true
}
