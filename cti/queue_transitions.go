package cti

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// The queued part of a call's life (callfsm.go holds the table): the
// caller is answered and hears music while waiting in line; offers ring
// agents; an agent who lets it ring or declines sends it back to the line;
// the caller may leave (abandoned), press the callback digit (called back
// when an agent is free, keeping their place), or be sent to the queue's
// overflow after the longest wait.

// Tones of the queue, heard by the caller.
const (
	announceBeepHz = 1400 // before an announcement
	callbackBeepHz = 1000 // the callback is booked
	missedReason   = "missed_calls"
)

// enqueue answers an inbound caller and puts the call in a queue's line.
// It is a begin step: the call is the caller's leg alone until offered.
func (c *Call) enqueue(leg InboundLeg, cfg *QueueConfig, priority int) EndReason {
	c.a = legSide(leg, false)
	c.watchDTMF(leg)
	if c.svc.tenant(c.info.TenantID).ScreenPop.onRinging() {
		if card := c.svc.phonebookCard(c.ctx, c.info.TenantID, c.remoteNumber()); card != nil {
			c.SetCard(card)
		}
	}
	if err := leg.Answer(c.ctx); err != nil {
		c.log.Warn("answering a queued caller", "err", err)
		return EndCancelled
	}
	c.a.answered = true
	c.legAnswered(leg)
	return c.joinQueue(cfg, priority)
}

// joinQueue puts the call (its caller answered) in cfg's line, starts the
// hold music and the queue's timers, and lets the dispatcher offer it.
func (c *Call) joinQueue(cfg *QueueConfig, priority int) EndReason {
	now := time.Now().UTC()
	c.mu.Lock()
	c.info.Queue = cfg.Name
	if c.hist.queue == nil || c.hist.queue.Name != cfg.Name {
		c.hist.queue = &QueueRecord{Name: cfg.Name, Priority: priority, JoinedAt: now, Offers: []QueueOffer{}}
	}
	c.mu.Unlock()
	s := c.svc
	s.mu.Lock()
	if !s.membersSignedInLocked(c.info.TenantID, cfg) && cfg.NoAgentsOverflow {
		s.mu.Unlock()
		c.log.Info("nobody of the queue is signed in: overflow", "queue", cfg.Name)
		return c.overflow(cfg)
	}
	s.joinLocked(c, &queued{cfg: *cfg, joined: now, priority: priority})
	s.mu.Unlock()
	for len(c.digits) > 0 { // digits pressed before the queue are not for it
		<-c.digits
	}
	c.setState(CallQueued)
	c.playHoldMusic(nil)
	c.stopQueueTimers()
	if cfg.MaxWaitSeconds > 0 {
		c.maxWait = time.NewTimer(time.Duration(cfg.MaxWaitSeconds)*time.Second - time.Since(c.hist.queue.JoinedAt))
	}
	if cfg.AnnounceSeconds > 0 {
		c.announce = time.NewTicker(time.Duration(cfg.AnnounceSeconds) * time.Second)
	}
	c.log.Info("queued", "queue", cfg.Name, "priority", priority)
	c.publishCall(EventCallQueued)
	s.dispatch()
	return EndNone
}

// playHoldMusic plays the queue's music to the caller, after the sounds
// before it (an announcement).
func (c *Call) playHoldMusic(before []Sound) {
	c.stopMusic()
	p := c.svc.player
	if p == nil || c.a == nil || c.a.leg == nil || c.q == nil {
		return
	}
	music := Sound{}
	if c.q.cfg.Music != "" && c.svc.cfg.MusicDir != "" {
		music.Music = c.svc.cfg.MusicDir + "/" + c.q.cfg.Music
	}
	pb, err := p.Play(c.a.leg, append(before, music), true)
	if err != nil {
		c.log.Warn("hold music", "err", err)
		return
	}
	c.moh = pb
}

// stopMusic ends what is playing to the caller.
func (c *Call) stopMusic() {
	if c.moh != nil {
		c.moh.Stop()
		c.moh = nil
	}
}

func (c *Call) stopQueueTimers() {
	if c.maxWait != nil {
		c.maxWait.Stop()
		c.maxWait = nil
	}
	if c.announce != nil {
		c.announce.Stop()
		c.announce = nil
	}
}

