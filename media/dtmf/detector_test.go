package dtmf

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const rate = 8000

var digitFreqs = map[rune][2]float64{
	'1': {697, 1209}, '2': {697, 1336}, '3': {697, 1477}, 'A': {697, 1633},
	'4': {770, 1209}, '5': {770, 1336}, '6': {770, 1477}, 'B': {770, 1633},
	'7': {852, 1209}, '8': {852, 1336}, '9': {852, 1477}, 'C': {852, 1633},
	'*': {941, 1209}, '0': {941, 1336}, '#': {941, 1477}, 'D': {941, 1633},
}

// tones synthesises ms milliseconds of the given sines (amplitudes in int16
// units) at 8 kHz. An independent oscillator from the detector's filters.
func tones(ms int, freqs []float64, amps []float64) []int16 {
	out := make([]int16, ms*rate/1000)
	for i := range out {
		var v float64
		for k, f := range freqs {
			v += amps[k] * math.Sin(2*math.Pi*f*float64(i)/rate)
		}
		out[i] = int16(math.Round(v))
	}
	return out
}

func key(d rune, ms int) []int16 {
	f := digitFreqs[d]
	return tones(ms, f[:], []float64{7000, 7000})
}

func silence(ms int) []int16 { return make([]int16, ms*rate/1000) }

// run feeds pcm in chunks of the given size and collects the digits.
func run(d *Detector, pcm []int16, chunk int) string {
	var sb strings.Builder
	for len(pcm) > 0 {
		n := min(chunk, len(pcm))
		for _, r := range d.Write(pcm[:n]) {
			sb.WriteRune(r)
		}
		pcm = pcm[n:]
	}
	return sb.String()
}

func TestDetectorAllDigits(t *testing.T) {
	const want = "0123456789*#ABCD"
	var pcm []int16
	pcm = append(pcm, silence(30)...)
	for _, r := range want {
		pcm = append(pcm, key(r, 80)...)
		pcm = append(pcm, silence(60)...)
	}
	for _, chunk := range []int{160, 37, 1, len(pcm)} {
		if got := run(NewDetector(rate), pcm, chunk); got != want {
			t.Errorf("chunk %d: got %q, want %q", chunk, got, want)
		}
	}
}

func TestDetectorRejectsNonDTMF(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, 3*rate)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 6000)
	}
	cases := map[string][]int16{
		"1 kHz tone":     tones(2000, []float64{1000}, []float64{12000}),
		"white noise":    noise,
		"two rows":       tones(500, []float64{697, 770}, []float64{7000, 7000}),
		"two columns":    tones(500, []float64{1209, 1336}, []float64{7000, 7000}),
		"normal twist":   tones(500, []float64{697, 1209}, []float64{7000, 7000 / 3.2}), // 10 dB
		"reverse twist":  tones(500, []float64{697, 1209}, []float64{7000 / 2, 7000}),   // 6 dB
		"too quiet":      tones(500, []float64{697, 1209}, []float64{200, 200}),
		"20 ms press":    append(key('5', 20), silence(100)...),
		"three tones":    tones(500, []float64{697, 1209, 1000}, []float64{5000, 5000, 5000}),
		"row in between": tones(500, []float64{733, 1209}, []float64{7000, 7000}),
	}
	for name, pcm := range cases {
		if got := run(NewDetector(rate), pcm, 160); got != "" {
			t.Errorf("%s: detected %q", name, got)
		}
	}
}

// The same checks must not be so strict that real-world impairments lose
// digits: moderate twist, a 1.5% frequency error, noise at 20 dB SNR.
func TestDetectorToleratesImpairments(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	noisy := key('9', 80)
	for i := range noisy {
		noisy[i] += int16(rng.NormFloat64() * 700)
	}
	cases := map[string][]int16{
		"normal twist 6 dB":  tones(80, []float64{852, 1477}, []float64{7000, 3500}),
		"reverse twist 3 dB": tones(80, []float64{852, 1477}, []float64{5000, 7000}),
		"1.5% high":          tones(80, []float64{852 * 1.015, 1477 * 1.015}, []float64{7000, 7000}),
		"1.5% low":           tones(80, []float64{852 * 0.985, 1477 * 0.985}, []float64{7000, 7000}),
		"noise 20 dB SNR":    noisy,
		"quiet -25 dBm0":     tones(80, []float64{852, 1477}, []float64{1270, 1270}),
	}
	for name, pcm := range cases {
		pcm = append(pcm, silence(60)...)
		if got := run(NewDetector(rate), pcm, 160); got != "9" {
			t.Errorf("%s: got %q, want \"9\"", name, got)
		}
	}
}

