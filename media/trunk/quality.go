package trunk

import (
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/rtpio"
)

var _ cti.MediaStatsReporter = (*leg)(nil)

// MediaStats implements cti.MediaStatsReporter: our reception of the far
// end's RTP, and its RTCP reports about ours.
func (l *leg) MediaStats() cti.MediaStats { return mediaStats(l.media) }

func mediaStats(m *rtpio.UDPLeg) cti.MediaStats {
	rx, rt := m.Reader.Reception(), m.RTCPStats()
	return cti.MediaStats{
		Expected: rx.Expected, Received: rx.Received, Jitter: rx.Jitter,
		Reports: rt.Reports, FractionLost: rt.FractionLost, RemoteJitter: rt.Jitter, RTT: rt.RTT,
		Holes: m.Writer.Holes(),
	}
}
