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
	started := time.Now().UTC()
	to := normalizeNumber(in.To)
	var route NumberRoute
	var ok bool
	var err error
	if in.Handover != "" {
		// Another node's call: the signed token names the tenant (an
		// extension called from another node need not be a number).
		h, herr := s.verifyHandover(in.Handover)
		if herr != nil {
			s.log.Warn("inbound call with a bad handover refused", "trunk", in.Trunk, "from", in.From, "to", in.To)
			return herr
		}
		if h.Call != "" {
			return s.monitorInbound(in, h)
		}
		route, ok = NumberRoute{TenantID: h.Tenant}, true
	} else if route, ok, err = s.numberRoute(ctx, to); err != nil {
		return err
	}
	if !ok {
		// No tenant owns the number, so there is nobody to tell.
		s.log.Info("inbound call to a number not in service", "trunk", in.Trunk, "from", in.From, "to", in.To)
		return Errorf(KindNotFound, "number %s is not in service", in.To)
	}
	id := newID("call")
	from := normalizeNumber(in.From)
	attempt := refusedCall{in: in, tenantID: route.TenantID, id: id, from: from, to: to, started: started}
	if s.isDraining() {
		return s.refuse(attempt, Errorf(KindUnavailable, "shutting down"))
	}
	// A call another node redirected here comes with that node's routing
	// decision (cluster.go); it is not routed or forwarded again.
	handed := in.Handover != ""
	var target routeTarget
	if handed {
		if target, err = s.acceptHandover(in.Handover, route.TenantID); err != nil {
			return s.refuse(attempt, err)
		}
	} else {
		target = s.routeInbound(ctx, route, in, id)
	}
	attempt.route = target.label
	if target.number != "" {
		if err := s.forwardInbound(in, route.TenantID, id, from, to, target); err != nil {
			return s.refuse(attempt, err)
		}
		return nil
	}
	if target.flow != "" {
		fv, err := s.store.GetIVRFlow(ctx, route.TenantID, target.flow, 0)
		if err == nil {
			return s.ivrInbound(in, route.TenantID, id, from, to, fv, attempt)
		}
		s.log.Warn("number routed to an IVR flow that cannot be read; taking the fallback", "flow", target.flow, "err", err)
		target = routeTarget{ext: target.fallback, label: "fallback:" + target.fallback}
		if target.ext == "" {
			return s.refuse(attempt, Errorf(KindNotFound, "number %s is not in service", in.To))
		}
	}
	if target.queue != "" {
		cfg, err := s.queueConfig(ctx, route.TenantID, target.queue)
		if err == nil {
			return s.queueInbound(in, route.TenantID, id, from, to, target, cfg, attempt)
		}
		s.log.Warn("number routed to an unknown queue; taking the fallback", "queue", target.queue, "err", err)
		target = routeTarget{ext: target.fallback, label: "fallback:" + target.fallback}
		if target.ext == "" {
			return s.refuse(attempt, Errorf(KindNotFound, "number %s is not in service", in.To))
		}
	}
	// The extension's forwarding may send the call elsewhere.
	plan := forwardPlan{ext: target.ext}
	if !handed {
		plan = s.forwardFor(ctx, route.TenantID, target.ext)
	}
	if plan.label != "" {
		attempt.route = target.label + " " + plan.label
		if plan.number != "" {
			fwd := routeTarget{number: plan.number, label: attempt.route}
			if err := s.forwardInbound(in, route.TenantID, id, from, to, fwd); err != nil {
				return s.refuse(attempt, err)
			}
			return nil
		}
		target = routeTarget{ext: plan.ext, label: attempt.route}
	}
	// The agent may be signed in on another node: send the call there.
	if !handed {
		if err := s.redirectFor(ctx, route.TenantID, in.To, target); err != nil {
			return err
		}
	}
	// The phonebook is read before the call exists so the ringing event
	// already carries the card; it is a local indexed lookup.
	var card *Card
	if s.tenant(route.TenantID).ScreenPop.onRinging() {
		card = s.phonebookCard(ctx, route.TenantID, s.e164(route.TenantID, from))
	}

	waiting := s.tenant(route.TenantID).CallWaiting
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return s.refuse(attempt, Errorf(KindUnavailable, "shutting down"))
	}
	ag, err := s.ringableWaitingLocked(route.TenantID, target.ext, waiting)
	if err != nil && target.fallback != "" && target.fallback != target.ext {
		s.log.Info("CRM-chosen extension cannot take the call; taking the fallback",
			"call", id, "ext", target.ext, "fallback", target.fallback, "err", err)
		target = routeTarget{ext: target.fallback, label: "fallback:" + target.fallback}
		ag, err = s.ringableWaitingLocked(route.TenantID, target.ext, waiting)
		attempt.route = target.label
	}
	if err != nil {
		s.mu.Unlock()
		attempt.ext = target.ext
		return s.refuse(attempt, err)
	}
	c := s.newCallWithIDLocked(id, route.TenantID, DirectionInbound, from, to, CallRinging, ag)
	c.info.SIPCallID = in.Leg.CallID()
	c.info.Route, c.hist.route = target.label, target.label
	c.info.Card = card
	c.fwdNoAnswer, c.fwdAfter = plan.noAnswer, plan.after
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
		return c.ringInbound(in.Leg, ag, ep)
	})
	return nil
}

