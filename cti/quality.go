package cti

import (
	"math"
	"time"
)

// Call quality: per leg of a call (the SIP leg to the trunk, each agent's
// browser), loss, jitter and round trip measured by the voice path (RTP
// and RTCP) and by the browser (its own statistics, sent over the agent
// websocket), turned into an estimated MOS with a simplified E-model.
//
// The E-model (ITU-T G.107) rates a call by R = R0 - Is - Id - Ie,eff + A.
// With G.711 and default settings this simplifies (as in Cole and
// Rosenbluth, "Voice over IP performance monitoring", 2001) to
//
//	d      = RTT/2 + 2·jitter + 10 ms       (one-way delay incl. the jitter buffer)
//	Id     = 0.024·d + 0.11·(d - 177.3)·H(d - 177.3)
//	Ie,eff = Ie + (95 - Ie)·Ppl / (Ppl/BurstR + Bpl)   Ie = 0, Bpl = 25.1, BurstR = 1
//	R      = 93.2 - Id - Ie,eff
//	MOS    = 1 + 0.035·R + 7·10⁻⁶·R·(R - 60)·(100 - R)   (1 below R = 0, 4.5 above 100)
//
// Bpl 25.1 is G.711 with packet-loss concealment (ITU-T G.113 Appendix I),
// what browsers and most gateways do; BurstR 1 takes loss as random.

// MediaStats are what the voice path measured on one leg since it began.
// Counters are cumulative: the quality monitor takes differences.
type MediaStats struct {
	// Expected and Received count the packets the party sent us (by
	// sequence number) and those that arrived.
	Expected, Received uint64
	// Jitter is the interarrival jitter of the party's stream.
	Jitter time.Duration
	// Reports counts the party's RTCP reports about our stream from
	// which its own loss was measured; the fields after it are from the
	// latest reports.
	Reports uint64
	// FractionLost is the share of our packets lost on the party's own
	// leg (0 to 1): what it reports lost, less what we never sent.
	FractionLost float64
	RemoteJitter time.Duration
	RTT          time.Duration // 0: not measured
	// Holes counts the sequence numbers of our stream we never sent (gaps
	// relayed from another leg's loss): a receiver's own statistics count
	// them as lost.
	Holes uint64
}

// MediaStatsReporter is implemented by endpoints (SIP legs, agent
// endpoints) whose media the voice path measures.
type MediaStatsReporter interface {
	MediaStats() MediaStats
}

// BrowserStats are what an agent's browser says about its own
// PeerConnection (RTCPeerConnection.getStats), cumulative like
// MediaStats.
type BrowserStats struct {
	// PacketsReceived and PacketsLost are the inbound audio's counters.
	PacketsReceived, PacketsLost uint64
	Jitter                       time.Duration // inbound audio jitter
	RTT                          time.Duration // 0: unknown
	// holes is MediaStats.Holes of the agent's endpoint when the report
	// arrived, to take our own gaps out of the browser's packetsLost.
	holes uint64
}

// Limits of what a browser may report, so a broken or hostile client
// cannot poison the figures.
const (
	maxBrowserPackets = 1 << 40
	maxBrowserJitter  = 10 * time.Second
	maxBrowserRTT     = time.Minute
)

// Validate checks the report is plausible.
func (b BrowserStats) Validate() error {
	switch {
	case b.PacketsReceived > maxBrowserPackets || b.PacketsLost > maxBrowserPackets:
		return Errorf(KindInvalid, "packet counts above %d", uint64(maxBrowserPackets))
	case b.Jitter < 0 || b.Jitter > maxBrowserJitter:
		return Errorf(KindInvalid, "jitter must be 0 to %v", maxBrowserJitter)
	case b.RTT < 0 || b.RTT > maxBrowserRTT:
		return Errorf(KindInvalid, "round trip must be 0 to %v", maxBrowserRTT)
	}
	return nil
}

