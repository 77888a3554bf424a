package cti

import "time"

// Attended transfer and three-way conference. An agent in an answered
// call consults a colleague (an extension) or a number: the customer — the
// call's other side — waits with hold music while the agent talks to the
// consulted party. From there the agent completes the transfer (the
// customer and the consulted party talk, the agent leaves), swaps between
// the two (whoever waits hears music), cancels (back to the customer), or
// joins all three in a conference. The consultation belongs to the call's
// owner goroutine like the rest of the call; the consulted party is a
// side of the call while it lasts, and a leg (or agent part) of its
// record for good.
//
// Rules kept simple on purpose: while consulting, the agent's hang-up
// ends the call (in a conference it leaves the other two talking); the
// customer hanging up ends the call, consultation included; the consulted
// party hanging up, refusing or not answering brings the agent back to
// the customer.

// consultation is an agent's consultation in progress.
type consultation struct {
	by      *agent // the consulting agent
	s       *side  // the consulted party
	talking bool   // the agent is with the consulted party (not swapped back)
	conf    bool   // all three talk
	ring    *time.Timer
	music   Playback // hold music to whoever waits
	tone    Playback // ringback to the agent while the consulted party rings
}

// ConsultInfo is the consultation as the call's agents see it.
type ConsultInfo struct {
	By     string    // the consulting agent's extension
	Target string    // the extension or number consulted
	State  CallState // ringing (or dialing/early), then active
	// Talking: the agent is with the consulted party; false after a swap
	// back to the customer.
	Talking    bool
	Conference bool
	// Internal is set when the consulted party is an extension.
	Internal bool
}

// consultCmds are the commands a consultation adds.
func isConsultCmd(in callInput) bool {
	return in == inConsultSwap || in == inConsultComplete || in == inConsultCancel || in == inConference
}

// consultStart: the agent consults cmd.to.
func (c *Call) consultStart(ev *callEvent) EndReason {
	cmd := ev.cmd
	me, cust := c.sideOf(cmd.from), c.otherSide(cmd.from)
	switch {
	case me == nil || cust == nil:
		reply(cmd, Errorf(KindConflict, "only a party of the call can consult"))
		return EndNone
	case c.consult != nil:
		reply(cmd, Errorf(KindConflict, "already consulting %s", c.consultView().Target))
		return EndNone
	case len(c.monitors) > 0:
		reply(cmd, Errorf(KindConflict, "cannot consult while a supervisor is in the call"))
		return EndNone
	case c.svc.player == nil:
		reply(cmd, Errorf(KindUnavailable, "consulting needs hold music, which this server cannot play"))
		return EndNone
	}
	target, num, via, err := c.svc.transferTarget(c.ctx, c.info.TenantID, cmd.to, cmd.from)
	if err != nil {
		reply(cmd, err)
		return EndNone
	}
	if c.held {
		// The customer hears our music from now on, not the hold of their
		// own phone; the call is no longer on hold.
		if cust.leg != nil {
			if err := cust.leg.Hold(c.ctx, false); err != nil {
				c.log.Warn("taking the customer off hold to consult", "err", err)
			}
		}
		c.held = false
		c.holdChanged(false)
		c.setState(CallActive)
	}
	k := &consultation{by: cmd.from, talking: true}
	view := ConsultInfo{By: cmd.from.ext, Target: num, State: CallRinging, Talking: true, Internal: target != nil}
	if target != nil {
		c.svc.mu.Lock()
		if target.call != nil || target.session == nil {
			c.svc.mu.Unlock()
			reply(cmd, Errorf(KindBusy, "extension %s is busy", num))
			return EndNone
		}
		target.call = c
		ep := target.session.endpoint
		c.svc.mu.Unlock()
		c.mu.Lock()
		c.parties = append(c.parties, target)
		c.mu.Unlock()
		k.s = agentSide(target, ep, false)
		k.ring = time.NewTimer(c.svc.cfg.RingTimeout)
		c.agentRinging(target)
		c.storeActivity() // no event of the call follows
	} else {
		out, err := c.svc.media.Dial(c.ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: cmd.from.ext, To: num}.viaNode(via))
		if err != nil {
			reply(cmd, &Error{Kind: KindUnavailable, Message: "cannot place the consultation call", Err: err})
			return EndNone
		}
		c.trackLeg(out, DirectionOutbound, num)
		k.s = legSide(out, false)
		view.State = CallDialing
	}
	c.consult = k
	c.setConsultView(&view)
	if err := c.consultAudio(); err != nil {
		c.log.Error("consultation audio", "err", err)
	}
	c.notify()
	c.log.Info("consulting", "by", cmd.from.ext, "target", num)
	reply(cmd, nil)
	return EndNone
}