// leaveQueue takes the call out of its line for good, noting why.
func (c *Call) leaveQueue(outcome string) {
	c.stopQueueTimers()
	c.svc.mu.Lock()
	c.svc.leaveLocked(c)
	q := c.q
	c.q = nil
	c.svc.mu.Unlock()
	now := time.Now().UTC()
	var waited time.Duration
	answered := false
	c.mu.Lock()
	if r := c.hist.queue; r != nil && r.LeftAt.IsZero() {
		r.LeftAt, r.Outcome = now, outcome
		r.WaitSeconds = seconds(now.Sub(r.JoinedAt))
		waited, answered = now.Sub(r.JoinedAt), outcome == "answered" || outcome == "callback_answered"
	}
	c.mu.Unlock()
	// Service.mu is never taken under Call.mu (the dispatcher takes them
	// the other way round).
	if q != nil && answered {
		c.svc.mu.Lock()
		q.line.answered++
		q.line.waitTotal += waited
		c.svc.mu.Unlock()
	}
}

// offer: the dispatcher reserved agents for the call; ring them.
func (c *Call) offer(ev *callEvent) EndReason {
	o := ev.offer
	if o.remote != nil {
		return c.offerRemote(o.remote)
	}
	now := time.Now().UTC()
	c.offered = c.offered[:0]
	if len(c.offered) == 0 && c.svc.tenant(c.info.TenantID).ScreenPop.onRinging() && len(o.agents) > 0 {
		c.mu.Lock()
		known := c.info.Card != nil
		c.mu.Unlock()
		if !known {
			c.lookupCRM(c.ctx, c.log, LookupRinging, o.agents[0].ext)
		}
	}
	for i, ag := range o.agents {
		c.offered = append(c.offered, agentSide(ag, o.eps[i], false))
		c.mu.Lock()
		if r := c.hist.queue; r != nil {
			r.Offers = append(r.Offers, QueueOffer{Extension: ag.ext, OfferedAt: now})
		}
		c.mu.Unlock()
	}
	// The caller keeps hearing music while the agents ring. The phones
	// ring first; the bookkeeping that needs the disk follows.
	c.setState(CallRinging)
	c.ring = time.NewTimer(time.Duration(c.q.cfg.RingSeconds) * time.Second)
	for _, ag := range o.agents {
		c.agentRinging(ag)
	}
	c.publishCall(EventCallRinging)
	return EndNone
}

// noteOffer records the answer of the agent offered the call (on this
// node or another) in the queue story.
func (c *Call) noteOffer(ext, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.hist.queue
	if r == nil {
		return
	}
	for i := len(r.Offers) - 1; i >= 0; i-- {
		if r.Offers[i].Extension == ext && r.Offers[i].Outcome == "" {
			r.Offers[i].Outcome = outcome
			return
		}
	}
}

// offeredTo returns the ringing side of an offered agent.
func (c *Call) offeredTo(ag *agent) *side {
	for _, s := range c.offered {
		if s.ag == ag {
			return s
		}
	}
	return nil
}

// dropOffer releases one offered agent (why for their part of the call).
func (c *Call) dropOffer(s *side, why EndReason, outcome string) {
	c.offered = slices.DeleteFunc(c.offered, func(o *side) bool { return o == s })
	c.noteOffer(s.ag.ext, outcome)
	c.release(s.ag, why)
}

// answerOffer: one of the offered agents picks up. The others stop
// ringing; a callback now dials the caller back.
func (c *Call) answerOffer(ev *callEvent) EndReason {
	cmd := ev.cmd
	s := c.offeredTo(cmd.from)
	if s == nil {
		reply(cmd, Errorf(KindConflict, "only an agent being called can answer"))
		return EndNone
	}
	c.stopRing()
	for _, o := range slices.Clone(c.offered) {
		if o != s {
			c.dropOffer(o, EndAnsweredElsewhere, "answered_elsewhere")
		}
	}
	c.offered = nil
	c.noteOffer(s.ag.ext, "answered")
	c.svc.resetMissed(s.ag)
	callback := c.q.callback
	if callback {
		c.leaveQueue("callback_answered")
		c.b = s
		c.a = nil
		num := c.info.From
		c.dial = &dialPlan{num: num, callerID: c.info.To}
		return c.dialForAgent(cmd)
	}
	c.stopMusic()
	c.leaveQueue("answered")
	c.b = s
	return c.talkToAgent(cmd)
}

// refuseOffer: an offered agent declines; when nobody rings any more the
// call goes back in line.
func (c *Call) refuseOffer(ev *callEvent) EndReason {
	reply(ev.cmd, nil)
	if s := c.offeredTo(ev.cmd.from); s != nil {
		c.markTried(s.ag)
		c.dropOffer(s, EndRejected, "rejected")
	}
	return c.backInLine()
}

