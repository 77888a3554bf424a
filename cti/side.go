package cti

// side is one end of a call: an agent's browser or a SIP leg. Sides
// belong to the call's owner goroutine.
type side struct {
	ag       *agent
	ep       AgentEndpoint
	leg      SIPLeg
	answered bool
	// progress and answer are an outbound leg's 18x and 200 OK, until the
	// owner has seen them (then nil, so a closed channel is read once).
	progress <-chan struct{}
	answer   <-chan struct{}
	// early is an outbound leg's start of early media, until seen.
	early <-chan struct{}
}

// agentSide is an agent's browser; answered is false while it rings.
func agentSide(ag *agent, ep AgentEndpoint, answered bool) *side {
	return &side{ag: ag, ep: ep, answered: answered}
}

// legSide is a SIP leg; an unanswered outbound leg's progress and answer
// become inputs of the call.
func legSide(leg SIPLeg, answered bool) *side {
	s := &side{leg: leg, answered: answered}
	if out, ok := leg.(OutboundLeg); ok && !answered {
		s.progress, s.answer = out.Progress(), out.Answered()
		if em, ok := leg.(EarlyMediaNotifier); ok {
			s.early = em.EarlyMedia()
		}
	}
	return s
}

// endpoint is what carries the side's audio.
func (s *side) endpoint() Endpoint {
	if s.leg != nil {
		return s.leg
	}
	return s.ep
}

// unansweredInbound returns the side's inbound leg while it waits for our
// answer (a caller still hearing ringing).
func (s *side) unansweredInbound() (InboundLeg, bool) {
	if s == nil || s.answered {
		return nil, false
	}
	in, ok := s.leg.(InboundLeg)
	return in, ok
}

// sideOf returns the side of an agent taking part, or nil.
func (c *Call) sideOf(ag *agent) *side {
	switch {
	case ag == nil:
		return nil
	case c.a != nil && c.a.ag == ag:
		return c.a
	case c.b != nil && c.b.ag == ag:
		return c.b
	}
	return nil
}

// otherSide returns the side facing an agent's side.
func (c *Call) otherSide(ag *agent) *side {
	switch c.sideOf(ag) {
	case nil:
		return nil
	case c.a:
		return c.b
	}
	return c.a
}

// linkSides (re)connects the audio between the two sides, keeping hold
// state and the recording. An agent is always the link's first endpoint
// (the recording's left channel: our side). On failure the call has no
// link.
func (c *Call) linkSides() error {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	first, second := c.a, c.b
	if first.ag == nil && second.ag != nil {
		first, second = second, first
	}
	var conn Connection
	var err error
	// A held call links nothing (a supervisor hears nobody meanwhile):
	// the agent's microphone may be talking in their other call.
	held, canHold := c.svc.media.(HeldConnector)
	switch mixer, canMix := c.svc.media.(Mixer); {
	case c.held && canHold:
		conn, err = held.ConnectHeld(first.endpoint(), second.endpoint())
	case canMix && len(c.monitors) > 0 && !c.held:
		conn, err = mixer.Mix(c.mixMembers(first, second))
	default:
		conn, err = c.svc.media.Connect(first.endpoint(), second.endpoint())
		if err == nil && c.held {
			conn.Hold(true)
		}
	}
	if err != nil {
		return err
	}
	c.conn = conn
	if c.rec != nil {
		if err := c.rec.Attach(conn); err != nil {
			c.log.Error("attaching the recording to a new link", "err", err)
		}
	}
	return nil
}

// watchDTMF reports the far end's digits to whoever is on the call now.
func (c *Call) watchDTMF(leg SIPLeg) {
	leg.OnDTMF(func(d rune) {
		// A waiting caller's digit may book a callback: the owner hears it.
		select {
		case c.digits <- d:
		default:
		}
		for _, p := range c.partiesNow() {
			c.svc.pushToAgent(p, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d})
		}
	})
}
