package cti

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// InboundCall implements InboundHandler: route a trunk's INVITE to an agent.
func (s *Service) InboundCall(ctx context.Context, in InboundCall) error {
	to := normalizeNumber(in.To)
	route, ok := s.cfg.Numbers[to]
	if !ok {
		route, ok = s.cfg.Numbers[strings.TrimPrefix(to, "+")]
	}
	if !ok {
		return Errorf(KindNotFound, "number %s is not in service", in.To)
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return Errorf(KindUnavailable, "shutting down")
	}
	ag := s.agentLocked(route.TenantID, route.Extension)
	switch {
	case ag.session == nil || ag.status == StatusOffline || !ag.session.reachable():
		s.mu.Unlock()
		return Errorf(KindUnavailable, "extension %s is offline", route.Extension)
	case ag.call != nil:
		s.mu.Unlock()
		return Errorf(KindBusy, "extension %s is busy", route.Extension)
	case ag.status != StatusAvailable:
		s.mu.Unlock()
		return Errorf(KindUnavailable, "extension %s is %s", route.Extension, ag.status)
	}
	c := s.newCallLocked(route.TenantID, DirectionInbound, normalizeNumber(in.From), to, CallRinging, ag)
	c.info.SIPCallID = in.Leg.CallID()
	ep := ag.session.endpoint
	s.mu.Unlock()

	s.log.Info("inbound call", "call", c.ID(), "sip_call_id", in.Leg.CallID(), "trunk", in.Trunk,
		"from", in.From, "to", in.To, "ext", route.Extension)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		return c.runInbound(ctx, log, in.Leg, ag, ep)
	})
	return nil
}

// Dial places a call from the session's agent to an extension of the same
// tenant or, through the trunk, to a number allowed by the tenant's rules.
func (ss *AgentSession) Dial(ctx context.Context, to string) (CallInfo, error) {
	s := ss.svc
	num := normalizeNumber(to)
	if num == "" {
		return CallInfo{}, Errorf(KindInvalid, "%q is not a phone number or extension", to)
	}
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return CallInfo{}, Errorf(KindUnavailable, "shutting down")
	}
	me := ss.agent
	if me.call != nil {
		s.mu.Unlock()
		return CallInfo{}, Errorf(KindConflict, "already on a call")
	}
	if me.session != ss {
		s.mu.Unlock()
		return CallInfo{}, Errorf(KindConflict, "session replaced")
	}
	callee, isExt := s.internalTargetLocked(ss.principal.TenantID, num)
	if isExt {
		switch {
		case callee == me:
			s.mu.Unlock()
			return CallInfo{}, Errorf(KindInvalid, "cannot call your own extension")
		case callee == nil || callee.session == nil || !callee.session.reachable():
			s.mu.Unlock()
			return CallInfo{}, Errorf(KindUnavailable, "extension %s is offline", num)
		case callee.call != nil:
			s.mu.Unlock()
			return CallInfo{}, Errorf(KindBusy, "extension %s is busy", num)
		case callee.status != StatusAvailable:
			s.mu.Unlock()
			return CallInfo{}, Errorf(KindUnavailable, "extension %s is %s", num, callee.status)
		}
		c := s.newCallLocked(ss.principal.TenantID, DirectionInternal, me.ext, num, CallRinging, me, callee)
		epA, epB := me.session.endpoint, callee.session.endpoint
		s.mu.Unlock()
		s.log.Info("internal call", "call", c.ID(), "from", me.ext, "to", num)
		s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
			return c.runInternal(ctx, log, me, callee, epA, epB)
		})
		return c.infoFor(me), nil
	}
	if err := s.checkDialRule(ss.principal.TenantID, num); err != nil {
		s.mu.Unlock()
		return CallInfo{}, err
	}
	c := s.newCallLocked(ss.principal.TenantID, DirectionOutbound, me.ext, num, CallDialing, me)
	ep := me.session.endpoint
	s.mu.Unlock()

	leg, err := s.media.Dial(ctx, DialRequest{TenantID: ss.principal.TenantID, CallID: c.ID(), From: me.ext, To: num})
	if err != nil {
		s.removeCall(c)
		close(c.done)
		return CallInfo{}, &Error{Kind: KindUnavailable, Message: "cannot place the call", Err: err}
	}
	c.setSIPCallID(leg.CallID())
	s.log.Info("outbound call", "call", c.ID(), "sip_call_id", leg.CallID(), "from", me.ext, "to", num)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		return c.runOutbound(ctx, log, leg, me, ep)
	})
	return c.infoFor(me), nil
}

// internalTargetLocked tells whether num is one of the tenant's extensions.
func (s *Service) internalTargetLocked(tenantID, num string) (*agent, bool) {
	if ag, ok := s.agents[agentKey{tenantID, num}]; ok {
		return ag, true
	}
	// An extension that never signed in is still an extension: look it up
	// so the caller hears "offline" rather than a trunk call to "1002".
	if len(num) <= 6 && s.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if u, err := s.store.GetUserByExtension(ctx, tenantID, num); err == nil && u != nil {
			return nil, true
		}
	}
	return nil, false
}

func (s *Service) checkDialRule(tenantID, num string) error {
	rule, ok := s.cfg.DialRules[tenantID]
	digits := strings.TrimPrefix(num, "+")
	max := 15
	if ok && rule.MaxDigits > 0 {
		max = rule.MaxDigits
	}
	if len(digits) > max {
		return Errorf(KindForbidden, "number %s is longer than %d digits", num, max)
	}
	if !ok || len(rule.AllowPrefixes) == 0 {
		return nil
	}
	for _, p := range rule.AllowPrefixes {
		if strings.HasPrefix(digits, strings.TrimPrefix(p, "+")) {
			return nil
		}
	}
	return Errorf(KindForbidden, "number %s is outside this tenant's dialing rules", num)
}

func (s *Service) newCallLocked(tenantID string, dir Direction, from, to string, st CallState, parties ...*agent) *Call {
	c := &Call{
		svc:  s,
		cmds: make(chan callCmd),
		done: make(chan struct{}),
		info: CallInfo{
			ID: newID("call"), TenantID: tenantID, Direction: dir, State: st,
			From: from, To: to, StartedAt: time.Now().UTC(),
		},
		parties: parties,
	}
	for _, p := range parties {
		p.call = c
	}
	s.calls[c.info.ID] = c
	return c
}

func (s *Service) removeCall(c *Call) {
	s.mu.Lock()
	delete(s.calls, c.info.ID)
	for _, p := range c.parties {
		if p.call == c {
			p.call = nil
		}
	}
	s.mu.Unlock()
}

// start runs a call's flow on its owner goroutine; when the flow returns,
// the call is marked ended, every agent is told, and the call is released.
func (s *Service) start(c *Call, flow func(ctx context.Context, log *slog.Logger) EndReason) {
	s.wg.Add(1)
	c.notify()
	go func() {
		defer s.wg.Done()
		log := s.log.With("call", c.ID(), "sip_call_id", c.Snapshot().SIPCallID)
		reason := flow(s.ctx, log)
		if c.conn != nil {
			c.conn.Close()
		}
		c.mu.Lock()
		c.info.State = CallEnded
		c.info.EndReason = reason
		c.info.EndedAt = time.Now().UTC()
		answered := !c.info.AnsweredAt.IsZero()
		c.mu.Unlock()
		s.removeCall(c)
		c.notify()
		close(c.done)
		for _, p := range c.partiesNow() {
			s.afterCall(p, answered)
		}
		log.Info("call ended", "reason", reason)
	}()
}
