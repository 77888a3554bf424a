package g711

import (
	"math"
	"slices"
	"testing"
)

type law struct {
	name   string
	encode func(int16) byte
	decode func(byte) int16
	// step is the quantisation interval width, in 16-bit units, of the
	// segment a code belongs to, as tabulated in G.711.
	step func(byte) int
	// slack allows for the input bits the law discards: a negative sample
	// is truncated towards -inf, shifting its interval by up to 3 (μ-law)
	// or 7 (A-law).
	slack int
	top   int // largest reconstruction level
}

var laws = []law{
	{"ulaw", EncodeUlaw, DecodeUlaw, func(c byte) int { return 8 << ((^c >> 4) & 7) }, 3, 32124},
	{"alaw", EncodeAlaw, DecodeAlaw, func(c byte) int { return 16 << max(int((c^0x55)>>4&7)-1, 0) }, 7, 32256},
}

func TestEncodeZero(t *testing.T) {
	if got := EncodeUlaw(0); got != 0xFF {
		t.Errorf("EncodeUlaw(0) = %#02x, want 0xff", got)
	}
	if got := EncodeAlaw(0); got != 0xD5 {
		t.Errorf("EncodeAlaw(0) = %#02x, want 0xd5", got)
	}
}

// Reference points from the G.711 tables, independent of this package's
// arithmetic.
func TestKnownDecodeValues(t *testing.T) {
	cases := []struct {
		name string
		got  int16
		want int16
	}{
		{"ulaw 0x80", DecodeUlaw(0x80), 32124},
		{"ulaw 0x00", DecodeUlaw(0x00), -32124},
		{"ulaw 0xFF", DecodeUlaw(0xFF), 0},
		{"ulaw 0x7F", DecodeUlaw(0x7F), 0},
		{"ulaw 0xFE", DecodeUlaw(0xFE), 8},
		{"ulaw 0x7E", DecodeUlaw(0x7E), -8},
		{"alaw 0xAA", DecodeAlaw(0xAA), 32256},
		{"alaw 0x2A", DecodeAlaw(0x2A), -32256},
		{"alaw 0xD5", DecodeAlaw(0xD5), 8},
		{"alaw 0x55", DecodeAlaw(0x55), -8},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s decodes to %d, want %d", c.name, c.got, c.want)
		}
	}
}

// Every code must survive decode→encode, with one exception: μ-law 0x7F is
// "negative zero", which decodes to 0 and therefore re-encodes as the
// canonical zero 0xFF. A-law has no zero level and so no exception.
func TestDecodeEncodeRoundTrip(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		want := b
		if b == 0x7F {
			want = 0xFF
		}
		if got := EncodeUlaw(DecodeUlaw(b)); got != want {
			t.Errorf("ulaw %#02x -> %d -> %#02x, want %#02x", b, DecodeUlaw(b), got, want)
		}
		if got := EncodeAlaw(DecodeAlaw(b)); got != b {
			t.Errorf("alaw %#02x -> %d -> %#02x", b, DecodeAlaw(b), got)
		}
	}
}

// Sweep every int16: the reconstructed value must lie within half a
// quantisation step of the input (G.711 reconstructs at interval centres),
// inputs beyond the top level must clip to it, and the law must be monotonic.
func TestEncodeQuantisationError(t *testing.T) {
	for _, l := range laws {
		t.Run(l.name, func(t *testing.T) {
			prev := math.MinInt
			for s := math.MinInt16; s <= math.MaxInt16; s++ {
				code := l.encode(int16(s))
				got := int(l.decode(code))
				switch {
				case s > l.top+l.step(code)/2:
					if got != l.top {
						t.Fatalf("sample %d -> %d, want clip to %d", s, got, l.top)
					}
				case s < -l.top-l.step(code)/2:
					if got != -l.top {
						t.Fatalf("sample %d -> %d, want clip to %d", s, got, -l.top)
					}
				default:
					if err := abs(got - s); err > l.step(code)/2+l.slack {
						t.Fatalf("sample %d -> %#02x -> %d: error %d exceeds half step %d", s, code, got, err, l.step(code)/2)
					}
				}
				if got < prev {
					t.Fatalf("not monotonic: sample %d -> %d after %d", s, got, prev)
				}
				prev = got
			}
		})
	}
}

// Independently of the step table, bound the relative error as G.711 promises
// roughly constant SNR: for |s| >= 256 the error stays under ~1/16 of |s|
// (one mantissa step at most) until clipping.
func TestEncodeRelativeError(t *testing.T) {
	for _, l := range laws {
		for s := 256; s <= 32000; s += 7 {
			for _, v := range []int{s, -s} {
				got := int(l.decode(l.encode(int16(v))))
				if e := abs(got - v); e*16 > abs(v) {
					t.Errorf("%s: %d -> %d, error %d exceeds 1/16", l.name, v, got, e)
				}
			}
		}
	}
}