// offerGone: an offered agent's session closed.
func (c *Call) offerGone(ev *callEvent) EndReason {
	if s := c.offeredTo(ev.cmd.from); s != nil {
		c.markTried(s.ag)
		c.dropOffer(s, EndAgentGone, "agent_gone")
	}
	return c.backInLine()
}

// offerTimeout: nobody answered in the queue's ring time. Each offered
// agent missed the call; one who misses too many in a row is set away.
func (c *Call) offerTimeout(*callEvent) EndReason {
	if c.remote != nil {
		c.remoteOfferOver("no_answer")
		return c.backInLine()
	}
	for _, o := range slices.Clone(c.offered) {
		c.markTried(o.ag)
		c.dropOffer(o, EndNoAnswer, "no_answer")
		c.svc.missedOffer(o.ag, c.q.cfg.MaxMissed)
	}
	return c.backInLine()
}

func (c *Call) markTried(ag *agent) {
	c.svc.mu.Lock()
	if c.q != nil {
		c.q.tried[ag] = true
	}
	c.svc.mu.Unlock()
}

// backInLine returns the call to waiting once no offered agent rings.
func (c *Call) backInLine() EndReason {
	if len(c.offered) > 0 {
		return EndNone
	}
	c.stopRing()
	c.svc.mu.Lock()
	c.q.offering = false
	c.svc.mu.Unlock()
	c.setState(CallQueued)
	c.svc.dispatch()
	return EndNone
}

// callerLeft: the caller hung up while waiting (or while agents rang).
func (c *Call) callerLeft(ev *callEvent) EndReason {
	if c.remoteLegEvent(ev) {
		return c.remoteOfferEnded()
	}
	c.remoteOfferOver("abandoned")
	if c.q != nil && c.q.callback {
		return EndNone // the leg we hung up ourselves
	}
	for _, o := range slices.Clone(c.offered) {
		c.dropOffer(o, EndCancelled, "abandoned")
	}
	c.stopMusic()
	c.leaveQueue("abandoned")
	return EndAbandoned
}

// callerDigit: a digit from the waiting caller; the callback digit books
// a callback and hangs up, keeping the caller's place.
func (c *Call) callerDigit(ev *callEvent) EndReason {
	cfg := c.q.cfg
	if cfg.CallbackDigit == "" || ev.cmd.digits != cfg.CallbackDigit || c.q.callback {
		return EndNone
	}
	c.svc.mu.Lock()
	c.q.callback = true
	c.svc.mu.Unlock()
	c.mu.Lock()
	if c.hist.queue != nil {
		c.hist.queue.Callback = true
	}
	c.mu.Unlock()
	c.stopMusic()
	c.stopQueueTimers() // a booked callback waits as long as it takes
	if p := c.svc.player; p != nil {
		if pb, err := p.Play(c.a.leg, []Sound{{ToneHz: callbackBeepHz, Length: 600 * time.Millisecond}}, false); err == nil {
			t := time.NewTimer(700 * time.Millisecond)
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
			pb.Stop()
		}
	}
	leg := c.a.leg
	c.a = nil
	_ = leg.Hangup(context.WithoutCancel(c.ctx))
	c.log.Info("callback booked; the caller hung up and keeps their place", "number", c.info.From)
	return EndNone
}

// announcePosition: the caller hears a beep, their position and the
// estimated wait in minutes (in-band digits, "#" between), then music.
func (c *Call) announcePosition(*callEvent) EndReason {
	c.svc.mu.Lock()
	pos, wait := c.svc.positionLocked(c)
	c.svc.mu.Unlock()
	if pos == 0 || c.a == nil {
		return EndNone
	}
	mins := int((wait + time.Minute - 1) / time.Minute)
	c.playHoldMusic([]Sound{
		{ToneHz: announceBeepHz, Length: 300 * time.Millisecond},
		{Digits: strconv.Itoa(pos) + "#" + strconv.Itoa(mins)},
	})
	return EndNone
}

// maxWaitReached: the caller waited the queue's longest wait.
func (c *Call) maxWaitReached(*callEvent) EndReason {
	cfg := c.q.cfg
	c.remoteOfferOver("no_answer")
	for _, o := range slices.Clone(c.offered) {
		c.dropOffer(o, EndNoAnswer, "no_answer")
	}
	c.offered = nil
	c.stopRing()
	c.log.Info("longest wait reached: overflow", "queue", cfg.Name, "overflow", cfg.Overflow.Kind)
	return c.overflow(&cfg)
}

