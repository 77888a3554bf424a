package cti

import "time"

// The transitions of the call's state machine (callfsm.go holds the
// table). Each runs on the call's owner goroutine, replies to the command
// it handles, and returns EndNone to go on or the reason the call ends.

// dialPlan is what a click-to-call dials once its agent answers.
type dialPlan struct {
	num, callerID string
}

// answerRinging: the ringing agent picks up. An inbound caller is answered
// first; a click-to-call dials its number now.
func (c *Call) answerRinging(ev *callEvent) EndReason {
	cmd := ev.cmd
	if c.b == nil || c.b.ag == nil || cmd.from != c.b.ag {
		reply(cmd, Errorf(KindConflict, "only the agent being called can answer"))
		return EndNone
	}
	c.stopRing()
	if c.a == nil {
		return c.dialForAgent(cmd)
	}
	if in, ok := c.a.unansweredInbound(); ok {
		if err := in.Answer(c.ctx); err != nil {
			reply(cmd, &Error{Kind: KindConflict, Message: "the caller is gone", Err: err})
			c.log.Warn("answering", "err", err)
			return EndFailed
		}
		c.a.answered = true
		c.legAnswered(in)
	}
	return c.talkToAgent(cmd)
}

// talkToAgent connects side a with the agent on side b, who has just
// answered cmd: the call is active.
func (c *Call) talkToAgent(cmd callCmd) EndReason {
	if err := c.linkSides(); err != nil {
		reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
		return EndFailed
	}
	c.b.answered = true
	c.startRecording(c.ctx, c.log)
	c.agentAnswered(c.b.ag)
	c.setState(CallActive)
	c.publishCall(EventCallAnswered)
	reply(cmd, nil)
	if c.a.leg != nil {
		c.screenPopOnAnswer(c.ctx, c.log, c.b.ag)
	}
	return EndNone
}

// dialForAgent places a click-to-call's outbound leg once its agent has
// answered; the agent becomes the side that stays.
func (c *Call) dialForAgent(cmd callCmd) EndReason {
	ag := c.b.ag
	c.b.answered = true
	c.agentAnswered(ag)
	c.storeActivity() // call.answered waits for the far end
	leg, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.dial.callerID, To: c.dial.num})
	if err != nil {
		reply(cmd, &Error{Kind: KindUnavailable, Message: "cannot place the call", Err: err})
		c.log.Warn("click-to-call dial failed", "err", err)
		return EndFailed
	}
	c.setSIPCallID(leg.CallID())
	c.trackLeg(leg, DirectionOutbound, c.dial.num)
	c.watchDTMF(leg)
	c.a, c.b, c.dial = c.b, legSide(leg, false), nil
	c.setState(CallDialing)
	reply(cmd, nil)
	c.log.Info("click-to-call answered by the agent; dialling", "sip_call_id", leg.CallID())
	c.screenPopOnAnswer(c.ctx, c.log, ag)
	return EndNone
}

// refuseRinging: the ringing agent declines (reject or hang up), or the
// calling agent of an internal call gives up.
func (c *Call) refuseRinging(ev *callEvent) EndReason {
	reply(ev.cmd, nil)
	if c.a != nil && c.a.ag != nil && ev.cmd.from == c.a.ag {
		return EndCancelled
	}
	return EndRejected
}

// hangup ends the call from an agent's side. Reasons are recorded from
// the side that stays (the caller of an internal call), so the callee
// hanging up is the remote party hanging up.
func (c *Call) hangup(ev *callEvent) EndReason {
	reply(ev.cmd, nil)
	if c.a != nil && c.a.ag != nil && ev.cmd.from != c.a.ag {
		return EndRemoteHangup
	}
	return EndLocalHangup
}

// legEnded: a SIP leg ended. While the other party is being reached, the
// caller leaving is a cancellation and the callee's leg ending says why
// (busy, no answer, …); once talking, it is the remote party hanging up
// unless the leg knows better (media timeout, …).
func (c *Call) legEnded(ev *callEvent) EndReason {
	r := ev.leg.EndReason()
	switch st := c.state(); {
	case st == CallActive || st == CallHeld:
		if r != EndNone && r != EndRemoteHangup {
			return r
		}
		return EndRemoteHangup
	case c.b != nil && ev.leg == c.b.leg:
		if r == EndNone {
			return EndFailed
		}
		return r
	}
	return EndCancelled
}