// consultCommand handles the consulting agent's consultation commands.
func (c *Call) consultCommand(ev *callEvent) EndReason {
	k, cmd := c.consult, ev.cmd
	if k == nil || cmd.from != k.by {
		reply(cmd, Errorf(KindConflict, "no consultation in progress"))
		return EndNone
	}
	if ev.in == inConsultCancel {
		reply(cmd, nil)
		c.consultEnded(EndCancelled)
		return EndNone
	}
	if !k.s.answered {
		reply(cmd, Errorf(KindConflict, "cannot %s: %s has not answered", ev.in, c.consultView().Target))
		return EndNone
	}
	switch ev.in {
	case inConsultSwap:
		if k.conf {
			reply(cmd, Errorf(KindConflict, "cannot swap in a conference"))
			return EndNone
		}
		k.talking = !k.talking
	case inConference:
		if _, ok := c.svc.media.(Mixer); !ok {
			reply(cmd, Errorf(KindUnavailable, "this server cannot mix a conference"))
			return EndNone
		}
		k.conf, k.talking = true, true
	case inConsultComplete:
		reply(cmd, nil)
		return c.consultComplete(EndTransferred)
	}
	c.updateConsultView(func(v *ConsultInfo) { v.Talking, v.Conference = k.talking, k.conf })
	err := c.consultAudio()
	c.notify()
	reply(cmd, err)
	return EndNone
}

// consultPartyEvent handles what the consulted party does: answer,
// refuse, hang up, not answer in time, move to a new session.
func (c *Call) consultPartyEvent(ev *callEvent) EndReason {
	k := c.consult
	switch ev.in {
	case inAnswer:
		if k.s.answered {
			reply(ev.cmd, nil)
			return EndNone
		}
		c.consultAnswered()
		reply(ev.cmd, nil)
	case inAnswered:
		c.legAnswered(k.s.leg)
		c.consultAnswered()
	case inProgress, inEarlyMedia:
		c.updateConsultView(func(v *ConsultInfo) { v.State = CallEarly })
		c.notify()
	case inReject:
		reply(ev.cmd, nil)
		c.consultEnded(EndRejected)
	case inHangup, inAgentGone:
		reply(ev.cmd, nil)
		why := EndRemoteHangup
		if !k.s.answered {
			why = EndRejected
		}
		if ev.in == inAgentGone {
			why = EndAgentGone
		}
		c.consultEnded(why)
	case inLegEnded:
		why := ev.leg.EndReason()
		if why == EndNone || k.s.answered {
			why = EndRemoteHangup
		}
		c.consultEnded(why)
	case inConsultTimeout:
		c.consultEnded(EndNoAnswer)
	case inMove:
		k.s.ep = ev.cmd.ep
		reply(ev.cmd, c.consultAudio())
	default:
		reply(ev.cmd, Errorf(KindConflict, "cannot %s in a consultation", ev.in))
	}
	return EndNone
}