// overflow sends the caller to the queue's overflow destination.
func (c *Call) overflow(cfg *QueueConfig) EndReason {
	c.stopMusic()
	c.leaveQueue("overflow")
	c.mu.Lock()
	if r := c.hist.queue; r != nil && cfg.Overflow.Kind != DestNone {
		r.Overflow = ptr(cfg.Overflow)
	}
	c.mu.Unlock()
	switch cfg.Overflow.Kind {
	case DestQueue:
		next, err := c.svc.queueConfig(c.ctx, c.info.TenantID, cfg.Overflow.Target)
		if err != nil {
			c.log.Warn("overflow queue missing", "queue", cfg.Overflow.Target, "err", err)
			return EndUnavailable
		}
		c.mu.Lock()
		c.hist.queue = nil // the story goes on in the next queue
		c.mu.Unlock()
		return c.joinQueue(next, 0)
	case DestExtension:
		s := c.svc
		s.mu.Lock()
		ag, err := s.ringableLocked(c.info.TenantID, cfg.Overflow.Target)
		s.mu.Unlock()
		if err != nil {
			c.log.Info("overflow extension cannot take the call", "ext", cfg.Overflow.Target, "err", err)
			return EndUnavailable
		}
		return c.ringTransferTarget(ag)
	case DestVoicemail:
		return c.startVoicemail(cfg)
	case DestNumber:
		num := normalizeNumber(cfg.Overflow.Target)
		out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num})
		if err != nil {
			c.log.Warn("overflow dial failed", "err", err)
			return EndFailed
		}
		c.trackLeg(out, DirectionOutbound, num)
		c.b = legSide(out, false)
		c.setState(CallDialing)
		return EndNone
	}
	return EndNoAnswer
}

// voicemailBeepHz starts the caller's message.
const voicemailBeepHz = 880

// startVoicemail: the caller hears a beep and what they say is recorded,
// until they hang up, press #, or the queue's longest message. The
// recording reaches the CRM like any other (recording.ready, marked as a
// voicemail) with the call's record.
func (c *Call) startVoicemail(cfg *QueueConfig) EndReason {
	s := c.svc
	if s.recorder == nil || c.a == nil || c.a.leg == nil {
		return EndUnavailable
	}
	if p := s.player; p != nil {
		if pb, err := p.Play(c.a.leg, []Sound{{ToneHz: voicemailBeepHz, Length: 500 * time.Millisecond}}, false); err == nil {
			t := time.NewTimer(600 * time.Millisecond)
			select {
			case <-t.C:
			case <-c.ctx.Done():
			}
			t.Stop()
			pb.Stop()
		}
	}
	id := newID("rec")
	r, err := s.recorder.RecordEndpoint(c.ctx, RecordingRequest{ID: id, CallID: c.ID(), TenantID: c.info.TenantID}, c.a.leg)
	if err != nil {
		c.log.Error("recording a voicemail", "err", err)
		return EndFailed
	}
	c.rec, c.recID, c.voicemail = r, id, true
	c.setState(CallVoicemail)
	c.maxWait = time.NewTimer(time.Duration(cfg.VoicemailSeconds) * time.Second)
	c.log.Info("voicemail", "recording", id)
	return EndNone
}

// voicemailDigit: # ends the message.
func (c *Call) voicemailDigit(ev *callEvent) EndReason {
	if ev.cmd.digits == "#" {
		return EndLocalHangup
	}
	return EndNone
}

// resetMissed clears an agent's missed offers in a row (they answered).
func (s *Service) resetMissed(ag *agent) {
	s.mu.Lock()
	ag.missed = 0
	s.mu.Unlock()
}

// missedOffer counts an offer the agent let ring out; at max in a row
// (0: never) they are set away so callers stop waiting on them.
func (s *Service) missedOffer(ag *agent, max int) {
	s.mu.Lock()
	ag.missed++
	if max == 0 || ag.missed < max || ag.session == nil || ag.status != StatusAvailable {
		s.mu.Unlock()
		return
	}
	ag.missed = 0
	ch := s.setStatusLocked(ag, StatusAway, missedReason, time.Time{})
	ss := ag.session
	s.mu.Unlock()
	s.log.Info("agent missed too many queue calls in a row: set away", "tenant", ag.key.tenant, "ext", ag.ext, "missed", max)
	_ = s.publishStatus(ch)
	ss.push(AgentEvent{Kind: EventStatus, Status: StatusAway, Reason: missedReason})
}
