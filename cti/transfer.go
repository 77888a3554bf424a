package cti

import (
	"context"
	"log/slog"
	"time"
)

// EndTransferred is the reason a call ends for the agent who transferred it.
const EndTransferred EndReason = "transferred"

// transferTarget checks a blind-transfer destination before the agent is
// let go: an available extension of the tenant, or a number within the
// tenant's dialing rules.
func (s *Service) transferTarget(tenantID, to string, from *agent) (*agent, string, error) {
	num := normalizeNumber(to)
	if num == "" {
		return nil, "", Errorf(KindInvalid, "%q is not a phone number or extension", to)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target, isExt := s.internalTargetLocked(tenantID, num)
	if !isExt {
		return nil, num, s.checkDialRule(tenantID, num)
	}
	switch {
	case target == from:
		return nil, "", Errorf(KindInvalid, "cannot transfer to yourself")
	case target == nil || target.session == nil || !target.session.reachable():
		return nil, "", Errorf(KindUnavailable, "extension %s is offline", num)
	case target.call != nil:
		return nil, "", Errorf(KindBusy, "extension %s is busy", num)
	case target.status != StatusAvailable:
		return nil, "", Errorf(KindUnavailable, "extension %s is %s", num, target.status)
	}
	return target, num, nil
}

// transfer hands the SIP leg to another extension or number (blind
// transfer). The transferring agent is released at once; the call goes on
// under the same id and ends when the new party or the caller hangs up.
func (c *Call) transfer(ctx context.Context, log *slog.Logger, leg SIPLeg, cmd callCmd) EndReason {
	from := cmd.from
	target, num, err := c.svc.transferTarget(c.info.TenantID, cmd.to, from)
	if err != nil {
		reply(cmd, err)
		return c.talk(ctx, log, leg)
	}
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	if c.held {
		if err := leg.Hold(ctx, false); err != nil {
			log.Warn("taking the caller off hold for transfer", "err", err)
		}
		c.held = false
	}
	reply(cmd, nil)
	c.release(from, EndTransferred)
	log.Info("call transferred", "from", from.ext, "to", num)
	if target != nil {
		return c.transferToAgent(ctx, log, leg, target)
	}
	return c.transferToNumber(ctx, log, leg, num)
}

// release takes an agent out of a call that goes on without them.
func (c *Call) release(ag *agent, why EndReason) {
	c.agentLeft(ag, why)
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
	if ag.call == c {
		ag.call = nil
	}
	c.svc.mu.Unlock()
	c.svc.afterCall(ag, !info.AnsweredAt.IsZero())
}

func (c *Call) transferToAgent(ctx context.Context, log *slog.Logger, leg SIPLeg, target *agent) EndReason {
	c.svc.mu.Lock()
	if target.call != nil || target.session == nil {
		c.svc.mu.Unlock()
		_ = leg.Hangup(context.WithoutCancel(ctx))
		return EndUnavailable
	}
	target.call = c
	ep := target.session.endpoint
	c.svc.mu.Unlock()
	c.mu.Lock()
	c.parties = append(c.parties, target)
	c.mu.Unlock()
	c.agentRinging(target)
	c.setState(CallRinging)
	c.publishCall(EventCallRinging)

	cmd, ep, end := c.ringing(ctx, leg, ep, func(int, string) { _ = leg.Hangup(context.WithoutCancel(ctx)) })
	if end != EndNone {
		return end
	}
	if err := c.link(ep, leg); err != nil {
		reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
		_ = leg.Hangup(context.WithoutCancel(ctx))
		return EndFailed
	}
	c.agentAnswered(target)
	c.setState(CallActive)
	c.publishCall(EventCallAnswered)
	reply(cmd, nil)
	return c.talk(ctx, log, leg)
}

func (c *Call) transferToNumber(ctx context.Context, log *slog.Logger, leg SIPLeg, num string) EndReason {
	out, err := c.svc.media.Dial(ctx, DialRequest{TenantID: c.info.TenantID, CallID: c.ID(), From: c.info.From, To: num})
	if err != nil {
		log.Warn("transfer dial failed", "err", err)
		_ = leg.Hangup(context.WithoutCancel(ctx))
		return EndFailed
	}
	c.trackLeg(out, DirectionOutbound, num)
	hangBoth := func() {
		_ = out.Hangup(context.WithoutCancel(ctx))
		_ = leg.Hangup(context.WithoutCancel(ctx))
	}
	progress := out.Progress()
	for {
		select {
		case <-progress:
			progress = nil
			if c.conn == nil {
				_ = c.link(leg, out)
			}
		case <-out.Answered():
			if c.conn == nil {
				if err := c.link(leg, out); err != nil {
					hangBoth()
					return EndFailed
				}
			}
			c.legAnswered(out)
			c.setState(CallActive)
			c.publishCall(EventCallAnswered)
			select {
			case <-leg.Done():
				_ = out.Hangup(context.WithoutCancel(ctx))
			case <-out.Done():
				_ = leg.Hangup(context.WithoutCancel(ctx))
			case <-ctx.Done():
				hangBoth()
				return EndShutdown
			}
			return EndRemoteHangup
		case <-out.Done():
			_ = leg.Hangup(context.WithoutCancel(ctx))
			return out.EndReason()
		case <-leg.Done():
			_ = out.Hangup(context.WithoutCancel(ctx))
			return EndCancelled
		case <-ctx.Done():
			hangBoth()
			return EndShutdown
		case cmd := <-c.cmds:
			reply(cmd, Errorf(KindConflict, "the call has been transferred"))
		}
	}
}