// consultAnswered: the consulted party picked up.
func (c *Call) consultAnswered() {
	k := c.consult
	if k.ring != nil {
		k.ring.Stop()
		k.ring = nil
	}
	k.s.answered = true
	if k.s.ag != nil {
		c.agentAnswered(k.s.ag)
		c.storeActivity() // no event of the call follows
	}
	c.updateConsultView(func(v *ConsultInfo) { v.State = CallActive })
	if err := c.consultAudio(); err != nil {
		c.log.Error("consultation audio", "err", err)
	}
	c.notify()
}

// consultEnded ends the consultation (not the call): the consulted party
// is let go and the agent is back with the customer.
func (c *Call) consultEnded(why EndReason) {
	k := c.consult
	c.stopConsult()
	if k.s.ag != nil {
		c.release(k.s.ag, why)
	} else if k.s.leg != nil {
		_ = k.s.leg.Hangup(c.ctx)
		c.legClosed(k.s.leg, why)
	}
	c.setConsultView(nil)
	if err := c.linkSides(); err != nil {
		c.log.Error("back to the customer after consulting", "err", err)
	}
	c.notify()
	c.log.Info("consultation ended", "why", string(why))
}

// consultComplete hands the customer to the consulted party; the
// consulting agent leaves with why.
func (c *Call) consultComplete(why EndReason) EndReason {
	k := c.consult
	c.stopConsult()
	if c.a != nil && c.a.ag == k.by {
		c.a = k.s
	} else {
		c.b = k.s
	}
	c.setConsultView(nil)
	if err := c.linkSides(); err != nil {
		c.log.Error("linking the transfer", "err", err)
		return EndFailed
	}
	c.release(k.by, why)
	c.setState(CallActive)
	c.log.Info("attended transfer completed", "from", k.by.ext)
	return EndNone
}

// stopConsult stops the consultation's timer, sounds and link.
func (c *Call) stopConsult() {
	k := c.consult
	if k == nil {
		return
	}
	if k.ring != nil {
		k.ring.Stop()
		k.ring = nil
	}
	k.stopSounds()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	c.consult = nil
}

// closeConsult hangs up the consulted party when the whole call ends.
func (c *Call) closeConsult() {
	k := c.consult
	if k == nil {
		return
	}
	c.stopConsult()
	if k.s.leg != nil {
		select {
		case <-k.s.leg.Done():
		default:
			_ = k.s.leg.Hangup(c.ctx)
		}
	}
}

// consultAudio sets who hears whom for the consultation's mode: in a
// conference all three are mixed; otherwise the agent is linked to the
// party they talk to, the other one hears hold music, and a consulted
// party still ringing is heard as ringback.
func (c *Call) consultAudio() error {
	k := c.consult
	k.stopSounds()
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	me, cust := c.sideOf(k.by), c.otherSide(k.by)
	var conn Connection
	var err error
	switch {
	case k.conf:
		conn, err = c.svc.media.(Mixer).Mix([]MixMember{
			{Endpoint: me.endpoint(), Hears: []int{1, 2}},
			{Endpoint: cust.endpoint(), Hears: []int{0, 2}},
			{Endpoint: k.s.endpoint(), Hears: []int{0, 1}},
		})
	case k.talking:
		k.music, err = c.svc.player.Play(cust.endpoint(), []Sound{{}}, true)
		if err != nil {
			return err
		}
		if !k.s.answered {
			k.tone, err = c.svc.player.Play(me.endpoint(), []Sound{{Ringback: true}}, true)
			return err
		}
		conn, err = c.svc.media.Connect(me.endpoint(), k.s.endpoint())
	default:
		k.music, err = c.svc.player.Play(k.s.endpoint(), []Sound{{}}, true)
		if err != nil {
			return err
		}
		conn, err = c.svc.media.Connect(me.endpoint(), cust.endpoint())
	}
	if err != nil {
		return err
	}
	c.conn = conn
	if c.rec != nil {
		if err := c.rec.Attach(conn); err != nil {
			c.log.Error("attaching the recording", "err", err)
		}
	}
	return nil
}