// ringableLocked returns the agent of an extension if it can be rung now.
// Callers hold s.mu.
func (s *Service) ringableLocked(tenantID, ext string) (*agent, error) {
	return s.ringableWaitingLocked(tenantID, ext, false)
}

// ringableWaitingLocked is ringableLocked for a direct call that may ring
// as a second call (callWaiting: the tenant's setting, read before the
// lock). Callers hold s.mu.
func (s *Service) ringableWaitingLocked(tenantID, ext string, callWaiting bool) (*agent, error) {
	ag := s.agentLocked(tenantID, ext)
	switch {
	case ag.session == nil || ag.status == StatusOffline || !ag.session.reachable():
		return nil, Errorf(KindUnavailable, "extension %s is offline", ext)
	case ag.call != nil && !(callWaiting && waitingRingableLocked(ag)):
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
			// Signed in on another node: a leg to that node (cluster.go).
			if err := s.redirectFor(ctx, ss.principal.TenantID, num, routeTarget{ext: num, label: "internal:" + me.ext}); err != nil {
				if via, ok := err.(*RedirectError); ok {
					return ss.dialOut(ctx, num, via)
				}
			}
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
		placed := c.infoFor(me)
		s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
			c.publishCall(EventCallRinging)
			c.a, c.b = agentSide(me, epA, true), agentSide(callee, epB, false)
			c.armRing()
			return EndNone
		})
		return placed, nil
	}
	if err := s.checkDialRule(ss.principal.TenantID, num); err != nil {
		s.mu.Unlock()
		return CallInfo{}, err
	}
	s.mu.Unlock()
	return ss.dialOut(ctx, num, nil)
}

