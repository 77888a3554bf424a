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

// farReports is the latest receiver report block about our stream, and
// the far end's last sender report (for the LSR/DLSR we send back).
type farReports struct {
	count        atomic.Uint64 // report blocks about our stream
	fractionLost atomic.Uint32 // of the last block, in 1/256
	jitterUnits  atomic.Uint32
	rtt          atomic.Int64 // nanoseconds; 0 until measured
	lastSR       atomic.Uint32
	lastSRAt     atomic.Int64 // unix nanos when lastSR arrived

	// prev is the reception reading at our previous report, for the
	// fraction lost of the interval; guarded by mu (report senders only).
	mu   sync.Mutex
	prev Reception
}

// RTCPStats is what RTCP says about a leg.
type RTCPStats struct {
	// Reports counts the far end's report blocks about our stream; the
	// fields below are from the latest one and valid when Reports > 0.
	Reports uint64
	// FractionLost is the share of our packets the far end lost in its
	// last report interval (0 to 1).
	FractionLost float64
	// Jitter is the far end's interarrival jitter of our stream.
	Jitter time.Duration
	// RTT is the round trip from the last report that echoed one of our
	// sender reports (0: not measured yet).
	RTT time.Duration
}

// handleRTCP reads a compound packet from the far end. ourSSRC picks the
// report blocks about our stream out of those about others.
func (r *farReports) handleRTCP(buf []byte, ourSSRC uint32, now time.Time) {
	pkts, err := rtcp.Unmarshal(buf)
	if err != nil {
		return
	}
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			r.lastSR.Store(uint32(p.NTPTime >> 16))
			r.lastSRAt.Store(now.UnixNano())
			r.blocks(p.Reports, ourSSRC, now)
		case *rtcp.ReceiverReport:
			r.blocks(p.Reports, ourSSRC, now)
		}
	}
}

func (r *farReports) blocks(rr []rtcp.ReceptionReport, ourSSRC uint32, now time.Time) {
	for _, b := range rr {
		if b.SSRC != ourSSRC {
			continue
		}
		r.fractionLost.Store(uint32(b.FractionLost))
		r.jitterUnits.Store(b.Jitter)
		if b.LastSenderReport != 0 {
			a := uint32(ntpTime(now) >> 16)
			if d := a - b.LastSenderReport - b.Delay; d < 1<<31 {
				r.rtt.Store(int64(d) * int64(time.Second) >> 16)
			}
		}
		r.count.Add(1)
	}
}

func (r *farReports) read() RTCPStats {
	return RTCPStats{
		Reports:      r.count.Load(),
		FractionLost: float64(r.fractionLost.Load()) / 256,
		Jitter:       time.Duration(r.jitterUnits.Load()) * time.Second / clockRate,
		RTT:          time.Duration(r.rtt.Load()),
	}
}

// block is our reception report about the far end's stream, as of now.
func (r *farReports) block(rx Reception, now time.Time) (rtcp.ReceptionReport, bool) {
	if rx.Received == 0 {
		return rtcp.ReceptionReport{}, false
	}
	r.mu.Lock()
	prev := r.prev
	r.prev = rx
	r.mu.Unlock()
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