func TestDetectorMinimumDuration(t *testing.T) {
	// Shift the press against the analysis windows to cover every phase.
	for off := range 103 {
		lead := make([]int16, off)
		long := append(append(lead, key('6', 40)...), silence(60)...)
		if got := run(NewDetector(rate), long, 160); got != "6" {
			t.Errorf("40 ms press at offset %d: got %q", off, got)
		}
		short := append(append(lead, key('6', 25)...), silence(60)...)
		if got := run(NewDetector(rate), short, 160); got != "" {
			t.Errorf("25 ms press at offset %d: got %q", off, got)
		}
	}
}

func TestDetectorLatency(t *testing.T) {
	for off := range 103 {
		pcm := concat(make([]int16, off), key('3', 80))
		d := NewDetector(rate)
		at := -1
		const chunk = 8
		for i := 0; i < len(pcm) && at < 0; i += chunk {
			end := min(i+chunk, len(pcm))
			if got := d.Write(pcm[i:end]); string(got) == "3" {
				at = end
			}
		}
		// 45 ms, plus the granularity at which this loop can observe it.
		if lag := at - off; at < 0 || lag > 45*rate/1000+chunk {
			t.Errorf("offset %d: reported at sample %d, %d samples after the press began", off, at, lag)
		}
	}
}

func TestDetectorHoldAndRepeat(t *testing.T) {
	held := append(key('2', 1500), silence(60)...)
	if got := run(NewDetector(rate), held, 160); got != "2" {
		t.Errorf("1.5 s press: got %q, want one \"2\"", got)
	}
	for off := range 103 {
		lead := make([]int16, off)
		twice := concat(lead, key('2', 80), silence(40), key('2', 80), silence(60))
		if got := run(NewDetector(rate), twice, 160); got != "22" {
			t.Errorf("two presses 40 ms apart at offset %d: got %q, want \"22\"", off, got)
		}
		// A 10 ms dropout inside a press is not a release.
		glitch := concat(lead, key('2', 200), silence(10), key('2', 200), silence(60))
		if got := run(NewDetector(rate), glitch, 160); got != "2" {
			t.Errorf("press with 10 ms dropout at offset %d: got %q, want \"2\"", off, got)
		}
	}
	// Changing key without a pause reports the new key.
	slide := append(key('2', 100), key('8', 100)...)
	if got := run(NewDetector(rate), slide, 160); got != "28" {
		t.Errorf("2 sliding into 8: got %q, want \"28\"", got)
	}
}

func TestDetectorOtherSampleRate(t *testing.T) {
	const hi = 16000
	pcm := make([]int16, hi/10) // 100 ms of '#'
	for i := range pcm {
		x := float64(i) / hi
		pcm[i] = int16(7000*math.Sin(2*math.Pi*941*x) + 7000*math.Sin(2*math.Pi*1477*x))
	}
	pcm = append(pcm, make([]int16, hi/10)...)
	if got := run(NewDetector(hi), pcm, 320); got != "#" {
		t.Errorf("16 kHz: got %q, want \"#\"", got)
	}
}

func TestDetectorSteadyStateDoesNotAllocate(t *testing.T) {
	d := NewDetector(0)
	pcm := key('1', 5000)
	if got := d.Write(pcm[:800]); string(got) != "1" {
		t.Fatalf("got %q, want \"1\"", string(got))
	}
	pcm = pcm[800:]
	// The key is now held, so the measured frames run the full analysis
	// but report nothing.
	allocs := testing.AllocsPerRun(200, func() {
		if d.Write(pcm[:160]) != nil {
			t.Fatal("held key reported again")
		}
		pcm = pcm[160:]
	})
	if allocs != 0 {
		t.Fatalf("Write allocates %v times per frame", allocs)
	}
}

func TestDetectorFrequencyTolerance(t *testing.T) {
	for d, f := range digitFreqs {
		for _, dev := range []float64{0.985, 1.015} {
			pcm := tones(80, []float64{f[0] * dev, f[1] * dev}, []float64{7000, 7000})
			if got := run(NewDetector(rate), pcm, 160); got != string(d) {
				t.Errorf("%q at %.1f%%: got %q", d, (dev-1)*100, got)
			}
		}
	}
}

func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func BenchmarkDetectorWrite20ms(b *testing.B) {
	d := NewDetector(rate)
	pcm := key('5', 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Write(pcm[i : i+160])
		i = (i + 160) % len(pcm)
	}
}
