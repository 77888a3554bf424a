package server

import (
	"math"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// statsFromWire checks a browser's statistics: whole, non-negative, finite
// counts and times (packetsLost may be negative in the spec, with
// duplicates; it is taken as 0).
func statsFromWire(s *wsproto.Stats) (cti.BrowserStats, error) {
	finite := func(name string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return cti.Errorf(cti.KindInvalid, "stats.%s must be a non-negative number", name)
		}
		return nil
	}
	lost := max(0, *s.PacketsLost)
	if err := finite("packetsReceived", *s.PacketsReceived); err != nil {
		return cti.BrowserStats{}, err
	}
	if err := finite("packetsLost", lost); err != nil {
		return cti.BrowserStats{}, err
	}
	if err := finite("jitter", *s.Jitter); err != nil {
		return cti.BrowserStats{}, err
	}
	if *s.PacketsReceived != math.Trunc(*s.PacketsReceived) || lost != math.Trunc(lost) {
		return cti.BrowserStats{}, cti.Errorf(cti.KindInvalid, "stats packet counts must be whole numbers")
	}
	b := cti.BrowserStats{PacketsReceived: uint64(min(*s.PacketsReceived, 1<<62)), PacketsLost: uint64(min(lost, 1<<62)),
		Jitter: seconds(*s.Jitter)}
	if s.RoundTripTime != nil {
		if err := finite("roundTripTime", *s.RoundTripTime); err != nil {
			return cti.BrowserStats{}, err
		}
		b.RTT = seconds(*s.RoundTripTime)
	}
	return b, b.Validate()
}

// seconds converts seconds to a duration, saturating far beyond any
// limit the domain accepts.
func seconds(v float64) time.Duration {
	return time.Duration(min(v, 1e6) * float64(time.Second))
}

// qualityToWire is the call's quality as the agent ext is told it.
func qualityToWire(q *cti.AgentQuality, ext string) *wsproto.Quality {
	w := &wsproto.Quality{CallID: q.CallID, Level: string(q.Level), Side: q.Side, Legs: make([]wsproto.QualityLeg, 0, len(q.Legs))}
	for _, l := range q.Legs {
		w.Legs = append(w.Legs, wsproto.QualityLeg{Kind: string(l.Kind), Extension: l.Extension,
			Self: l.Kind == cti.LegAgent && l.Extension == ext, Level: string(l.Level), MOS: l.MOS,
			LossPercent: l.LossPercent, JitterMs: l.JitterMs, RTTMs: l.RTTMs})
	}
	return w
}