// move: an agent's media moved to another session's endpoint.
func (c *Call) move(ev *callEvent) EndReason {
	s := c.sideOf(ev.cmd.from)
	if s == nil {
		reply(ev.cmd, nil)
		return EndNone
	}
	s.ep = ev.cmd.ep
	var err error
	if c.conn != nil {
		err = c.linkSides()
	}
	reply(ev.cmd, err)
	return EndNone
}

// progress: the far end rings or sends early media; an agent (or an
// answered caller) hears it at once — or, while a ringing far end sends
// nothing (a 180 without SDP), hears ringback played here until it does
// or answers.
func (c *Call) progress(*callEvent) EndReason {
	if c.a == nil || !c.a.answered || c.conn != nil {
		return EndNone
	}
	if c.b.early != nil && c.a.ag != nil && c.svc.player != nil {
		select {
		case <-c.b.early: // it came with this progress; earlyMedia links
		default:
			if pb, err := c.svc.player.Play(c.a.endpoint(), []Sound{{Ringback: true}}, true); err == nil {
				c.stopMusic()
				c.moh = pb
			} else {
				c.log.Warn("ringback", "err", err)
			}
			c.setState(CallEarly)
			return EndNone
		}
	}
	return c.earlyMedia(nil)
}

// earlyMedia: the far end sends audio before answering (ringback of its
// own, announcements): link it, ending our ringback.
func (c *Call) earlyMedia(*callEvent) EndReason {
	if c.a == nil || !c.a.answered || c.conn != nil {
		return EndNone
	}
	c.stopMusic()
	if err := c.linkSides(); err != nil {
		c.log.Error("connecting early media", "err", err)
		return EndFailed
	}
	c.setState(CallEarly)
	return EndNone
}

// remoteAnswered: the number being dialled answered. A forwarded caller
// is answered now.
func (c *Call) remoteAnswered(*callEvent) EndReason {
	if in, ok := c.a.unansweredInbound(); ok {
		if err := in.Answer(c.ctx); err != nil {
			c.log.Warn("answering the forwarded caller", "err", err)
			return EndCancelled
		}
		c.a.answered = true
		c.legAnswered(in)
	}
	c.stopMusic() // our ringback
	if c.conn == nil {
		if err := c.linkSides(); err != nil {
			c.log.Error("connecting media", "err", err)
			return EndFailed
		}
	}
	c.b.answered = true
	c.startRecording(c.ctx, c.log)
	c.legAnswered(c.b.leg)
	c.setState(CallActive)
	c.publishCall(EventCallAnswered)
	return EndNone
}

// hold puts the other side on hold or resumes it.
func (c *Call) hold(ev *callEvent) EndReason {
	on := ev.in == inHold
	if other := c.otherSide(ev.cmd.from); other != nil && other.leg != nil {
		if err := other.leg.Hold(c.ctx, on); err != nil {
			reply(ev.cmd, &Error{Kind: KindUnavailable, Message: "the far end refused the hold request", Err: err})
			return EndNone
		}
	}
	c.held = on
	if len(c.monitors) > 0 {
		if err := c.relinkIfLinked(); err != nil {
			c.log.Error("relinking the mix for hold", "err", err)
		}
	} else if c.conn != nil {
		c.conn.Hold(on)
	}
	c.holdChanged(on)
	if on {
		c.setState(CallHeld)
	} else {
		c.setState(CallActive)
	}
	reply(ev.cmd, nil)
	return EndNone
}

// dtmf plays digits to the other side: RFC 4733 toward a SIP leg, into
// the other browser (and its screen) toward an agent.
func (c *Call) dtmf(ev *callEvent) EndReason {
	other := c.otherSide(ev.cmd.from)
	switch {
	case other == nil:
		reply(ev.cmd, Errorf(KindConflict, "nobody on the call to send digits to"))
	case other.leg != nil:
		reply(ev.cmd, other.leg.SendDTMF(ev.cmd.digits))
	default:
		err := other.ep.SendDTMF(ev.cmd.digits)
		if err == nil {
			for _, d := range ev.cmd.digits {
				c.svc.pushToAgent(other.ag, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d})
			}
		}
		reply(ev.cmd, err)
	}
	return EndNone
}

