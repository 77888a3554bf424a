package cti

import (
	"cmp"
	"slices"
	"sync/atomic"
	"time"
)

// The quality monitor: one goroutine of the service (counted in
// Service.bg, ended with its context) measures each running call's legs
// with audio every Config.QualityInterval, keeps the live figures and the
// call's summary under Call.mu, tells the agents when a leg's level
// changes, and refreshes the supervisors' view of the call. A call is
// measured from its start until its flow stops (Call.quality* under
// Call.qmu), so the summary its record gets is final.

// DefaultQualityInterval is how often legs are measured: long enough for
// 100 packets at 20 ms (so 1 % of loss is one packet), short enough that
// a warning comes within seconds.
const DefaultQualityInterval = 2 * time.Second

// minQualityPackets: an interval in which the party sent fewer packets
// (hold, a muted sender) says nothing about the network.
const minQualityPackets = 10

// supervisorRefresh: besides level changes, supervisors get a call's
// figures every this many intervals when they moved.
const supervisorRefresh = 5

// recoverAfter is how many better intervals in a row a leg needs before
// its level improves.
const recoverAfter = 2

// browserReportEvery is the least time between two browser reports of a
// session; the widget sends one every few seconds.
const browserReportEvery = time.Second

// AgentQuality is a call's quality as one agent is told about it.
type AgentQuality struct {
	CallID string
	// Level is the worst leg's level.
	Level QualityLevel
	// Side says where the worst leg is when it is poor: "local" (the
	// agent's own network) or "remote" (the other party's line).
	Side string
	Legs []LegQuality
}

// Sides of a quality warning.
const (
	SideLocal  = "local"
	SideRemote = "remote"
)

// qualityState is a call's quality, guarded by Call.mu.
type qualityState struct {
	live      []LegQuality
	summaries []LegQualitySummary
}

// browserReport is the latest statistics an agent's browser sent.
type browserReport struct {
	stats atomic.Pointer[BrowserStats]
	last  atomic.Int64 // unix nanos of the last accepted report
}

// ReportStats records what the agent's browser measured on its
// PeerConnection. Reports more often than once a second are refused.
func (ss *AgentSession) ReportStats(b BrowserStats) error {
	if err := b.Validate(); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	last := ss.browser.last.Load()
	if now-last < int64(browserReportEvery) || !ss.browser.last.CompareAndSwap(last, now) {
		return Errorf(KindRateLimited, "statistics at most once every %v", browserReportEvery)
	}
	if src, ok := ss.endpoint.(MediaStatsReporter); ok {
		b.holes = src.MediaStats().Holes
	}
	ss.browser.stats.Store(&b)
	return nil
}

// legMeter measures one leg; it belongs to the quality loop (under Call.qmu).
type legMeter struct {
	kind      LegKind
	ext       string
	sipCallID string
	src       MediaStatsReporter
	sess      *AgentSession

	prev        MediaStats
	prevBrowser BrowserStats
	prevIn      legReading // the last reading's inbound figures
	seen        bool
	last        LegQuality
	better      int // intervals in a row rated better than last.Level
	sum         LegQualitySummary
	mosTotal    float64
	lossTotal   float64
	jitterTotal float64
	rttTotal    float64
}

// qualityLoop measures every running call once per interval: one
// goroutine for all calls rather than one per call.
func (s *Service) qualityLoop() {
	defer s.bg.Done()
	every := s.cfg.QualityInterval
	if every <= 0 {
		every = DefaultQualityInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var calls []*Call
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.mu.Lock()
			for _, c := range s.calls {
				calls = append(calls, c)
			}
			s.mu.Unlock()
			for _, c := range calls {
				c.measureTick(now)
			}
			clear(calls)
			calls = calls[:0]
		}
	}
}

// startQuality makes the quality loop measure the call (and starts the
// loop with the service's first call).
func (c *Call) startQuality() {
	s := c.svc
	s.qualityOnce.Do(func() {
		s.bg.Add(1)
		go s.qualityLoop()
	})
	c.qmu.Lock()
	c.qualityOn = true
	c.qmu.Unlock()
}

// stopQuality ends the call's measurements; when it returns no reading
// is in progress, so the summary stays as it is.
func (c *Call) stopQuality() {
	c.qmu.Lock()
	c.qualityOn = false
	c.qmu.Unlock()
}

// measureTick takes the call's reading for this interval. A panic in one
// call's measurement is that call's problem: it stops being measured.
func (c *Call) measureTick(now time.Time) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if !c.qualityOn {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.qualityOn = false
			c.svc.log.Error("measuring a call's quality failed with a panic", "call", c.ID(), "panic", r)
		}
	}()
	if c.qualityMeters == nil {
		c.qualityMeters = map[string]*legMeter{}
	}
	c.qualityTicks++
	c.measureQuality(c.qualityMeters, now, c.qualityTicks%supervisorRefresh == 0)
}

