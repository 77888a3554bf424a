package audiofile

import "math"

// The resampler is a windowed-sinc low-pass filter evaluated at each
// output instant (band-limited interpolation): the input is filtered to
// CutoffHz before it is sampled at the output rate, so content above the
// telephone band is removed instead of folding back into it as it would
// when samples are simply dropped or averaged.
const (
	// CutoffHz is the filter's cut-off: just below the 4 kHz Nyquist
	// frequency of 8 kHz audio, above the 3.4 kHz telephone band.
	CutoffHz = 3600
	// zeroCrossings is the kernel's half-width in sinc lobes; with the
	// Kaiser window below the transition band is about ±400 Hz around
	// CutoffHz and the stop band is about 85 dB down.
	zeroCrossings = 24
	kaiserBeta    = 8.6
	// tableRes is the kernel table's points per lobe; linear
	// interpolation between them errs by about -100 dB.
	tableRes = 256
)

// kernel is the windowed sinc sampled at tableRes points per lobe from 0
// to zeroCrossings lobes (it is symmetric).
var kernel = func() []float64 {
	k := make([]float64, zeroCrossings*tableRes+2)
	i0b := besselI0(kaiserBeta)
	for i := range k {
		u := float64(i) / tableRes
		if u > zeroCrossings {
			break
		}
		x := u / zeroCrossings
		w := besselI0(kaiserBeta*math.Sqrt(1-x*x)) / i0b
		s := 1.0
		if u != 0 {
			s = math.Sin(math.Pi*u) / (math.Pi * u)
		}
		k[i] = s * w
	}
	return k
}()

// besselI0 is the modified Bessel function of the first kind, order 0
// (its power series converges quickly for the β used here).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	for k := 1; k < 50; k++ {
		term *= (x / 2) / float64(k)
		sum += term * term
		if term*term < 1e-12*sum {
			break
		}
	}
	return sum
}

// resampler converts a stream of mono samples from one rate to another.
// Not safe for concurrent use.
type resampler struct {
	in, out int64
	scale   float64 // lobes per input sample: 2·cutoff/in
	gain    float64 // the filter's DC gain correction: 2·cutoff/in
	half    float64 // the kernel's half-width in input samples
	buf     []float64
	base    int64 // absolute input index of buf[0]
	count   int64 // input samples pushed so far
	n       int64 // next output sample
}

func newResampler(in, out int) *resampler {
	cutoff := math.Min(CutoffHz, 0.45*float64(in))
	scale := 2 * cutoff / float64(in)
	return &resampler{in: int64(in), out: int64(out), scale: scale, gain: scale, half: zeroCrossings / scale}
}

// push adds input samples and emits every output sample that they make
// computable.
func (r *resampler) push(x []float64, emit func(float64)) {
	r.buf = append(r.buf, x...)
	r.count += int64(len(x))
	r.run(false, emit)
}

// flush emits the outputs that still lack their right-hand neighbours,
// which are taken as silence.
func (r *resampler) flush(emit func(float64)) { r.run(true, emit) }

func (r *resampler) run(final bool, emit func(float64)) {
	for {
		// p is the output sample's instant in input samples.
		p := float64(r.n*r.in) / float64(r.out)
		if final && p >= float64(r.count) {
			break
		}
		hi := int64(math.Floor(p + r.half))
		if !final && hi >= r.count {
			break
		}
		lo := max(int64(math.Ceil(p-r.half)), r.base)
		hi = min(hi, r.count-1)
		var sum float64
		for k := lo; k <= hi; k++ {
			u := math.Abs(float64(k)-p) * r.scale * tableRes
			i := int(u)
			if i >= len(kernel)-1 {
				continue
			}
			f := u - float64(i)
			sum += r.buf[k-r.base] * (kernel[i]*(1-f) + kernel[i+1]*f)
		}
		emit(sum * r.gain)
		r.n++
	}
	// Drop the input no later output can reach.
	p := float64(r.n*r.in) / float64(r.out)
	if keep := int64(math.Ceil(p-r.half)) - r.base; keep > 0 && keep <= int64(len(r.buf)) {
		r.buf = append(r.buf[:0], r.buf[keep:]...)
		r.base += keep
	}
}
