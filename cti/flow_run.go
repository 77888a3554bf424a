package cti

import (
	"context"
	"log/slog"
	"time"
)

// The flows below each run on their call's owner goroutine and return the
// reason the call ended. Every exit path ends the SIP leg, so a call can
// never outlive its flow.

func (c *Call) runInbound(ctx context.Context, log *slog.Logger, leg InboundLeg, ag *agent, ep AgentEndpoint) EndReason {
	leg.OnDTMF(func(d rune) { c.svc.pushToAgent(ag, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d}) })
	if err := leg.Ringing(ctx); err != nil {
		log.Warn("sending 180 Ringing", "err", err)
	}
	ring := time.NewTimer(c.svc.cfg.RingTimeout)
	defer ring.Stop()
	for {
		select {
		case <-leg.Done():
			return EndCancelled
		case <-ring.C:
			_ = leg.Reject(context.WithoutCancel(ctx), 480, "No Answer")
			return EndNoAnswer
		case <-ctx.Done():
			_ = leg.Reject(context.WithoutCancel(ctx), 503, "Service Unavailable")
			return EndShutdown
		case cmd := <-c.cmds:
			switch cmd.kind {
			case cmdAnswer:
				if err := leg.Answer(ctx); err != nil {
					reply(cmd, &Error{Kind: KindConflict, Message: "the caller is gone", Err: err})
					log.Warn("answering", "err", err)
					return EndFailed
				}
				conn, err := c.svc.media.Connect(ep, leg)
				if err != nil {
					reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
					_ = leg.Hangup(context.WithoutCancel(ctx))
					return EndFailed
				}
				defer conn.Close()
				c.setState(CallActive)
				reply(cmd, nil)
				return c.talk(ctx, log, leg, conn)
			case cmdReject, cmdHangup:
				_ = leg.Reject(context.WithoutCancel(ctx), 486, "Busy Here")
				reply(cmd, nil)
				return EndRejected
			case cmdAgentGone:
				_ = leg.Reject(context.WithoutCancel(ctx), 480, "Temporarily Unavailable")
				return EndAgentGone
			default:
				reply(cmd, Errorf(KindConflict, "call is ringing; answer or reject it"))
			}
		}
	}
}

func (c *Call) runOutbound(ctx context.Context, log *slog.Logger, leg OutboundLeg, ag *agent, ep AgentEndpoint) EndReason {
	leg.OnDTMF(func(d rune) { c.svc.pushToAgent(ag, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d}) })
	var conn Connection
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	connect := func() bool {
		if conn != nil {
			return true
		}
		var err error
		if conn, err = c.svc.media.Connect(ep, leg); err != nil {
			log.Error("connecting media", "err", err)
			return false
		}
		return true
	}
	progress := leg.Progress()
	for {
		select {
		case <-progress:
			progress = nil
			// Early media: ringback or announcements from the far end.
			if !connect() {
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndFailed
			}
			c.setState(CallEarly)
		case <-leg.Answered():
			if !connect() {
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndFailed
			}
			c.setState(CallActive)
			return c.talk(ctx, log, leg, conn)
		case <-leg.Done():
			return leg.EndReason()
		case <-ctx.Done():
			_ = leg.Hangup(context.WithoutCancel(ctx))
			return EndShutdown
		case cmd := <-c.cmds:
			switch cmd.kind {
			case cmdHangup, cmdAgentGone:
				_ = leg.Hangup(context.WithoutCancel(ctx))
				reply(cmd, nil)
				if cmd.kind == cmdAgentGone {
					return EndAgentGone
				}
				return EndLocalHangup
			case cmdDTMF:
				reply(cmd, leg.SendDTMF(cmd.digits))
			default:
				reply(cmd, Errorf(KindConflict, "call is not answered yet"))
			}
		}
	}
}

// talk is the answered phase of a call with a SIP leg.
func (c *Call) talk(ctx context.Context, log *slog.Logger, leg SIPLeg, conn Connection) EndReason {
	for {
		select {
		case <-leg.Done():
			if r := leg.EndReason(); r != EndNone && r != EndRemoteHangup {
				return r
			}
			return EndRemoteHangup
		case <-ctx.Done():
			_ = leg.Hangup(context.WithoutCancel(ctx))
			return EndShutdown
		case cmd := <-c.cmds:
			switch cmd.kind {
			case cmdHangup:
				_ = leg.Hangup(context.WithoutCancel(ctx))
				reply(cmd, nil)
				return EndLocalHangup
			case cmdAgentGone:
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndAgentGone
			case cmdHold, cmdUnhold:
				on := cmd.kind == cmdHold
				if err := leg.Hold(ctx, on); err != nil {
					reply(cmd, &Error{Kind: KindUnavailable, Message: "the far end refused the hold request", Err: err})
					continue
				}
				conn.Hold(on)
				c.setState(map[bool]CallState{true: CallHeld, false: CallActive}[on])
				reply(cmd, nil)
			case cmdDTMF:
				reply(cmd, leg.SendDTMF(cmd.digits))
			default:
				reply(cmd, Errorf(KindConflict, "call is already answered"))
			}
		}
	}
}

func (c *Call) runInternal(ctx context.Context, log *slog.Logger, caller, callee *agent, epA, epB AgentEndpoint) EndReason {
	ring := time.NewTimer(c.svc.cfg.RingTimeout)
	defer ring.Stop()
	var conn Connection
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		select {
		case <-ring.C:
			if conn == nil {
				return EndNoAnswer
			}
		case <-ctx.Done():
			return EndShutdown
		case cmd := <-c.cmds:
			answered := conn != nil
			switch {
			case cmd.kind == cmdAgentGone:
				return EndAgentGone
			case cmd.kind == cmdHangup && !answered && cmd.from == caller:
				reply(cmd, nil)
				return EndCancelled
			case (cmd.kind == cmdReject || cmd.kind == cmdHangup) && !answered && cmd.from == callee:
				reply(cmd, nil)
				return EndRejected
			case cmd.kind == cmdHangup:
				reply(cmd, nil)
				if cmd.from == caller {
					return EndLocalHangup
				}
				return EndRemoteHangup
			case cmd.kind == cmdAnswer && !answered && cmd.from == callee:
				var err error
				if conn, err = c.svc.media.Connect(epA, epB); err != nil {
					reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
					return EndFailed
				}
				ring.Stop()
				c.setState(CallActive)
				reply(cmd, nil)
			case (cmd.kind == cmdHold || cmd.kind == cmdUnhold) && answered:
				on := cmd.kind == cmdHold
				conn.Hold(on)
				c.setState(map[bool]CallState{true: CallHeld, false: CallActive}[on])
				reply(cmd, nil)
			case cmd.kind == cmdDTMF && answered:
				// Digits typed on the dialpad play into the other browser.
				target, other := epB, callee
				if cmd.from == callee {
					target, other = epA, caller
				}
				err := target.SendDTMF(cmd.digits)
				if err == nil {
					for _, d := range cmd.digits {
						c.svc.pushToAgent(other, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d})
					}
				}
				reply(cmd, err)
			default:
				reply(cmd, Errorf(KindConflict, "not possible while the call is %s", c.state()))
			}
		}
	}
}