func TestTranscodeMatchesDecodeEncode(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	pcm := make([]int16, 256)

	u2a := slices.Clone(all)
	UlawToAlawInPlace(u2a)
	want := make([]byte, 256)
	DecodeUlawTo(pcm, all)
	EncodeAlawTo(want, pcm)
	if !slices.Equal(u2a, want) {
		t.Errorf("UlawToAlawInPlace disagrees with decode→encode:\n got %x\nwant %x", u2a, want)
	}

	a2u := slices.Clone(all)
	AlawToUlawInPlace(a2u)
	DecodeAlawTo(pcm, all)
	EncodeUlawTo(want, pcm)
	if !slices.Equal(a2u, want) {
		t.Errorf("AlawToUlawInPlace disagrees with decode→encode:\n got %x\nwant %x", a2u, want)
	}

	for i, b := range all {
		if UlawToAlaw(b) != u2a[i] || AlawToUlaw(b) != a2u[i] {
			t.Fatalf("per-byte transcoder disagrees with in-place at %#02x", b)
		}
	}
}

// A μ-law→A-law→μ-law hop must not drift far: each law's levels are within
// one step of each other, so a level may move at most one code.
func TestTranscodeRoundTripDrift(t *testing.T) {
	for c := range 256 {
		u := byte(c)
		back := AlawToUlaw(UlawToAlaw(u))
		d0, d1 := int(DecodeUlaw(u)), int(DecodeUlaw(back))
		if e := abs(d1 - d0); e > 16 && e*16 > abs(d0) {
			t.Errorf("ulaw %#02x (%d) -> alaw -> %#02x (%d)", u, d0, back, d1)
		}
	}
}

func TestSliceHelpersLength(t *testing.T) {
	src := []int16{0, 1000, -1000, 32767, -32768}
	enc := make([]byte, 3)
	if n := EncodeUlawTo(enc, src); n != 3 {
		t.Fatalf("EncodeUlawTo wrote %d, want 3", n)
	}
	for i, b := range enc {
		if b != EncodeUlaw(src[i]) {
			t.Errorf("EncodeUlawTo[%d] = %#02x, want %#02x", i, b, EncodeUlaw(src[i]))
		}
	}
	if n := EncodeAlawTo(enc, src[:2]); n != 2 || enc[2] != EncodeUlaw(src[2]) {
		t.Fatalf("EncodeAlawTo wrote %d codes or touched dst beyond src", n)
	}
	dst := []int16{7, 7, 7, 7}
	if n := DecodeUlawTo(dst, []byte{0xFF, 0x80}); n != 2 || dst[0] != 0 || dst[1] != 32124 || dst[2] != 7 {
		t.Fatalf("DecodeUlawTo = %d, %v", n, dst)
	}
	if n := DecodeAlawTo(dst[:1], []byte{0xD5, 0xD5}); n != 1 || dst[0] != 8 || dst[1] != 32124 {
		t.Fatalf("DecodeAlawTo = %d, %v", n, dst)
	}
}

func TestSliceHelpersDoNotAllocate(t *testing.T) {
	payload := make([]byte, 160)
	pcm := make([]int16, 160)
	allocs := testing.AllocsPerRun(100, func() {
		DecodeUlawTo(pcm, payload)
		EncodeAlawTo(payload, pcm)
		AlawToUlawInPlace(payload)
	})
	if allocs != 0 {
		t.Fatalf("got %v allocs per run, want 0", allocs)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func benchPayload() []byte {
	p := make([]byte, 160)
	for i := range p {
		p[i] = byte(i * 37)
	}
	return p
}

func BenchmarkUlawToAlawInPlace160(b *testing.B) {
	p := benchPayload()
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		UlawToAlawInPlace(p)
	}
}

func BenchmarkAlawToUlawInPlace160(b *testing.B) {
	p := benchPayload()
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		AlawToUlawInPlace(p)
	}
}

func BenchmarkDecodeUlawTo160(b *testing.B) {
	p := benchPayload()
	pcm := make([]int16, len(p))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		DecodeUlawTo(pcm, p)
	}
}

func BenchmarkDecodeAlawTo160(b *testing.B) {
	p := benchPayload()
	pcm := make([]int16, len(p))
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		DecodeAlawTo(pcm, p)
	}
}

func BenchmarkEncodeUlawTo160(b *testing.B) {
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(float64(i)*0.3))
	}
	dst := make([]byte, len(pcm))
	b.ReportAllocs()
	for b.Loop() {
		EncodeUlawTo(dst, pcm)
	}
}
