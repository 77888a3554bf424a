package peer

import (
	"errors"
	"io"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var _ cti.MediaStatsReporter = (*Endpoint)(nil)

// readSenderRTCP reads the browser's RTCP about our track until the
// sender closes: its receiver reports carry its loss and jitter, and echo
// our sender reports (reports.go) for the round trip; its sender reports
// give the LSR/DLSR of our receiver reports.
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
		e.reports.Take(pkts, ssrc, e.writer.Holes(), time.Now())
	}
}

// MediaStats implements cti.MediaStatsReporter: our reception of the
// browser's audio, and the browser's reports about ours.
func (e *Endpoint) MediaStats() cti.MediaStats { return mediaStats(e.reader, e.writer, &e.reports) }

// mediaStats is a session's quality on either stack: our reception of
// the browser's audio, and the browser's reports about ours.
func mediaStats(r *rtpio.Reader, w *rtpio.Writer, reports *rtpio.Reports) cti.MediaStats {
	rx, rt := r.Reception(), reports.Stats()
	return cti.MediaStats{
		Expected: rx.Expected, Received: rx.Received, Jitter: rx.Jitter,
		Reports: rt.Reports, FractionLost: rt.FractionLost, RemoteJitter: rt.Jitter, RTT: rt.RTT,
		Holes: w.Holes(),
	}
}
