package peer

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.MediaStatsReporter = (*Endpoint)(nil)

// browserReports is what the browser's RTCP says about our stream: its
// receiver reports carry its loss and jitter, and echo our sender
// reports (sent by pion's report interceptor) for the round trip.
type browserReports struct {
	count        atomic.Uint64
	fractionLost atomic.Uint32 // 1/256
	jitterUnits  atomic.Uint32
	rtt          atomic.Int64 // nanoseconds
}

// readSenderRTCP reads the browser's RTCP about our track until the
// sender closes. Reading is also what lets the interceptors see it.
func (e *Endpoint) readSenderRTCP(s *webrtc.RTPSender) {
	defer e.wg.Done()
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || e.ctx.Err() != nil {
				return
			}
			continue
		}
		ssrc := uint32(0)
		if ps := s.GetParameters().Encodings; len(ps) > 0 {
			ssrc = uint32(ps[0].SSRC)
		}
		now := time.Now()
		for _, p := range pkts {
			var blocks []rtcp.ReceptionReport
			switch p := p.(type) {
			case *rtcp.ReceiverReport:
				blocks = p.Reports
			case *rtcp.SenderReport:
				blocks = p.Reports
			}
			for _, b := range blocks {
				if b.SSRC != ssrc {
					continue
				}
				e.reports.fractionLost.Store(uint32(b.FractionLost))
				e.reports.jitterUnits.Store(b.Jitter)
				if b.LastSenderReport != 0 {
					a := uint32(ntpMiddle(now))
					if d := a - b.LastSenderReport - b.Delay; d < 1<<31 {
						e.reports.rtt.Store(int64(d) * int64(time.Second) >> 16)
					}
				}
				e.reports.count.Add(1)
			}
		}
	}
}

// ntpMiddle is the middle 32 bits of t's NTP timestamp, as in LSR.
func ntpMiddle(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return (secs<<32 | frac) >> 16 & 0xFFFFFFFF
}

// MediaStats implements cti.MediaStatsReporter: our reception of the
// browser's audio, and the browser's reports about ours.
func (e *Endpoint) MediaStats() cti.MediaStats {
	rx := e.reader.Reception()
	return cti.MediaStats{
		Expected: rx.Expected, Received: rx.Received, Jitter: rx.Jitter,
		Reports:      e.reports.count.Load(),
		FractionLost: float64(e.reports.fractionLost.Load()) / 256,
		RemoteJitter: time.Duration(e.reports.jitterUnits.Load()) * time.Second / 8000,
		RTT:          time.Duration(e.reports.rtt.Load()),
	}
}
