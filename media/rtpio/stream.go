package rtpio

import "github.com/pion/rtp"

// Stream rewrites sequence numbers and timestamps of frames going to one
// party so that the party sees one continuous stream even when the source
// changes (a new call, injected DTMF, a far end restarting its SSRC).
// Without this a browser's jitter buffer treats a new call as a huge jump
// and may stall or drop audio. The zero value is ready to use; Stream is
// not safe for concurrent use (the owning sink serialises).
type Stream struct {
	started   bool
	srcSSRC   uint32
	seqDelta  uint16
	tsDelta   uint32
	lastSeq   uint16
	lastTS    uint32
	newSource bool
}

// samplesPerFrame is 20 ms at 8 kHz, the ptime of every leg we create.
const samplesPerFrame = 160

// Rewrite maps h (from the source) onto the outgoing stream, in place. It
// reports whether this packet starts a new source, in which case the
// caller should set the marker bit.
func (s *Stream) Rewrite(h *rtp.Header) bool {
	switch {
	case !s.started:
		s.started = true
		s.srcSSRC = h.SSRC
		s.seqDelta, s.tsDelta = 0, 0
		s.newSource = true
	case h.SSRC != s.srcSSRC:
		// Continue one frame after the last packet we sent.
		s.srcSSRC = h.SSRC
		s.seqDelta = s.lastSeq + 1 - h.SequenceNumber
		s.tsDelta = s.lastTS + samplesPerFrame - h.Timestamp
		s.newSource = true
	default:
		s.newSource = false
	}
	h.SequenceNumber += s.seqDelta
	h.Timestamp += s.tsDelta
	s.lastSeq, s.lastTS = h.SequenceNumber, h.Timestamp
	return s.newSource
}

// Reset makes the next packet start a new source even if its SSRC is the
// same as before (used when a leg is re-linked to another party).
func (s *Stream) Reset() {
	if s.started {
		s.srcSSRC ^= 0xFFFFFFFF
	}
}