// QualityLevel is how a leg sounds: good, fair (noticeable) or poor
// (the agent is warned).
type QualityLevel string

const (
	QualityUnknown QualityLevel = ""
	QualityGood    QualityLevel = "good"
	QualityFair    QualityLevel = "fair"
	QualityPoor    QualityLevel = "poor"
)

// MOS thresholds: R 80 (MOS 4.03) is "satisfied" in G.107 Annex B; below
// R 70 (MOS 3.6) many users are dissatisfied.
const (
	mosGood = 4.0
	mosFair = 3.6
)

// LevelOf classifies a MOS.
func LevelOf(mos float64) QualityLevel {
	switch {
	case mos >= mosGood:
		return QualityGood
	case mos >= mosFair:
		return QualityFair
	}
	return QualityPoor
}

// rank orders levels from unknown (0) to poor (3).
func rank(l QualityLevel) int {
	switch l {
	case QualityGood:
		return 1
	case QualityFair:
		return 2
	case QualityPoor:
		return 3
	}
	return 0
}

// worse returns the worse of two levels (unknown counts as better than
// anything measured).
func worse(a, b QualityLevel) QualityLevel {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// EstimateMOS is the simplified E-model above: loss is a share (0 to 1).
func EstimateMOS(loss float64, jitter, rtt time.Duration) float64 {
	d := float64(rtt.Milliseconds())/2 + 2*float64(jitter.Microseconds())/1000 + 10
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	ppl := math.Max(0, math.Min(1, loss)) * 100
	const bpl, burstR = 25.1, 1.0
	ie := 95 * ppl / (ppl/burstR + bpl)
	r := 93.2 - id - ie
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	mos := 1 + 0.035*r + 7e-6*r*(r-60)*(100-r)
	return math.Round(mos*100) / 100
}

// LegKind names what a leg connects.
type LegKind string

const (
	LegSIP   LegKind = "sip"   // the SIP leg to a trunk (the caller's line)
	LegAgent LegKind = "agent" // an agent's browser
)

// LegQuality is one leg's quality over the last measurement interval.
type LegQuality struct {
	Kind LegKind `json:"kind"`
	// Extension is the agent's for an agent leg; SIPCallID the dialog's
	// for a SIP leg.
	Extension string       `json:"extension,omitempty"`
	SIPCallID string       `json:"sipCallId,omitempty"`
	Level     QualityLevel `json:"level"`
	MOS       float64      `json:"mos"`
	// LossPercent is the worse of the two directions.
	LossPercent float64 `json:"lossPercent"`
	JitterMs    float64 `json:"jitterMs"`
	RTTMs       float64 `json:"rttMs"`
	// At is when the figures were taken.
	At time.Time `json:"at"`
}

// LegQualitySummary is a leg's quality over the whole call, for the
// call record.
type LegQualitySummary struct {
	Kind      LegKind `json:"kind"`
	Extension string  `json:"extension,omitempty"`
	SIPCallID string  `json:"sipCallId,omitempty"`
	// Samples counts the measurement intervals with audio.
	Samples int `json:"samples"`
	// MOSAvg and MOSMin are the average and worst interval's MOS.
	MOSAvg float64 `json:"mosAvg"`
	MOSMin float64 `json:"mosMin"`
	// Level is the level of the average MOS; PoorSamples counts the
	// intervals rated poor.
	Level          QualityLevel `json:"level"`
	PoorSamples    int          `json:"poorSamples"`
	LossPercentAvg float64      `json:"lossPercentAvg"`
	LossPercentMax float64      `json:"lossPercentMax"`
	JitterMsAvg    float64      `json:"jitterMsAvg"`
	RTTMsAvg       float64      `json:"rttMsAvg"`
}

// CallQuality is a call's live quality: one entry per leg with audio.
type CallQuality struct {
	CallID string       `json:"callId"`
	Legs   []LegQuality `json:"legs"`
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func ms(d time.Duration) float64 { return round1(float64(d.Microseconds()) / 1000) }