// transfer hands the outside party to another extension or number
// (blind). The transferring agent is released at once; the call goes on
// under the same id, ringing the target.
func (c *Call) transfer(ev *callEvent) EndReason {
	cmd := ev.cmd
	from := cmd.from
	other := c.otherSide(from)
	if other == nil || other.leg == nil {
		reply(cmd, Errorf(KindConflict, "only a call with an outside party can be transferred"))
		return EndNone
	}
	target, num, via, err := c.svc.transferTarget(c.ctx, c.info.TenantID, cmd.to, from)
	if err != nil {
		reply(cmd, err)
		return EndNone
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	if c.held {
		if err := other.leg.Hold(c.ctx, false); err != nil {
			c.log.Warn("taking the caller off hold for transfer", "err", err)
		}
		c.held = false
		c.holdChanged(false)
	}
	reply(cmd, nil)
	c.release(from, EndTransferred)
	c.log.Info("call transferred", "from", from.ext, "to", num)
	c.a, c.b = other, nil
	if target != nil {
		return c.ringTransferTarget(target)
	}
	out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num}.viaNode(via))
	if err != nil {
		c.log.Warn("transfer dial failed", "err", err)
		return EndFailed
	}
	c.trackLeg(out, DirectionOutbound, num)
	c.b = legSide(out, false)
	c.setState(CallDialing)
	return EndNone
}

// ringTransferTarget makes a transfer's target agent the side being
// reached, and rings them.
func (c *Call) ringTransferTarget(target *agent) EndReason {
	c.svc.mu.Lock()
	if target.call != nil || target.session == nil {
		c.svc.mu.Unlock()
		return EndUnavailable
	}
	target.call = c
	ep := target.session.endpoint
	c.svc.mu.Unlock()
	c.mu.Lock()
	c.parties = append(c.parties, target)
	c.mu.Unlock()
	c.b = agentSide(target, ep, false)
	c.agentRinging(target)
	c.setState(CallRinging)
	c.armRing()
	c.publishCall(EventCallRinging)
	return EndNone
}

// release takes an agent out of a call that goes on without them.
func (c *Call) release(ag *agent, why EndReason) {
	c.agentLeft(ag, why)
	c.storeActivity() // the call goes on without them
	// Under notifyMu, so no later push of the call (a card arriving)
	// can reach the agent after it was told the call ended.
	c.notifyMu.Lock()
	info := c.infoFor(ag)
	info.State, info.EndReason, info.EndedAt = CallEnded, why, time.Now().UTC()
	c.svc.pushToAgent(ag, AgentEvent{Kind: EventCall, Call: &info})
	c.mu.Lock()
	for i, p := range c.parties {
		if p == ag {
			c.parties = append(c.parties[:i:i], c.parties[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	c.notifyMu.Unlock()
	c.svc.mu.Lock()
	ag.leaveLocked(c, time.Now())
	c.svc.mu.Unlock()
	c.svc.afterCall(ag, !info.AnsweredAt.IsZero())
	c.svc.dispatch()
	c.dropOutOfScope()
}

// ringInbound starts an inbound call: the caller hears ringing while the
// agent's phone rings.
func (c *Call) ringInbound(leg InboundLeg, ag *agent, ep AgentEndpoint) EndReason {
	c.a, c.b = legSide(leg, false), agentSide(ag, ep, false)
	c.watchDTMF(leg)
	if err := leg.Ringing(c.ctx); err != nil {
		c.log.Warn("sending 180 Ringing", "err", err)
	}
	c.armRing()
	if c.fwdNoAnswer != nil && c.fwdAfter < c.svc.cfg.RingTimeout {
		c.ring.Reset(c.fwdAfter)
	}
	return EndNone
}

// forwardInbound starts an inbound call forwarded to a number: the caller
// hears ringing until the far end answers.
func (c *Call) forwardTo(leg InboundLeg, num string) EndReason {
	c.a = legSide(leg, false)
	if err := leg.Ringing(c.ctx); err != nil {
		c.log.Warn("sending 180 Ringing", "err", err)
	}
	out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num})
	if err != nil {
		c.log.Warn("forward dial failed", "err", err)
		return EndFailed
	}
	c.trackLeg(out, DirectionOutbound, num)
	c.b = legSide(out, false)
	c.publishCall(EventCallRinging)
	return EndNone
}