// measureQuality takes one reading of every leg with audio.
func (c *Call) measureQuality(meters map[string]*legMeter, now time.Time, refresh bool) {
	type agentLeg struct {
		ag   *agent
		sess *AgentSession
	}
	var sips []SIPLeg
	var agents []agentLeg
	c.mu.Lock()
	for _, l := range c.hist.legs {
		if !l.rec.AnsweredAt.IsZero() && l.rec.EndedAt.IsZero() {
			sips = append(sips, l.leg)
		}
	}
	for _, p := range c.hist.agents {
		if !p.rec.AnsweredAt.IsZero() && p.rec.EndedAt.IsZero() {
			agents = append(agents, agentLeg{ag: p.ag})
		}
	}
	c.mu.Unlock()
	c.svc.mu.Lock()
	for i := range agents {
		agents[i].sess = agents[i].ag.session
	}
	c.svc.mu.Unlock()

	current := map[string]bool{}
	for _, l := range sips {
		src, ok := l.(MediaStatsReporter)
		if !ok {
			continue
		}
		key := "sip:" + l.CallID()
		current[key] = true
		if meters[key] == nil {
			meters[key] = &legMeter{kind: LegSIP, sipCallID: l.CallID(), src: src}
		}
	}
	for _, a := range agents {
		if a.sess == nil {
			continue
		}
		src, ok := a.sess.endpoint.(MediaStatsReporter)
		if !ok {
			continue
		}
		key := "agent:" + a.ag.ext
		current[key] = true
		m := meters[key]
		if m == nil || m.sess != a.sess {
			// A new session (a reload, a takeover) starts its own counters.
			old := m
			m = &legMeter{kind: LegAgent, ext: a.ag.ext, src: src, sess: a.sess}
			if old != nil {
				m.sum, m.mosTotal, m.lossTotal, m.jitterTotal, m.rttTotal, m.last =
					old.sum, old.mosTotal, old.lossTotal, old.jitterTotal, old.rttTotal, old.last
			}
			meters[key] = m
		}
	}

	// Two passes: a relay passes the jitter of one leg's inbound stream on
	// to the other leg's outbound one, so the jitter a party reports of
	// our stream is charged to its own leg only beyond what the other
	// legs brought in. (Relayed loss needs no such guess: the voice path
	// counts the gaps it relays and takes them out, MediaStats.Holes.)
	readings := map[string]legReading{}
	for key, m := range meters {
		if current[key] {
			if r, ok := m.read(); ok {
				readings[key] = r
			}
		}
	}
	changed, moved := false, false
	for key, r := range readings {
		var upJitter time.Duration
		for other, o := range readings {
			if other != key {
				// A report covers its own interval, which straddles ours:
				// take the last two of the other leg's.
				upJitter = max(upJitter, o.inJitter, o.prevInJitter)
			}
		}
		m := meters[key]
		q := m.record(r, upJitter, now)
		changed = changed || q.Level != m.last.Level
		moved = moved || q.MOS != m.last.MOS
		m.last = q
	}

	live := make([]LegQuality, 0, len(meters))
	sums := make([]LegQualitySummary, 0, len(meters))
	for key, m := range meters {
		if m.sum.Samples == 0 {
			continue
		}
		if current[key] {
			live = append(live, m.last)
		}
		sums = append(sums, m.summary())
	}
	order := func(k1 LegKind, e1, s1 string, k2 LegKind, e2, s2 string) int {
		return cmp.Or(cmp.Compare(k2, k1), cmp.Compare(e1, e2), cmp.Compare(s1, s2)) // sip before agent
	}
	slices.SortFunc(live, func(a, b LegQuality) int {
		return order(a.Kind, a.Extension, a.SIPCallID, b.Kind, b.Extension, b.SIPCallID)
	})
	slices.SortFunc(sums, func(a, b LegQualitySummary) int {
		return order(a.Kind, a.Extension, a.SIPCallID, b.Kind, b.Extension, b.SIPCallID)
	})
	c.mu.Lock()
	c.quality.live, c.quality.summaries = live, sums
	ended := c.info.State == CallEnded
	c.mu.Unlock()
	if ended || !(changed || (refresh && moved)) {
		return
	}
	// Under notifyMu, as every call delta: a quality delta must not
	// overtake a state change of the call (or be overtaken by it).
	c.notifyMu.Lock()
	c.svc.emitCall(c)
	c.notifyMu.Unlock()
	if !changed {
		return
	}
	for _, p := range c.partiesNow() {
		aq := qualityFor(c.ID(), p.ext, live)
		c.svc.pushToAgent(p, AgentEvent{Kind: EventQuality, CallID: c.ID(), Quality: &aq})
	}
}