// setConsultView publishes the consultation to the call's snapshot.
func (c *Call) setConsultView(v *ConsultInfo) {
	c.mu.Lock()
	c.info.Consult = v
	c.mu.Unlock()
}

func (c *Call) updateConsultView(f func(*ConsultInfo)) {
	c.mu.Lock()
	if c.info.Consult != nil {
		v := *c.info.Consult
		f(&v)
		c.info.Consult = &v
	}
	c.mu.Unlock()
}

func (c *Call) consultView() ConsultInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info.Consult == nil {
		return ConsultInfo{}
	}
	return *c.info.Consult
}

// isConsultParty tells whether ag is the consulted agent.
func (c *Call) isConsultParty(ag *agent) bool {
	return ag != nil && c.consult != nil && c.consult.s.ag == ag
}

// consultDispatch routes an input of a call with a consultation: what the
// consulted party does, and what the consulting agent does that a
// consultation changes. handled is false for inputs the call's own table
// handles as usual.
func (c *Call) consultDispatch(ev *callEvent) (EndReason, bool) {
	k := c.consult
	switch {
	case ev.in == inConsultTimeout,
		ev.leg != nil && k.s.leg != nil && ev.leg == k.s.leg,
		ev.in.isCommand() && c.isConsultParty(ev.cmd.from):
		return c.consultPartyEvent(ev), true
	case !ev.in.isCommand():
		return EndNone, false
	case ev.cmd.from != k.by:
		return c.consultOtherSide(ev)
	}
	switch ev.in {
	case inConsultSwap, inConsultComplete, inConsultCancel, inConference:
		return c.consultCommand(ev), true
	case inHangup, inAgentGone:
		// The host leaving a conference leaves the other two talking.
		if k.conf && k.s.answered {
			reply(ev.cmd, nil)
			why := EndLocalHangup
			if ev.in == inAgentGone {
				why = EndAgentGone
			}
			return c.consultComplete(why), true
		}
		return EndNone, false
	case inDTMF:
		if k.talking && !k.conf {
			if k.s.leg != nil {
				reply(ev.cmd, k.s.leg.SendDTMF(ev.cmd.digits))
			} else {
				reply(ev.cmd, k.s.ep.SendDTMF(ev.cmd.digits))
			}
			return EndNone, true
		}
		return EndNone, false
	case inMove:
		if s := c.sideOf(ev.cmd.from); s != nil {
			s.ep = ev.cmd.ep
		}
		reply(ev.cmd, c.consultAudio())
		return EndNone, true
	case inHold, inUnhold, inTransfer, inConsult, inMonitor:
		reply(ev.cmd, Errorf(KindConflict, "cannot %s while consulting: complete, swap or cancel first", ev.in))
		return EndNone, true
	}
	return EndNone, false
}

// consultOtherSide handles commands from the agent waiting on the other
// side of an internal call while a consultation lasts: a reload moves
// their audio into the consultation's arrangement; hold, transfer and
// consult would tear it apart and are refused; the rest goes on as usual.
func (c *Call) consultOtherSide(ev *callEvent) (EndReason, bool) {
	s := c.sideOf(ev.cmd.from)
	if s == nil {
		return EndNone, false
	}
	switch ev.in {
	case inMove:
		s.ep = ev.cmd.ep
		reply(ev.cmd, c.consultAudio())
		return EndNone, true
	case inHold, inUnhold, inTransfer, inConsult, inMonitor:
		reply(ev.cmd, Errorf(KindConflict, "cannot %s while %s consults", ev.in, c.consult.by.ext))
		return EndNone, true
	}
	return EndNone, false
}

// stopSounds stops the hold music and the ringback of a consultation.
func (k *consultation) stopSounds() {
	for _, pb := range []Playback{k.music, k.tone} {
		if pb != nil {
			pb.Stop()
		}
	}
	k.music, k.tone = nil, nil
}
