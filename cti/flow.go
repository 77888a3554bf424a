package cti

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// InboundCall implements InboundHandler: route a trunk's INVITE to an
// agent (or, when the CRM says so, to a number), look the caller up in
// the phonebook so the card rings with the call, and start the call.
func (s *Service) InboundCall(ctx context.Context, in InboundCall) error {
	to := normalizeNumber(in.To)
	route, ok, err := s.numberRoute(ctx, to)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(KindNotFound, "number %s is not in service", in.To)
	}
	if s.isDraining() {
		return Errorf(KindUnavailable, "shutting down")
	}
	id := newID("call")
	from := normalizeNumber(in.From)
	target := s.routeInbound(ctx, route, in, id)
	if target.number != "" {
		return s.forwardInbound(in, route.TenantID, id, from, to, target)
	}
	// The phonebook is read before the call exists so the ringing event
	// already carries the card; it is a local indexed lookup.
	var card *Card
	if s.tenant(route.TenantID).ScreenPop.onRinging() {
		card = s.phonebookCard(ctx, route.TenantID, s.e164(route.TenantID, from))
	}

	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return Errorf(KindUnavailable, "shutting down")
	}
	ag, err := s.ringableLocked(route.TenantID, target.ext)
	if err != nil && target.fallback != "" && target.fallback != target.ext {
		s.log.Info("CRM-chosen extension cannot take the call; taking the fallback",
			"call", id, "ext", target.ext, "fallback", target.fallback, "err", err)
		target = routeTarget{ext: target.fallback, label: "fallback:" + target.fallback}
		ag, err = s.ringableLocked(route.TenantID, target.ext)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	c := s.newCallWithIDLocked(id, route.TenantID, DirectionInbound, from, to, CallRinging, ag)
	c.info.SIPCallID = in.Leg.CallID()
	c.info.Route, c.hist.route = target.label, target.label
	c.info.Card = card
	ep := ag.session.endpoint
	s.mu.Unlock()

	c.trackLeg(in.Leg, DirectionInbound, from)
	c.agentRinging(ag)
	s.log.Info("inbound call", "call", c.ID(), "sip_call_id", in.Leg.CallID(), "trunk", in.Trunk,
		"from", in.From, "to", in.To, "ext", target.ext, "route", target.label, "phonebook_card", card != nil)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		c.publishCall(EventCallRinging)
		if s.tenant(c.info.TenantID).ScreenPop.onRinging() {
			c.lookupCRM(ctx, log, LookupRinging, ag.ext)
		}
		return c.runInbound(ctx, log, in.Leg, ag, ep)
	})
	return nil
}

// ringableLocked returns the agent of an extension if it can be rung now.
// Callers hold s.mu.
func (s *Service) ringableLocked(tenantID, ext string) (*agent, error) {
	ag := s.agentLocked(tenantID, ext)
	switch {
	case ag.session == nil || ag.status == StatusOffline || !ag.session.reachable():
		return nil, Errorf(KindUnavailable, "extension %s is offline", ext)
	case ag.call != nil:
		return nil, Errorf(KindBusy, "extension %s is busy", ext)
	case ag.status != StatusAvailable:
		return nil, Errorf(KindUnavailable, "extension %s is %s", ext, ag.status)
	}
	return ag, nil
}

