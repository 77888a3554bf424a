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
	case RouteQueue, RouteIVR:
		log.Warn("number routes to a queue or IVR flow, which do not exist yet; taking the fallback", "route", route.Route)
		return fallback
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
		log.Warn("CRM routed to a queue, but queues are not supported yet; taking the fallback", "queue", d.Queue)
		return fallback
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

// forwardInbound starts a call the CRM routed to an outside number: the
// caller is bridged to a new outbound leg, no agent takes part.
func (s *Service) forwardInbound(in InboundCall, tenantID, id, from, to string, target routeTarget) error {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return Errorf(KindUnavailable, "shutting down")
	}
	c := s.newCallWithIDLocked(id, tenantID, DirectionInbound, from, to, CallDialing)
	c.info.SIPCallID = in.Leg.CallID()
	c.info.Route, c.hist.route = target.label, target.label
	s.mu.Unlock()
	c.trackLeg(in.Leg, DirectionInbound, from)
	s.log.Info("inbound call forwarded", "call", id, "sip_call_id", in.Leg.CallID(), "from", from, "to", target.number)
	s.start(c, func(ctx context.Context, log *slog.Logger) EndReason {
		return c.runForward(ctx, log, in.Leg, target.number)
	})
	return nil
}

// runForward bridges an unanswered inbound leg to a number: the caller
// hears ringing until the far end answers, then both are connected.
func (c *Call) runForward(ctx context.Context, log *slog.Logger, leg InboundLeg, num string) EndReason {
	if err := leg.Ringing(ctx); err != nil {
		log.Warn("sending 180 Ringing", "err", err)
	}
	out, err := c.svc.media.Dial(ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num})
	if err != nil {
		log.Warn("forward dial failed", "err", err)
		_ = leg.Reject(context.WithoutCancel(ctx), 503, "Service Unavailable")
		return EndFailed
	}
	c.trackLeg(out, DirectionOutbound, num)
	c.publishCall(EventCallRinging)
	for {
		select {
		case <-out.Answered():
			if err := leg.Answer(ctx); err != nil {
				_ = out.Hangup(context.WithoutCancel(ctx))
				return EndCancelled
			}
			if err := c.link(leg, out); err != nil {
				_ = out.Hangup(context.WithoutCancel(ctx))
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndFailed
			}
			c.startRecording(ctx, log)
			c.legAnswered(leg)
			c.legAnswered(out)
			c.setState(CallActive)
			c.publishCall(EventCallAnswered)
			select {
			case <-leg.Done():
				_ = out.Hangup(context.WithoutCancel(ctx))
			case <-out.Done():
				_ = leg.Hangup(context.WithoutCancel(ctx))
			case <-ctx.Done():
				_ = out.Hangup(context.WithoutCancel(ctx))
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndShutdown
			}
			return EndRemoteHangup
		case <-out.Done():
			status, reason := 480, "Temporarily Unavailable"
			if out.EndReason() == EndBusy {
				status, reason = 486, "Busy Here"
			}
			_ = leg.Reject(context.WithoutCancel(ctx), status, reason)
			return out.EndReason()
		case <-leg.Done():
			_ = out.Hangup(context.WithoutCancel(ctx))
			return EndCancelled
		case <-ctx.Done():
			_ = out.Hangup(context.WithoutCancel(ctx))
			_ = leg.Reject(context.WithoutCancel(ctx), 503, "Service Unavailable")
			return EndShutdown
		case cmd := <-c.cmds:
			reply(cmd, Errorf(KindConflict, "the call was forwarded to a number"))
		}
	}
}
