package cti

import (
	"slices"
	"time"
)

// callHistory is what a call remembers for its record: every SIP leg,
// every agent's part, hold time, the routing decision and what the CRM or
// the agent set afterwards. It is guarded by Call.mu; the owner goroutine
// writes it, anyone may snapshot it.
type callHistory struct {
	route     string
	origin    string
	legs      []trackedLeg
	agents    []agentPart
	holdSince time.Time
	hold      time.Duration

	disposition string
	notes       string
	tags        []string

	// recording is set once the call's recording is finished.
	recording *RecordingRef
	// recPauses are the recording's pauses (recording_control.go).
	recPauses []RecordingPause
	// queue is the call's story in a queue, if it was queued.
	queue *QueueRecord
	// ivr is the call's walk through an IVR flow (ivr_runtime.go).
	ivr *IVRRecord

	// final is set once the record is built for storage; later updates
	// go to the store.
	final bool
}

type trackedLeg struct {
	leg SIPLeg
	rec LegRecord
}

type agentPart struct {
	ag  *agent
	rec AgentSegment
}

// trunkNamer is implemented by SIP legs that know their trunk's name.
type trunkNamer interface{ Trunk() string }

// trackLeg starts the record of a SIP leg.
func (c *Call) trackLeg(leg SIPLeg, dir Direction, number string) {
	rec := LegRecord{SIPCallID: leg.CallID(), Direction: dir, Number: number, StartedAt: time.Now().UTC()}
	if tn, ok := leg.(trunkNamer); ok {
		rec.Trunk = tn.Trunk()
	}
	c.mu.Lock()
	c.hist.legs = append(c.hist.legs, trackedLeg{leg: leg, rec: rec})
	c.mu.Unlock()
	c.watchRemoteHold(leg)
}

// legAnswered marks a leg answered.
func (c *Call) legAnswered(leg SIPLeg) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.hist.legs {
		if l := &c.hist.legs[i]; l.leg == leg && l.rec.AnsweredAt.IsZero() {
			l.rec.AnsweredAt = time.Now().UTC()
		}
	}
}

// legClosed marks a leg that ended before the call did (a consultation).
func (c *Call) legClosed(leg SIPLeg, why EndReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.hist.legs {
		if l := &c.hist.legs[i]; l.leg == leg && l.rec.EndedAt.IsZero() {
			l.rec.EndedAt, l.rec.EndReason = time.Now().UTC(), why
		}
	}
}

// agentRinging starts an agent's part of the call.
func (c *Call) agentRinging(ag *agent) {
	c.svc.mu.Lock()
	seg := AgentSegment{Extension: ag.ext, UserID: ag.userID, Username: ag.username, RingStartedAt: time.Now().UTC()}
	c.svc.mu.Unlock()
	c.mu.Lock()
	c.hist.agents = append(c.hist.agents, agentPart{ag: ag, rec: seg})
	c.mu.Unlock()
	c.noteActivity(ag, StatusRinging)
}

// agentAnswered marks the agent's open part answered.
func (c *Call) agentAnswered(ag *agent) {
	c.mu.Lock()
	if p := c.openPartLocked(ag); p != nil && p.rec.AnsweredAt.IsZero() {
		p.rec.AnsweredAt = time.Now().UTC()
	}
	c.mu.Unlock()
	c.noteActivity(ag, StatusOnCall)
}

// agentLeft ends the agent's open part.
func (c *Call) agentLeft(ag *agent, why EndReason) {
	var talk time.Duration
	answered := false
	c.mu.Lock()
	if p := c.openPartLocked(ag); p != nil {
		p.rec.EndedAt, p.rec.EndReason = time.Now().UTC(), why
		if !p.rec.AnsweredAt.IsZero() {
			p.rec.WrapUpSeconds = seconds(c.svc.tenant(c.info.TenantID).WrapUp)
			answered, talk = true, p.rec.EndedAt.Sub(p.rec.AnsweredAt)
		}
	}
	c.mu.Unlock()
	if answered {
		c.svc.mu.Lock()
		ag.countCallLocked(time.Now(), talk)
		c.svc.mu.Unlock()
	}
	c.noteActivity(ag, c.svc.activityAfter(ag, c))
}

// noteActivity marks what the call asks of the agent and keeps the
// change of the agent's effective status for the call's next event
// (publishCall, saveRecord), which stores it in its own transaction: a
// call's setup then waits for one commit, not one per agent and step.
// Callers whose next event is not at hand call storeActivity.
func (c *Call) noteActivity(ag *agent, act AgentStatus) {
	if ch := c.svc.markActivity(ag, act); ch != nil {
		c.mu.Lock()
		c.activity = append(c.activity, ch)
		c.mu.Unlock()
	}
}

// takeActivity returns the noted changes not yet stored and forgets them.
func (c *Call) takeActivity() []*AgentStatusChange {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.activity
	c.activity = nil
	return out
}

// storeActivity stores the noted changes now, for callers that publish
// no event of the call right after noting one.
func (c *Call) storeActivity() {
	_ = c.svc.storePresence(c.takeActivity()...)
}