func (s *Service) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
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
		c.agentRinging(me)
		c.agentAnswered(me)
		c.agentRinging(callee)
		s.log.Info("internal call", "call", c.ID(), "from", me.ext, "to", num)
		s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
			c.publishCall(EventCallRinging)
			return c.runInternal(ctx, log, me, callee, epA, epB)
		})
		return c.infoFor(me), nil
	}
	if err := s.checkDialRule(ss.principal.TenantID, num); err != nil {
		s.mu.Unlock()
		return CallInfo{}, err
	}
	s.mu.Unlock()
	// The phonebook is read before the call exists so the first event
	// the agent sees already carries the card.
	var card *Card
	if s.tenant(ss.principal.TenantID).ScreenPop.onRinging() {
		card = s.phonebookCard(ctx, ss.principal.TenantID, s.e164(ss.principal.TenantID, num))
	}
	s.mu.Lock()
	if me.call != nil || me.session != ss || s.draining {
		s.mu.Unlock()
		return CallInfo{}, Errorf(KindConflict, "already on a call")
	}
	c := s.newCallLocked(ss.principal.TenantID, DirectionOutbound, me.ext, num, CallDialing, me)
	c.info.Card = card
	ep := me.session.endpoint
	s.mu.Unlock()

	leg, err := s.media.Dial(ctx, DialRequest{TenantID: ss.principal.TenantID, CallID: c.ID(), From: me.ext, To: num})
	if err != nil {
		s.removeCall(c)
		close(c.done)
		return CallInfo{}, &Error{Kind: KindUnavailable, Message: "cannot place the call", Err: err}
	}
	c.setSIPCallID(leg.CallID())
	c.trackLeg(leg, DirectionOutbound, num)
	c.agentRinging(me)
	c.agentAnswered(me)
	s.log.Info("outbound call", "call", c.ID(), "sip_call_id", leg.CallID(), "from", me.ext, "to", num)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		c.publishCall(EventCallRinging)
		if s.tenant(c.info.TenantID).ScreenPop.onRinging() {
			c.lookupCRM(ctx, log, LookupRinging, me.ext)
		}
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
	rule := s.tenant(tenantID).DialRule
	ok := true
	digits := strings.TrimPrefix(num, "+")
	max := 15
	if ok && rule.MaxDigits > 0 {
		max = rule.MaxDigits
	}
	if len(digits) > max {
		return Errorf(KindForbidden, "number %s is longer than %d digits", num, max)
	}
	if !ok || (len(rule.AllowPrefixes) == 0 && len(rule.AllowCountries) == 0) {
		return nil
	}
	for _, p := range rule.AllowPrefixes {
		if strings.HasPrefix(digits, strings.TrimPrefix(p, "+")) {
			return nil
		}
	}
	if len(rule.AllowCountries) > 0 {
		if n := s.e164(tenantID, num); n != "" {
			region := NumberRegion(n)
			for _, c := range rule.AllowCountries {
				if region != "" && strings.EqualFold(c, region) {
					return nil
				}
			}
		}
	}
	return Errorf(KindForbidden, "number %s is outside this tenant's dialing rules", num)
}

func (s *Service) newCallLocked(tenantID string, dir Direction, from, to string, st CallState, parties ...*agent) *Call {
	return s.newCallWithIDLocked(newID("call"), tenantID, dir, from, to, st, parties...)
}

func (s *Service) newCallWithIDLocked(id, tenantID string, dir Direction, from, to string, st CallState, parties ...*agent) *Call {
	c := &Call{
		svc:   s,
		cmds:  make(chan callCmd),
		done:  make(chan struct{}),
		saved: make(chan struct{}),
		info: CallInfo{
			ID: id, TenantID: tenantID, Direction: dir, State: st,
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
// the call is marked ended, its record is stored and published, every
// agent is told, and the call is released.
func (s *Service) start(c *Call, flow func(ctx context.Context, log *slog.Logger) EndReason) {
	s.wg.Add(1)
	c.notify()
	go func() {
		defer s.wg.Done()
		log := s.log.With("call", c.ID(), "sip_call_id", c.Snapshot().SIPCallID)
		ctx, cancel := context.WithCancel(s.ctx)
		reason := flow(ctx, log)
		cancel() // ends the call's CRM lookups
		c.bg.Wait()
		if c.conn != nil {
			c.conn.Close()
		}
		ready := s.finishRecording(log, c)
		c.mu.Lock()
		c.info.State = CallEnded
		c.info.EndReason = reason
		c.info.EndedAt = time.Now().UTC()
		answered := !c.info.AnsweredAt.IsZero()
		c.mu.Unlock()
		for _, p := range c.partiesNow() {
			c.agentLeft(p, c.infoFor(p).EndReason)
		}
		s.saveRecord(log, c)
		if ready != nil {
			// After call.ended, so the record the event points to exists.
			s.publish(EventRecordingReady, ready.TenantID, ready.CallID, ready)
		}
		s.removeCall(c)
		c.notify()
		close(c.done)
		for _, p := range c.partiesNow() {
			s.afterCall(p, answered)
		}
		log.Info("call ended", "reason", reason)
	}()
}

// saveRecord stores the call's final record and publishes call.ended. It
// runs on the call's goroutine before the call is released, so the record
// is readable (GET /api/v1/calls/{id}) as soon as the call is gone.
func (s *Service) saveRecord(log *slog.Logger, c *Call) {
	defer close(c.saved)
	rec := c.finalRecord()
	if s.store != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 5*time.Second)
		if err := s.store.SaveCallRecord(ctx, &rec); err != nil {
			log.Error("storing the call record", "err", err)
		}
		cancel()
	}
	s.publish(EventCallEnded, rec.TenantID, rec.ID, &rec)
}
