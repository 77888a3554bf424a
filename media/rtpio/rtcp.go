package rtpio

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// What a far end's RTCP tells about our stream, and what we tell it about
// its stream. RTCP arrives a few times a minute, so this path may parse
// with allocation; the RTP path stays untouched.
//
// Round-trip time follows RFC 3550 §6.4.1: a receiver report echoes the
// middle 32 bits of the NTP time of our last sender report (LSR) and how
// long it held it (DLSR); now - LSR - DLSR is the network's round trip.

// RemoteReports keeps what a far end's RTCP says about our stream; a SIP
// leg and an agent's PeerConnection both use it. Its methods are safe
// for concurrent use (atomics; the report path alone takes mu).
//
// A receiver's "lost" counts every sequence number it never got,
// including the gaps we relayed from a lossy source and packets we never
// sent (Writer.Holes): those are charged to where they happened, so the
// fraction lost kept here is the receiver's own leg's, taken between two
// reports from the cumulative counters.
type RemoteReports struct {
	count        atomic.Uint64 // own fractions measured (from the second report on)
	fractionLost atomic.Uint32 // own share lost between the last two reports, in 1/65536
	jitterUnits  atomic.Uint32
	totalLost    atomic.Uint32
	rtt          atomic.Int64 // nanoseconds; 0 until measured
	lastSR       atomic.Uint32
	lastSRAt     atomic.Int64 // unix nanos when lastSR arrived

	mu       sync.Mutex
	seen     bool
	prevSeq  uint32 // extended highest sequence number of the last block
	prevLost uint32 // its cumulative lost
	prevHole uint64 // our holes when it arrived
}

// farReports is a SIP leg's, plus the reading our own reports are built
// from.
type farReports struct {
	RemoteReports
	// prev is the reception reading at our previous report, for the
	// fraction lost of the interval; guarded by prevMu (report senders).
	prevMu sync.Mutex
	prev   Reception
}

// RTCPStats is what RTCP says about a leg.
type RTCPStats struct {
	// Reports counts the far end's reports about our stream from which
	// its own loss could be measured; FractionLost is from the latest.
	Reports uint64
	// FractionLost is the share of our packets lost on the far end's leg
	// between its last two reports (0 to 1), holes we sent excluded.
	FractionLost float64
	// Jitter is the far end's interarrival jitter of our stream.
	Jitter time.Duration
	// RTT is the round trip from the last report that echoed one of our
	// sender reports (0: not measured yet).
	RTT time.Duration
	// ReportedLost is the far end's cumulative count of our packets it
	// never got, as last reported (holes we sent included).
	ReportedLost uint64
}

// handleRTCP reads a compound packet from the far end. ourSSRC picks the
// report blocks about our stream out of those about others; holes is our
// writer's count now.
func (r *farReports) handleRTCP(buf []byte, ourSSRC uint32, holes uint64, now time.Time) {
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		return
	}
	r.take(pkts, ourSSRC, holes, now)
}

// take records the far end's sender reports (for the LSR/DLSR of our next
// report) and the report blocks about ourSSRC.
func (r *farReports) take(pkts []rtcp.Packet, ourSSRC uint32, holes uint64, now time.Time) {
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			r.lastSR.Store(uint32(sr.NTPTime >> 16))
			r.lastSRAt.Store(now.UnixNano())
		}
		r.Observe(p, ourSSRC, holes, now)
	}
}

