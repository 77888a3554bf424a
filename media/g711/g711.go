// Package g711 implements the ITU-T G.711 μ-law (PCMU) and A-law (PCMA)
// companding codecs for 16-bit linear PCM.
//
// Every conversion is a table lookup: the tables are built once at package
// initialisation (about 25 KiB in total), so the per-sample cost on the RTP
// hot path is a single indexed load and nothing allocates.
//
// Linear samples are 16-bit signed values. μ-law is defined on 14-bit and
// A-law on 13-bit linear samples, so the encoders ignore the low 2 (μ-law)
// or 3 (A-law) bits of the input.
package g711

import "math/bits"

var (
	ulawDecode [256]int16
	alawDecode [256]int16

	// Indexed by the top 14 (μ-law) or 13 (A-law) bits of the sample viewed
	// as uint16; those are exactly the bits the codec can represent, so no
	// precision is lost relative to computing the code directly.
	ulawEncode [1 << 14]byte
	alawEncode [1 << 13]byte

	ulawToAlaw [256]byte
	alawToUlaw [256]byte
)

func init() {
	for i := range 256 {
		ulawDecode[i] = ulawDecodeCalc(byte(i))
		alawDecode[i] = alawDecodeCalc(byte(i))
	}
	for i := range ulawEncode {
		// Shift up then arithmetic-shift down to sign-extend the 14-bit index.
		ulawEncode[i] = ulawEncodeCalc(int(int16(uint16(i)<<2)) >> 2)
	}
	for i := range alawEncode {
		alawEncode[i] = alawEncodeCalc(int(int16(uint16(i)<<3)) >> 3)
	}
	// Going through linear PCM keeps the transcoders consistent with the
	// codecs by construction; decoded values are exact in both laws, so the
	// only loss is the unavoidable requantisation to the other law.
	for i := range 256 {
		ulawToAlaw[i] = EncodeAlaw(DecodeUlaw(byte(i)))
		alawToUlaw[i] = EncodeUlaw(DecodeAlaw(byte(i)))
	}
}

const (
	ulawBias = 33   // in 14-bit units; makes segment boundaries powers of two
	ulawClip = 8159 // largest 14-bit magnitude that still fits after biasing
)

// ulawEncodeCalc encodes a 14-bit linear sample (-8192..8191).
func ulawEncodeCalc(v int) byte {
	// Codes are transmitted with all bits inverted (G.711 §2), which is why
	// the positive mask is 0xFF and the negative one drops the sign bit.
	mask := byte(0xFF)
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	v = min(v, ulawClip) + ulawBias
	// v is now in [33, 8192]; segment n covers [32<<n, 64<<n).
	seg := bits.Len(uint(v)) - 6
	if seg > 7 {
		return 0x7F ^ mask
	}
	mant := (v >> (seg + 1)) & 0x0F
	return byte(seg<<4|mant) ^ mask
}

func ulawDecodeCalc(b byte) int16 {
	u := ^b
	seg := (u >> 4) & 0x07
	mant := int(u & 0x0F)
	// Reconstruct at the middle of the quantisation interval in 16-bit units
	// (bias 33 in 14-bit units is 132 = 0x84 in 16-bit units).
	mag := ((mant<<3)+0x84)<<seg - 0x84
	if u&0x80 != 0 {
		return int16(-mag)
	}
	return int16(mag)
}

// alawEncodeCalc encodes a 13-bit linear sample (-4096..4095).
func alawEncodeCalc(v int) byte {
	// A-law inverts the even bits on the wire (XOR 0x55); the sign bit set
	// means positive. Negative values are mapped to -v-1 so that the two
	// smallest levels are symmetric around zero and A-law has no zero code.
	mask := byte(0xD5)
	if v < 0 {
		v = -v - 1
		mask = 0x55
	}
	// v is in [0, 4095]; segments 0 and 1 share the same step size.
	seg := max(bits.Len(uint(v))-5, 0)
	shift := max(seg, 1)
	mant := (v >> shift) & 0x0F
	return byte(seg<<4|mant) ^ mask
}

func alawDecodeCalc(b byte) int16 {
	a := b ^ 0x55
	seg := (a >> 4) & 0x07
	mant := int(a&0x0F) << 4
	var mag int
	if seg == 0 {
		mag = mant + 8
	} else {
		mag = (mant + 0x108) << (seg - 1)
	}
	if a&0x80 != 0 {
		return int16(mag)
	}
	return int16(-mag)
}

// EncodeUlaw returns the μ-law code for a 16-bit linear sample.
// Zero encodes to 0xFF.
func EncodeUlaw(s int16) byte { return ulawEncode[uint16(s)>>2] }

// DecodeUlaw returns the 16-bit linear value of a μ-law code.
// Both 0xFF and 0x7F (the "negative zero" code) decode to 0.
func DecodeUlaw(b byte) int16 { return ulawDecode[b] }

// EncodeAlaw returns the A-law code for a 16-bit linear sample.
// Zero encodes to 0xD5.
func EncodeAlaw(s int16) byte { return alawEncode[uint16(s)>>3] }

// DecodeAlaw returns the 16-bit linear value of an A-law code.
func DecodeAlaw(b byte) int16 { return alawDecode[b] }

// DecodeUlawTo decodes μ-law codes from src into dst and returns the number
// of samples written, min(len(dst), len(src)).
func DecodeUlawTo(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n] // lets the compiler drop bounds checks
	for i, b := range src {
		dst[i] = ulawDecode[b]
	}
	return n
}

// EncodeUlawTo encodes linear samples from src into μ-law codes in dst and
// returns the number of codes written, min(len(dst), len(src)).
func EncodeUlawTo(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = ulawEncode[uint16(s)>>2]
	}
	return n
}

// DecodeAlawTo decodes A-law codes from src into dst and returns the number
// of samples written, min(len(dst), len(src)).
func DecodeAlawTo(dst []int16, src []byte) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, b := range src {
		dst[i] = alawDecode[b]
	}
	return n
}

// EncodeAlawTo encodes linear samples from src into A-law codes in dst and
// returns the number of codes written, min(len(dst), len(src)).
func EncodeAlawTo(dst []byte, src []int16) int {
	n := min(len(dst), len(src))
	dst, src = dst[:n], src[:n]
	for i, s := range src {
		dst[i] = alawEncode[uint16(s)>>3]
	}
	return n
}

// UlawToAlaw converts one μ-law code to the A-law code for the same level.
func UlawToAlaw(b byte) byte { return ulawToAlaw[b] }

// AlawToUlaw converts one A-law code to the μ-law code for the same level.
func AlawToUlaw(b byte) byte { return alawToUlaw[b] }

// UlawToAlawInPlace rewrites a PCMU payload as PCMA. Converting in place
// lets a bridge forward the received buffer without a copy.
func UlawToAlawInPlace(p []byte) {
	for i, b := range p {
		p[i] = ulawToAlaw[b]
	}
}

// AlawToUlawInPlace rewrites a PCMA payload as PCMU.
func AlawToUlawInPlace(p []byte) {
	for i, b := range p {
		p[i] = alawToUlaw[b]
	}
}
