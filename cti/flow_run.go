package cti

import (
	"context"
	"log/slog"
	"time"
)

// The flows below each run on their call's owner goroutine and return the
// reason the call ended. Every exit path ends the SIP leg, so a call can
// never outlive its flow. The media link (c.conn) belongs to the flow too;
// start() closes it when the flow returns.

// link (re)connects the call's audio between a and b, keeping hold state.
func (c *Call) link(a, b Endpoint) error {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
	conn, err := c.svc.media.Connect(a, b)
	if err != nil {
		return err
	}
	if c.held {
		conn.Hold(true)
	}
	c.conn = conn
	if c.rec != nil {
		if err := c.rec.Attach(conn); err != nil {
			c.svc.log.Error("attaching the recording to a new link", "call", c.ID(), "err", err)
		}
	}
	return nil
}

func (c *Call) runInbound(ctx context.Context, log *slog.Logger, leg InboundLeg, ag *agent, ep AgentEndpoint) EndReason {
	c.watchDTMF(leg)
	if err := leg.Ringing(ctx); err != nil {
		log.Warn("sending 180 Ringing", "err", err)
	}
	cmd, ep, end := c.ringing(ctx, leg, ep, func(status int, reason string) {
		_ = leg.Reject(context.WithoutCancel(ctx), status, reason)
	})
	if end != EndNone {
		return end
	}
	if err := leg.Answer(ctx); err != nil {
		reply(cmd, &Error{Kind: KindConflict, Message: "the caller is gone", Err: err})
		log.Warn("answering", "err", err)
		return EndFailed
	}
	if err := c.link(ep, leg); err != nil {
		reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
		_ = leg.Hangup(context.WithoutCancel(ctx))
		return EndFailed
	}
	c.startRecording(ctx, log)
	c.legAnswered(leg)
	c.agentAnswered(ag)
	c.setState(CallActive)
	c.publishCall(EventCallAnswered)
	reply(cmd, nil)
	c.screenPopOnAnswer(ctx, log, ag)
	return c.talk(ctx, log, leg)
}

// ringing waits while an agent's phone rings for a SIP leg. refuse ends
// the leg with a SIP status (a final response on an unanswered inbound
// leg; a BYE on a transferred one). It returns the agent's answer command
// and the endpoint to link, or the reason the call ended (EndNone when
// answered).
func (c *Call) ringing(ctx context.Context, leg SIPLeg, ep AgentEndpoint, refuse func(status int, reason string)) (callCmd, AgentEndpoint, EndReason) {
	ring := time.NewTimer(c.svc.cfg.RingTimeout)
	defer ring.Stop()
	for {
		select {
		case <-leg.Done():
			return callCmd{}, nil, EndCancelled
		case <-ring.C:
			refuse(480, "No Answer")
			return callCmd{}, nil, EndNoAnswer
		case <-ctx.Done():
			refuse(503, "Service Unavailable")
			return callCmd{}, nil, EndShutdown
		case cmd := <-c.cmds:
			switch cmd.kind {
			case cmdMove:
				ep = cmd.ep
				reply(cmd, nil)
			case cmdAnswer:
				return cmd, ep, EndNone
			case cmdReject, cmdHangup:
				refuse(486, "Busy Here")
				reply(cmd, nil)
				return callCmd{}, nil, EndRejected
			case cmdAgentGone:
				refuse(480, "Temporarily Unavailable")
				return callCmd{}, nil, EndAgentGone
			default:
				reply(cmd, Errorf(KindConflict, "call is ringing; answer or reject it"))
			}
		}
	}
}

func (c *Call) runOutbound(ctx context.Context, log *slog.Logger, leg OutboundLeg, ag *agent, ep AgentEndpoint) EndReason {
	c.watchDTMF(leg)
	progress := leg.Progress()
	for {
		select {
		case <-progress:
			progress = nil
			// Early media: ringback or announcements from the far end.
			if err := c.link(ep, leg); err != nil {
				log.Error("connecting media", "err", err)
				_ = leg.Hangup(context.WithoutCancel(ctx))
				return EndFailed
			}
			c.setState(CallEarly)
		case <-leg.Answered():
			if c.conn == nil {
				if err := c.link(ep, leg); err != nil {
					log.Error("connecting media", "err", err)
					_ = leg.Hangup(context.WithoutCancel(ctx))
					return EndFailed
				}
			}
			c.startRecording(ctx, log)
			c.legAnswered(leg)
			c.setState(CallActive)
			c.publishCall(EventCallAnswered)
			return c.talk(ctx, log, leg)
		case <-leg.Done():
			return leg.EndReason()
		case <-ctx.Done():
			_ = leg.Hangup(context.WithoutCancel(ctx))
			return EndShutdown
		case cmd := <-c.cmds:
			switch cmd.kind {
			case cmdMove:
				ep = cmd.ep
				if c.conn != nil {
					_ = c.link(ep, leg)
				}
				reply(cmd, nil)
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

// watchDTMF reports the far end's digits to whoever is on the call now.
func (c *Call) watchDTMF(leg SIPLeg) {
	leg.OnDTMF(func(d rune) {
		for _, p := range c.partiesNow() {
			c.svc.pushToAgent(p, AgentEvent{Kind: EventDTMF, CallID: c.ID(), Digit: d})
		}
	})
}

// talk is the answered phase of a call between a SIP leg and an agent.
func (c *Call) talk(ctx context.Context, log *slog.Logger, leg SIPLeg) EndReason {
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
			case cmdMove:
				reply(cmd, c.link(cmd.ep, leg))
			case cmdHold, cmdUnhold:
				on := cmd.kind == cmdHold
				if err := leg.Hold(ctx, on); err != nil {
					reply(cmd, &Error{Kind: KindUnavailable, Message: "the far end refused the hold request", Err: err})
					continue
				}
				c.held = on
				c.conn.Hold(on)
				c.holdChanged(on)
				c.setState(map[bool]CallState{true: CallHeld, false: CallActive}[on])
				reply(cmd, nil)
			case cmdDTMF:
				reply(cmd, leg.SendDTMF(cmd.digits))
			case cmdTransfer:
				return c.transfer(ctx, log, leg, cmd)
			default:
				reply(cmd, Errorf(KindConflict, "call is already answered"))
			}
		}
	}
}

func (c *Call) runInternal(ctx context.Context, log *slog.Logger, caller, callee *agent, epA, epB AgentEndpoint) EndReason {
	ring := time.NewTimer(c.svc.cfg.RingTimeout)
	defer ring.Stop()
	for {
		select {
		case <-ring.C:
			if c.conn == nil {
				return EndNoAnswer
			}
		case <-ctx.Done():
			return EndShutdown
		case cmd := <-c.cmds:
			answered := c.conn != nil
			switch {
			case cmd.kind == cmdAgentGone:
				return EndAgentGone
			case cmd.kind == cmdMove:
				if cmd.from == caller {
					epA = cmd.ep
				} else {
					epB = cmd.ep
				}
				var err error
				if answered {
					err = c.link(epA, epB)
				}
				reply(cmd, err)
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
				if err := c.link(epA, epB); err != nil {
					reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
					return EndFailed
				}
				ring.Stop()
				c.startRecording(ctx, log)
				c.agentAnswered(callee)
				c.setState(CallActive)
				c.publishCall(EventCallAnswered)
				reply(cmd, nil)
			case (cmd.kind == cmdHold || cmd.kind == cmdUnhold) && answered:
				on := cmd.kind == cmdHold
				c.held = on
				c.conn.Hold(on)
				c.holdChanged(on)
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