// dialOut places the agent's call to a number through the trunk, or
// (via set) to an extension signed in on another node, through the
// front door to that node.
func (ss *AgentSession) dialOut(ctx context.Context, num string, via *RedirectError) (CallInfo, error) {
	s := ss.svc
	me := ss.agent
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
	if via != nil {
		c.remoteMon, c.remoteMonMode = via.monitor, via.monitorMode
	}
	ep := me.session.endpoint
	s.mu.Unlock()

	req := DialRequest{TenantID: ss.principal.TenantID, CallID: c.ID(), From: me.ext, To: num}
	if via != nil {
		req.Node, req.Handover = via.Host, via.Token
	}
	leg, err := s.media.Dial(ctx, req)
	if err != nil {
		// The attempt is a call of its own in the history, failed.
		c.agentRinging(me)
		c.mu.Lock()
		c.info.State, c.info.EndReason, c.info.EndedAt = CallEnded, EndFailed, time.Now().UTC()
		c.mu.Unlock()
		s.removeCall(c)
		s.saveRecord(s.log.With("call", c.ID()), c)
		close(c.done)
		return CallInfo{}, &Error{Kind: KindUnavailable, Message: "cannot place the call", Err: err}
	}
	c.setSIPCallID(leg.CallID())
	c.trackLeg(leg, DirectionOutbound, num)
	c.agentRinging(me)
	c.agentAnswered(me)
	if via != nil {
		s.log.Info("call to an extension on another node", "call", c.ID(), "sip_call_id", leg.CallID(), "from", me.ext, "to", num, "node", via.Node)
	} else {
		s.log.Info("outbound call", "call", c.ID(), "sip_call_id", leg.CallID(), "from", me.ext, "to", num)
	}
	// As placed: the call's goroutine may move it on before we return.
	placed := c.infoFor(me)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		c.publishCall(EventCallRinging)
		if s.tenant(c.info.TenantID).ScreenPop.onRinging() {
			c.lookupCRM(ctx, log, LookupRinging, me.ext)
		}
		c.a, c.b = agentSide(me, ep, true), legSide(leg, false)
		c.watchDTMF(leg)
		return EndNone
	})
	return placed, nil
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
	ts := s.tenant(tenantID)
	rule := ts.DialRule
	digits := strings.TrimPrefix(num, "+")
	maxDigits := 15
	if rule.MaxDigits > 0 {
		maxDigits = rule.MaxDigits
	}
	if len(digits) > maxDigits {
		return Errorf(KindForbidden, "number %s is longer than %d digits", num, maxDigits)
	}
	e164 := s.e164(tenantID, num)
	if !rule.AllowPremium && e164 != "" && IsPremiumRate(e164) {
		return Errorf(KindForbidden, "number %s is premium-rate, which this tenant's dialing rules do not allow", num)
	}
	for _, p := range rule.AllowPrefixes {
		if strings.HasPrefix(digits, strings.TrimPrefix(p, "+")) {
			return nil
		}
	}
	countries := rule.AllowCountries
	if len(countries) == 0 && len(rule.AllowPrefixes) == 0 {
		// The safe default: domestic calls only.
		countries = []string{ts.DefaultRegion}
	}
	if e164 != "" {
		region := NumberRegion(e164)
		for _, c := range countries {
			if c == "*" || (region != "" && strings.EqualFold(c, region)) {
				return nil
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
		svc:    s,
		offers: make(chan queueOffer, 1),
		digits: make(chan rune, 8),
		cmds:   make(chan callCmd),
		done:   make(chan struct{}),
		saved:  make(chan struct{}),
		info: CallInfo{
			ID: id, TenantID: tenantID, Direction: dir, State: st,
			From: from, To: to, StartedAt: time.Now().UTC(),
		},
		parties: parties,
	}
	for _, p := range parties {
		p.joinLocked(c)
	}
	s.calls[c.info.ID] = c
	return c
}

func (s *Service) removeCall(c *Call) {
	s.mu.Lock()
	delete(s.calls, c.info.ID)
	s.mu.Unlock()
	s.releaseParties(c)
}

// releaseParties frees the call's agents for other calls, and offers them
// queued calls.
func (s *Service) releaseParties(c *Call) {
	parties := c.partiesNow()
	now := time.Now()
	freed := false
	s.mu.Lock()
	for _, p := range parties {
		if p.leaveLocked(c, now) {
			freed = true
		}
	}
	s.mu.Unlock()
	if freed {
		s.dispatch()
	}
}

// start runs a call on its owner goroutine: begin sets it up (it may end
// it at once), then the call's state machine runs (callfsm.go). However
// the call ends — a panic included — closeWith ends what is still going,
// the record is stored and published, every agent is told, and the call is
// released.
func (s *Service) start(c *Call, begin func(ctx context.Context, log *slog.Logger) EndReason) {
	s.wg.Add(1)
	c.notify()
	go func() {
		defer s.wg.Done()
		log := s.log.With("call", c.ID(), "sip_call_id", c.Snapshot().SIPCallID)
		ctx, cancel := context.WithCancel(s.ctx)
		c.startQuality()
		reason := c.run(ctx, log, func() EndReason { return begin(ctx, log) })
		c.stopQuality()
		cancel() // ends the call's CRM lookups
		s.finish(log, c, reason)
	}()
}

// finish is the end of every call, after its state machine stopped. It
// survives a panic of its own parts: the call is still released.
func (s *Service) finish(log *slog.Logger, c *Call, reason EndReason) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("ending a call failed with a panic", "panic", r)
			c.releaseMonitors(EndFailed)
			s.removeCall(c)
			select {
			case <-c.done:
			default:
				close(c.done)
			}
		}
	}()
	c.closeWith(reason)
	c.releaseMonitors(reason)
	c.bg.Wait()
	ready := s.finishRecording(log, c)
	c.mu.Lock()
	c.info.State = CallEnded
	c.info.EndReason = reason
	c.info.EndedAt = time.Now().UTC()
	answered := !c.info.AnsweredAt.IsZero()
	c.over.Store(true) // before anyone can read the call as ended
	c.mu.Unlock()
	parties := c.partiesNow()
	for _, p := range parties {
		c.agentLeft(p, c.infoFor(p).EndReason)
	}
	// The agents are free before the record is stored (a disk sync), so
	// a caller who calls straight back does not find them busy; they are
	// told once the record is stored, so what they see ended can be read.
	s.releaseParties(c)
	s.saveRecord(log, c)
	if ready != nil {
		// After call.ended, so the record the event points to exists.
		_ = s.publish(EventRecordingReady, ready.TenantID, ready.CallID, ready)
		s.requestAnalysis(log, ready, c.Record())
	}
	s.removeCall(c)
	c.notify()
	close(c.done)
	for _, p := range parties {
		s.afterCall(p, answered)
	}
	log.Info("call ended", "reason", reason)
}

// saveRecord stores the call's final record and publishes call.ended. It
// runs on the call's goroutine before the call is released, so the record
// is readable (GET /api/v1/calls/{id}) as soon as the call is gone.
func (s *Service) saveRecord(log *slog.Logger, c *Call) {
	defer close(c.saved)
	rec := c.finalRecord()
	// The record and its call.ended are one transaction: neither exists
	// without the other, even across a crash.
	if err := s.publishWith(EventCallEnded, rec.TenantID, rec.ID, &rec, &EventState{CallRecord: &rec, Agents: c.takeActivity()}); err != nil {
		log.Error("storing the call record", "err", err)
	}
	if rec.Origin == OriginIVRCall {
		s.ivrCallEnded(log, &rec)
	}
}
