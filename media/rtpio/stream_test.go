package rtpio

import (
	"testing"

	"github.com/pion/rtp"
)

// step feeds one header through s and returns what went out.
func step(s *Stream, ssrc uint32, seq uint16, ts uint32) (rtp.Header, bool) {
	h := rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}
	marker := s.Rewrite(&h)
	return h, marker
}

func TestStreamFirstPacketPassesThroughAsNewSource(t *testing.T) {
	var s Stream
	h, marker := step(&s, 0xAAAA, 1234, 987654)
	if !marker {
		t.Error("first packet: want new source")
	}
	if h.SequenceNumber != 1234 || h.Timestamp != 987654 {
		t.Errorf("first packet rewritten to seq %d ts %d, want it unchanged", h.SequenceNumber, h.Timestamp)
	}
	if h.SSRC != 0xAAAA {
		t.Errorf("Rewrite changed the SSRC to %#x; the writer owns that", h.SSRC)
	}
	h, marker = step(&s, 0xAAAA, 1235, 987654+160)
	if marker || h.SequenceNumber != 1235 || h.Timestamp != 987654+160 {
		t.Errorf("same source: got seq %d ts %d marker %v, want 1235 %d false", h.SequenceNumber, h.Timestamp, marker, 987654+160)
	}
}

func TestStreamContinuesAcrossSourceChange(t *testing.T) {
	var s Stream
	for i := range 5 {
		step(&s, 1, 100+uint16(i), 8000+uint32(i)*160)
	}
	// Last out: seq 104, ts 8640. The new source starts somewhere else.
	type in struct {
		seq uint16
		ts  uint32
	}
	type out struct {
		seq    uint16
		ts     uint32
		marker bool
	}
	cases := []struct {
		in   in
		want out
	}{
		{in{50000, 3_000_000}, out{105, 8800, true}},
		{in{50001, 3_000_160}, out{106, 8960, false}},
		// A gap in the source stays a gap in the output.
		{in{50003, 3_000_480}, out{108, 9280, false}},
		// Reordered packets keep their relative position.
		{in{50002, 3_000_320}, out{107, 9120, false}},
	}
	for i, c := range cases {
		h, marker := step(&s, 2, c.in.seq, c.in.ts)
		got := out{h.SequenceNumber, h.Timestamp, marker}
		if got != c.want {
			t.Errorf("packet %d of the new source: got %+v, want %+v", i, got, c.want)
		}
	}
	// Back to the first source: continue from the last packet sent, which
	// was the reordered one (107, 9120).
	h, marker := step(&s, 1, 105, 8800)
	if !marker || h.SequenceNumber != 108 || h.Timestamp != 9280 {
		t.Errorf("return to the first source: got seq %d ts %d marker %v, want 108 9280 true",
			h.SequenceNumber, h.Timestamp, marker)
	}
}

func TestStreamResetForcesNewSource(t *testing.T) {
	var s Stream
	s.Reset() // before any packet: harmless
	step(&s, 7, 10, 1600)
	step(&s, 7, 11, 1760)
	s.Reset()
	// Same SSRC, but the source restarted its counters (a new call on the
	// same socket): without Reset this would be a huge jump backwards.
	h, marker := step(&s, 7, 0, 0)
	if !marker {
		t.Error("first packet after Reset: want new source")
	}
	if h.SequenceNumber != 12 || h.Timestamp != 1920 {
		t.Errorf("after Reset: got seq %d ts %d, want 12 1920", h.SequenceNumber, h.Timestamp)
	}
	h, marker = step(&s, 7, 1, 160)
	if marker || h.SequenceNumber != 13 || h.Timestamp != 2080 {
		t.Errorf("second packet after Reset: got seq %d ts %d marker %v, want 13 2080 false",
			h.SequenceNumber, h.Timestamp, marker)
	}
}

func TestStreamWrapsAround(t *testing.T) {
	var s Stream
	step(&s, 1, 65535, 0xFFFFFFF0)
	// New source: seq and ts wrap past their maximum.
	h, marker := step(&s, 2, 1000, 5)
	// 0xFFFFFFF0 + 160 = 0x1_0000_0090.
	if !marker || h.SequenceNumber != 0 || h.Timestamp != 0x90 {
		t.Fatalf("new source at the wrap: got seq %d ts %#x marker %v, want 0 0x90 true",
			h.SequenceNumber, h.Timestamp, marker)
	}
	h, _ = step(&s, 2, 1001, 165)
	if h.SequenceNumber != 1 || h.Timestamp != 0x90+160 {
		t.Errorf("after the wrap: got seq %d ts %#x, want 1 %#x", h.SequenceNumber, h.Timestamp, 0x90+160)
	}

	// The source itself wrapping while the delta is non-zero.
	var s2 Stream
	step(&s2, 1, 500, 1000)
	step(&s2, 2, 65534, 0xFFFFFF60) // out: 501, 1160
	h, _ = step(&s2, 2, 65535, 0)   // 0xFFFFFF60 + 160 wraps to 0
	if h.SequenceNumber != 502 {
		t.Errorf("seq %d, want 502", h.SequenceNumber)
	}
	h, marker = step(&s2, 2, 0, 160) // both counters wrapped in the source
	if marker || h.SequenceNumber != 503 || h.Timestamp != 1160+320 {
		t.Errorf("source wrap: got seq %d ts %d marker %v, want 503 %d false",
			h.SequenceNumber, h.Timestamp, marker, 1160+320)
	}
}
