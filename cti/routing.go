package cti

import (
	"context"
	"log/slog"
	"time"
)

// routeTarget is where an inbound call goes: an extension or a number,
// the label kept with the call ("crm:1002"), and the extension to fall
// back on when a CRM-chosen extension cannot take the call.
type routeTarget struct {
	ext      string
	number   string
	queue    string
	flow     string
	priority int
	label    string
	fallback string
}

// routeInbound decides where a call to a number goes. Static numbers ring
// their extension; numbers routed by CRM ask it (the "data query") within
// the tenant's RouteTimeout and take the fallback extension on timeout,
// error, an empty or unusable answer, or a queue (queues do not exist
// yet).
func (s *Service) routeInbound(ctx context.Context, route NumberRoute, in InboundCall, callID string) routeTarget {
	fallback := routeTarget{ext: route.Extension, label: "fallback:" + route.Extension}
	log := s.log.With("call", callID, "tenant", route.TenantID)
	switch route.Route {
	case RouteCRM:
	case RouteQueue:
		return routeTarget{queue: route.Queue, label: "queue:" + route.Queue, fallback: route.Extension}
	case RouteIVR:
		return routeTarget{flow: route.Flow, label: "ivr:" + route.Flow, fallback: route.Extension}
	default:
		return routeTarget{ext: route.Extension, label: "static:" + route.Extension}
	}
	if s.cfg.CRM == nil {
		log.Warn("number is routed by CRM but no CRM is configured; taking the fallback", "to", in.To)
		return fallback
	}
	t := s.tenant(route.TenantID)
	rctx, cancel := context.WithTimeout(ctx, t.RouteTimeout)
	defer cancel()
	p := CallParams{TenantID: route.TenantID, CallID: callID, Trunk: in.Trunk,
		From: s.e164(route.TenantID, in.From), To: s.e164(route.TenantID, in.To)}
	if p.From == "" {
		p.From = normalizeNumber(in.From)
	}
	if p.To == "" {
		p.To = normalizeNumber(in.To)
	}
	start := time.Now()
	d, err := s.cfg.CRM.Route(rctx, p)
	took := time.Since(start)
	switch {
	case err != nil:
		log.Warn("CRM routing failed; taking the fallback", "took", took, "fallback", route.Extension, "err", err)
		return fallback
	case d.Extension != "":
		ext := normalizeNumber(d.Extension)
		if ext == "" || !s.isExtension(route.TenantID, ext) {
			log.Warn("CRM routed to an unknown extension; taking the fallback", "ext", d.Extension)
			return fallback
		}
		log.Info("CRM routed the call", "ext", ext, "took", took)
		return routeTarget{ext: ext, label: "crm:" + ext, fallback: route.Extension}
	case d.Number != "":
		n, nerr := NormalizeE164(d.Number, t.DefaultRegion)
		if nerr == nil {
			nerr = s.checkDialRule(route.TenantID, n)
		}
		if nerr != nil {
			log.Warn("CRM routed to a number we may not call; taking the fallback", "number", d.Number, "err", nerr)
			return fallback
		}
		log.Info("CRM routed the call to a number", "number", n, "took", took)
		return routeTarget{number: n, label: "crm-number:" + n, fallback: route.Extension}
	case d.Queue != "":
		if _, err := s.queueConfig(ctx, route.TenantID, d.Queue); err != nil {
			log.Warn("CRM routed to an unknown queue; taking the fallback", "queue", d.Queue)
			return fallback
		}
		log.Info("CRM routed the call to a queue", "queue", d.Queue, "priority", d.Priority, "took", took)
		return routeTarget{queue: d.Queue, priority: d.Priority, label: "crm-queue:" + d.Queue, fallback: route.Extension}
	}
	log.Warn("CRM routing answer names no target; taking the fallback")
	return fallback
}

// isExtension reports whether ext is one of the tenant's extensions.
func (s *Service) isExtension(tenantID, ext string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.internalTargetLocked(tenantID, ext)
	return ok
}

// admitInbound creates the call an inbound leg starts with no agent
// ringing yet (forwarded, queued, in an IVR flow) and tracks the leg;
// a draining service takes no new calls.
func (s *Service) admitInbound(in InboundCall, tenantID, id, from, to string, st CallState, route string) (*Call, error) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return nil, Errorf(KindUnavailable, "shutting down")
	}
	c := s.newCallWithIDLocked(id, tenantID, DirectionInbound, from, to, st)
	c.info.SIPCallID = in.Leg.CallID()
	c.info.Route, c.hist.route = route, route
	s.mu.Unlock()
	c.trackLeg(in.Leg, DirectionInbound, from)
	return c, nil
}

// forwardInbound starts a call the CRM routed to an outside number: the
// caller is bridged to a new outbound leg, no agent takes part.
func (s *Service) forwardInbound(in InboundCall, tenantID, id, from, to string, target routeTarget) error {
	c, err := s.admitInbound(in, tenantID, id, from, to, CallDialing, target.label)
	if err != nil {
		return err
	}
	s.log.Info("inbound call forwarded", "call", id, "sip_call_id", in.Leg.CallID(), "from", from, "to", target.number)
	s.start(c, func(context.Context, *slog.Logger) EndReason {
		return c.forwardTo(in.Leg, target.number)
	})
	return nil
}

// queueInbound starts a call into a queue: the caller is answered and
// waits in line with music until an agent takes the call.
func (s *Service) queueInbound(in InboundCall, tenantID, id, from, to string, target routeTarget, cfg *QueueConfig, attempt refusedCall) error {
	c, err := s.admitInbound(in, tenantID, id, from, to, CallQueued, target.label)
	if err != nil {
		return s.refuse(attempt, err)
	}
	s.log.Info("inbound call to a queue", "call", id, "sip_call_id", in.Leg.CallID(), "from", from, "queue", cfg.Name, "priority", target.priority)
	s.start(c, func(context.Context, *slog.Logger) EndReason {
		return c.enqueue(in.Leg, cfg, target.priority)
	})
	return nil
}