// qualityFor is the call's quality as the agent ext is told it.
func qualityFor(callID, ext string, legs []LegQuality) AgentQuality {
	aq := AgentQuality{CallID: callID, Legs: legs}
	for _, l := range legs {
		aq.Level = worse(aq.Level, l.Level)
	}
	if aq.Level != QualityPoor {
		return aq
	}
	aq.Side = SideRemote
	for _, l := range legs {
		if l.Kind == LegAgent && l.Extension == ext && l.Level == QualityPoor {
			aq.Side = SideLocal
		}
	}
	return aq
}

// legReading is one interval of a leg, each direction apart: in is
// what the party sent us, out what it reports of what we sent it.
type legReading struct {
	inLoss, outLoss     float64
	inJitter, outJitter time.Duration
	rtt                 time.Duration
	// The previous interval's inbound jitter.
	prevInJitter time.Duration
}

// read takes the leg's interval since the last reading; false when it
// carried too little audio to say anything.
func (m *legMeter) read() (legReading, bool) {
	cur := m.src.MediaStats()
	var br BrowserStats
	if m.sess != nil {
		if b := m.sess.browser.stats.Load(); b != nil {
			br = *b
		}
	}
	prev, prevBr, seen := m.prev, m.prevBrowser, m.seen
	m.prev, m.prevBrowser, m.seen = cur, br, true
	if !seen {
		return legReading{}, false
	}
	expected := int64(cur.Expected - prev.Expected)
	if expected < minQualityPackets {
		return legReading{}, false
	}
	received := int64(cur.Received - prev.Received)
	r := legReading{inLoss: float64(max(0, expected-received)) / float64(expected), inJitter: cur.Jitter, rtt: cur.RTT,
		prevInJitter: m.prevIn.inJitter}
	m.prevIn = r
	if cur.Reports > prev.Reports {
		// The party's own view of our stream, fresh this interval.
		r.outLoss, r.outJitter = cur.FractionLost, cur.RemoteJitter
	}
	if br.PacketsReceived+br.PacketsLost > prevBr.PacketsReceived+prevBr.PacketsLost && br.PacketsReceived >= prevBr.PacketsReceived {
		// The browser's view of what we send it, less the gaps we sent.
		expected := float64(br.PacketsLost) - float64(prevBr.PacketsLost) + float64(br.PacketsReceived-prevBr.PacketsReceived)
		lost := float64(br.PacketsLost) - float64(prevBr.PacketsLost) - (float64(br.holes) - float64(prevBr.holes))
		if lost > 0 && expected > 0 {
			r.outLoss = max(r.outLoss, min(1, lost/expected))
		}
		r.outJitter = max(r.outJitter, br.Jitter)
	}
	r.rtt = max(r.rtt, br.RTT)
	return r, true
}

// record rates the interval, charging the outbound jitter only beyond
// what the other legs brought in (upJitter), and adds it to the leg's
// summary.
func (m *legMeter) record(r legReading, upJitter time.Duration, now time.Time) LegQuality {
	loss := max(r.inLoss, r.outLoss)
	jitter := max(r.inJitter, r.outJitter-upJitter)
	mos := EstimateMOS(loss, jitter, r.rtt)
	q := LegQuality{Kind: m.kind, Extension: m.ext, SIPCallID: m.sipCallID, Level: LevelOf(mos), MOS: mos,
		LossPercent: round1(loss * 100), JitterMs: ms(jitter), RTTMs: ms(r.rtt), At: now.UTC()}

	// A leg turns worse at once but better only after recoverAfter
	// intervals in a row, so a line hovering at a threshold does not make
	// the warning blink.
	if rank(q.Level) < rank(m.last.Level) {
		if m.better++; m.better < recoverAfter {
			q.Level = m.last.Level
		} else {
			m.better = 0
		}
	} else {
		m.better = 0
	}

	s := &m.sum
	if s.Samples == 0 || mos < s.MOSMin {
		s.MOSMin = mos
	}
	s.Samples++
	s.LossPercentMax = max(s.LossPercentMax, q.LossPercent)
	if LevelOf(mos) == QualityPoor {
		s.PoorSamples++
	}
	m.mosTotal += mos
	m.lossTotal += q.LossPercent
	m.jitterTotal += q.JitterMs
	m.rttTotal += q.RTTMs
	return q
}

// summary is the leg's quality so far.
func (m *legMeter) summary() LegQualitySummary {
	s := m.sum
	n := float64(s.Samples)
	s.Kind, s.Extension, s.SIPCallID = m.kind, m.ext, m.sipCallID
	s.MOSAvg = float64(int(m.mosTotal/n*100+0.5)) / 100
	s.Level = LevelOf(s.MOSAvg)
	s.LossPercentAvg = round1(m.lossTotal / n)
	s.JitterMsAvg = round1(m.jitterTotal / n)
	s.RTTMsAvg = round1(m.rttTotal / n)
	return s
}

// liveQuality returns the call's current per-leg quality.
func (c *Call) liveQualityLocked() []LegQuality {
	return slices.Clone(c.quality.live)
}
