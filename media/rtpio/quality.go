package rtpio

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Reception statistics of one incoming stream (RFC 3550 appendix A.3 and
// A.8), kept by the leg's read loop alone and read by anyone: every field
// is an atomic with a single writer, so the hot path takes no lock and
// allocates nothing.
//
// Counters are cumulative over the leg's life and survive a change of
// source (a new SSRC, a far end restarting its stream): a reader of the
// statistics takes differences between two readings, and a restart must
// not look like thousands of lost packets.
type reception struct {
	ssrc     atomic.Uint32
	maxSeq   atomic.Uint32 // highest sequence number seen (16 bits)
	started  atomic.Bool
	expected atomic.Uint64 // packets the sequence numbers say were sent
	got      atomic.Uint64 // media packets received (duplicates included)
	// jitter is the RFC 3550 interarrival jitter in timestamp units,
	// scaled by 16 as in appendix A.8 (integer arithmetic, no drift).
	jitter  atomic.Uint32
	transit atomic.Int64 // last relative transit time, timestamp units
	audio   atomic.Bool  // transit is valid: an audio packet was seen
}

// maxDropout is the largest forward jump in sequence numbers still taken
// as loss (RFC 3550 A.1 uses 3000); a bigger one is a restarted source.
const maxDropout = 3000

// clockRate is the RTP clock of every codec we carry (G.711, events).
const clockRate = 8000

// update accounts one media packet that arrived at now (unix nanos).
// Audio packets feed the jitter; telephone-events share the sequence
// space but repeat their timestamp, so they would read as jitter.
func (s *reception) update(h *rtp.Header, audio bool, now int64) {
	s.got.Add(1)
	seq := uint32(h.SequenceNumber)
	switch {
	case !s.started.Load() || h.SSRC != s.ssrc.Load():
		s.started.Store(true)
		s.ssrc.Store(h.SSRC)
		s.maxSeq.Store(seq)
		s.expected.Add(1)
		s.audio.Store(false)
	default:
		delta := uint16(seq - s.maxSeq.Load())
		switch {
		case delta == 0 || delta > 0x8000:
			// A duplicate or a late (reordered) packet: already expected.
		case delta < maxDropout:
			s.expected.Add(uint64(delta))
			s.maxSeq.Store(seq)
		default:
			// A jump: the far end restarted its sequence.
			s.expected.Add(1)
			s.maxSeq.Store(seq)
			s.audio.Store(false)
		}
	}
	if !audio {
		return
	}
	arrival := now / (int64(time.Second) / clockRate)
	transit := arrival - int64(h.Timestamp)
	if s.audio.Load() {
		d := transit - s.transit.Load()
		if d < 0 {
			d = -d
		}
		// Far beyond any real jitter: a timestamp jump (a new call on
		// the same stream), not delay.
		if d < 10*clockRate {
			j := s.jitter.Load()
			s.jitter.Store(j + uint32(d) - ((j + 8) >> 4))
		}
	}
	s.transit.Store(transit)
	s.audio.Store(true)
}

// Reception is a reading of the statistics of what a leg received.
type Reception struct {
	// SSRC is the source last heard.
	SSRC uint32
	// Expected and Received are cumulative packet counts; Expected -
	// Received is the packets lost (negative with duplicates).
	Expected, Received uint64
	// MaxSeq is the highest sequence number seen.
	MaxSeq uint16
	// Jitter is the interarrival jitter (RFC 3550 §6.4.1).
	Jitter time.Duration
	// JitterUnits is the same jitter in timestamp units, for reports.
	JitterUnits uint32
}

func (s *reception) read() Reception {
	j := s.jitter.Load() >> 4
	return Reception{
		SSRC:        s.ssrc.Load(),
		Expected:    s.expected.Load(),
		Received:    s.got.Load(),
		MaxSeq:      uint16(s.maxSeq.Load()),
		JitterUnits: j,
		Jitter:      time.Duration(j) * time.Second / clockRate,
	}
}