func (c *Call) openPartLocked(ag *agent) *agentPart {
	for i := len(c.hist.agents) - 1; i >= 0; i-- {
		if p := &c.hist.agents[i]; p.ag == ag && p.rec.EndedAt.IsZero() {
			return p
		}
	}
	return nil
}

// holdChanged accounts time on hold.
func (c *Call) holdChanged(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	switch {
	case on && c.hist.holdSince.IsZero():
		c.hist.holdSince = now
	case !on && !c.hist.holdSince.IsZero():
		c.hist.hold += now.Sub(c.hist.holdSince)
		c.hist.holdSince = time.Time{}
	}
}

// Record returns the call's record as it stands.
func (c *Call) Record() CallRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.recordLocked(time.Now().UTC())
}

// finalRecord closes every open part with the call's end and marks the
// history final: later updates go to the stored record.
func (c *Call) finalRecord() CallRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hist.final = true
	end := c.info.EndedAt
	for i := range c.hist.legs {
		l := &c.hist.legs[i]
		if l.rec.EndedAt.IsZero() {
			l.rec.EndedAt = end
			l.rec.EndReason = c.info.EndReason
			select {
			case <-l.leg.Done():
				if r := l.leg.EndReason(); r != EndNone {
					l.rec.EndReason = r
				}
			default:
			}
		}
	}
	for i := range c.hist.agents {
		if p := &c.hist.agents[i]; p.rec.EndedAt.IsZero() {
			p.rec.EndedAt, p.rec.EndReason = end, c.info.EndReason
		}
	}
	if !c.hist.holdSince.IsZero() {
		c.hist.hold += end.Sub(c.hist.holdSince)
		c.hist.holdSince = time.Time{}
	}
	return c.recordLocked(end)
}

// recordLocked builds the record; now stands in for the end of anything
// still going on. Callers hold c.mu.
func (c *Call) recordLocked(now time.Time) CallRecord {
	ci := c.info
	r := CallRecord{
		ID: ci.ID, TenantID: ci.TenantID, Direction: ci.Direction, Origin: c.hist.origin,
		From: ci.From, To: ci.To, Route: c.hist.route,
		StartedAt: ci.StartedAt, AnsweredAt: ci.AnsweredAt, EndedAt: ci.EndedAt, EndReason: ci.EndReason,
		Disposition: c.hist.disposition, Notes: c.hist.notes, Tags: slices.Clone(c.hist.tags),
		Legs: make([]LegRecord, 0, len(c.hist.legs)), Agents: make([]AgentSegment, 0, len(c.hist.agents)),
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	r.Quality = append([]LegQualitySummary{}, c.quality.summaries...)
	if c.hist.recording != nil {
		r.Recording = ptr(*c.hist.recording)
	}
	r.RecordingPauses = slices.Clone(c.hist.recPauses)
	if q := c.hist.queue; q != nil {
		cp := *q
		cp.Offers = slices.Clone(q.Offers)
		if cp.LeftAt.IsZero() {
			cp.WaitSeconds = seconds(now.Sub(q.JoinedAt))
		}
		r.Queue = &cp
	}
	if c.hist.ivr != nil {
		r.IVR = c.hist.ivr.clone()
		if r.Origin == OriginIVRCall && !r.EndedAt.IsZero() {
			r.IVR.Outcome = ivrOutcome(r.AnsweredAt, r.EndReason)
		}
	}
	switch ci.Direction {
	case DirectionInbound:
		r.CustomerNumber = c.svc.e164(ci.TenantID, ci.From)
	case DirectionOutbound:
		r.CustomerNumber = c.svc.e164(ci.TenantID, ci.To)
	}
	for _, l := range c.hist.legs {
		r.Legs = append(r.Legs, l.rec)
	}
	for _, p := range c.hist.agents {
		r.Agents = append(r.Agents, p.rec)
		r.Durations.WrapUp += p.rec.WrapUpSeconds
	}
	end := ci.EndedAt
	if end.IsZero() {
		end = now
	}
	hold := c.hist.hold
	if !c.hist.holdSince.IsZero() {
		hold += now.Sub(c.hist.holdSince)
	}
	r.Durations.Total = seconds(end.Sub(ci.StartedAt))
	r.Durations.Hold = seconds(hold)
	if ci.AnsweredAt.IsZero() {
		r.Durations.Ring = r.Durations.Total
	} else {
		r.Durations.Ring = seconds(ci.AnsweredAt.Sub(ci.StartedAt))
		r.Durations.Talk = seconds(end.Sub(ci.AnsweredAt) - hold)
	}
	return r
}

// publishCall publishes an event about the call with its record as data,
// and stores the record as the call's live picture for crash recovery.
// Called from the call's owner goroutine, so a call's events keep their
// order (and c.recID is the owner's to read).
func (c *Call) publishCall(t EventType) {
	rec := c.Record()
	live := &LiveCall{Record: rec, RecordingID: c.recID, SeenAt: time.Now().UTC()}
	_ = c.svc.publishWith(t, rec.TenantID, rec.ID, &rec, &EventState{LiveCall: live, Agents: c.takeActivity()})
}