// Observe takes one RTCP packet from the far end: the report blocks about
// ourSSRC in a sender or receiver report. holes is Writer.Holes now.
func (r *RemoteReports) Observe(p rtcp.Packet, ourSSRC uint32, holes uint64, now time.Time) {
	var blocks []rtcp.ReceptionReport
	switch p := p.(type) {
	case *rtcp.SenderReport:
		blocks = p.Reports
	case *rtcp.ReceiverReport:
		blocks = p.Reports
	}
	for _, b := range blocks {
		if b.SSRC != ourSSRC {
			continue
		}
		r.jitterUnits.Store(b.Jitter)
		r.totalLost.Store(b.TotalLost)
		if b.LastSenderReport != 0 {
			a := uint32(ntpTime(now) >> 16)
			if d := a - b.LastSenderReport - b.Delay; d < 1<<31 {
				r.rtt.Store(int64(d) * int64(time.Second) >> 16)
			}
		}
		r.mu.Lock()
		expected := int64(b.LastSequenceNumber - r.prevSeq)
		lost := int64(b.TotalLost) - int64(r.prevLost) - int64(holes-r.prevHole)
		measured := r.seen && expected > 0 && expected < 1<<20
		r.seen, r.prevSeq, r.prevLost, r.prevHole = true, b.LastSequenceNumber, b.TotalLost, holes
		r.mu.Unlock()
		if measured {
			r.fractionLost.Store(uint32(min(max(lost, 0)*65536/expected, 65536)))
			r.count.Add(1)
		}
	}
}

// Stats returns the latest figures.
func (r *RemoteReports) Stats() RTCPStats {
	return RTCPStats{
		Reports:      r.count.Load(),
		FractionLost: float64(r.fractionLost.Load()) / 65536,
		Jitter:       time.Duration(r.jitterUnits.Load()) * time.Second / clockRate,
		RTT:          time.Duration(r.rtt.Load()),
		ReportedLost: uint64(r.totalLost.Load()),
	}
}

// block is our reception report about the far end's stream, as of now.
func (r *farReports) block(rx Reception, now time.Time) (rtcp.ReceptionReport, bool) {
	if rx.Received == 0 {
		return rtcp.ReceptionReport{}, false
	}
	r.prevMu.Lock()
	prev := r.prev
	r.prev = rx
	r.prevMu.Unlock()
	b := rtcp.ReceptionReport{SSRC: rx.SSRC, LastSequenceNumber: uint32(rx.MaxSeq), Jitter: rx.JitterUnits}
	if exp, got := rx.Expected-prev.Expected, rx.Received-prev.Received; exp > got {
		b.FractionLost = uint8(min(255, (exp-got)*256/exp))
	}
	if rx.Expected > rx.Received {
		b.TotalLost = uint32(min(rx.Expected-rx.Received, 1<<23-1))
	}
	if at := r.lastSRAt.Load(); at != 0 {
		b.LastSenderReport = r.lastSR.Load()
		b.Delay = uint32(now.Sub(time.Unix(0, at)) * (1 << 16) / time.Second)
	}
	return b, true
}

// report builds our next report: a sender report once we have sent, a
// receiver report before; either carries our reception of the far end's
// stream. nil when there is nothing to say yet.
func (r *farReports) report(w *Writer, octets uint64, rx Reception, now time.Time) rtcp.Packet {
	var blocks []rtcp.ReceptionReport
	if b, ok := r.block(rx, now); ok {
		blocks = []rtcp.ReceptionReport{b}
	}
	switch {
	case w.Sent() > 0:
		return &rtcp.SenderReport{
			SSRC:        w.ssrcValue(),
			NTPTime:     ntpTime(now),
			RTPTime:     w.LastTimestamp(),
			PacketCount: uint32(w.Sent()),
			OctetCount:  uint32(octets),
			Reports:     blocks,
		}
	case blocks != nil:
		return &rtcp.ReceiverReport{SSRC: w.ssrcValue(), Reports: blocks}
	}
	return nil
}

// Reports is the RTCP state of a leg whose transport lives outside this
// package (an agent's PeerConnection): what the far end reports about our
// stream, and what our own reports about its stream are built from. Safe
// for concurrent use.
type Reports struct{ farReports }

// Take reads one compound packet from the far end: its sender reports
// (for the LSR/DLSR of our next report) and the report blocks about
// ourSSRC. holes is our writer's Holes now.
func (r *Reports) Take(pkts []rtcp.Packet, ourSSRC uint32, holes uint64, now time.Time) {
	r.take(pkts, ourSSRC, holes, now)
}

// Report builds our next report about w's stream (octets is the payload
// bytes it sent) and the far end's stream as received (rx): nil when we
// have neither sent nor received anything yet.
func (r *Reports) Report(w *Writer, octets uint64, rx Reception, now time.Time) rtcp.Packet {
	return r.report(w, octets, rx, now)
}
