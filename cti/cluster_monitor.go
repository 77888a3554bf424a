package cti

import (
	"context"
	"slices"
	"time"
)

// Listening in to a call held by another node (docs/scale-out.md). A
// call's media, and so its mix, lives on the node holding the call; a
// supervisor's softphone lives on the node they are connected to. That
// node places an internal SIP leg, as for a call to a colleague on
// another node, through the front door to the call's node, carrying a
// handover token that names the call, the mode and the supervisor's
// scope. The call's node checks the token and the scope as for a local
// supervisor and mixes the leg in as a monitor with the same rules (who
// hears whom, the announce beep). The supervisor's node audits the use
// and keeps the leg as the supervisor's call; a change of mode places a
// new leg (the old one is hung up first), since a leg carries one mode.
//
// A remote monitor's leg is watched by one goroutine per leg, owned by
// the call (it ends with the leg or with the call's flow); everything
// else runs on the call's owner goroutine like a local monitor.

// remoteCallNode finds the node holding a call of the tenant that the
// principal may listen to, from the presence the bus carries (an agent
// of another node on that call, in the supervisor's teams).
func (s *Service) remoteCallNode(p Principal, callID string) (node, sip string, ok bool) {
	if s.bus == nil || callID == "" {
		return "", "", false
	}
	s.remote.mu.Lock()
	defer s.remote.mu.Unlock()
	for k, ra := range s.remote.by {
		if k.tenant != p.TenantID || ra.p.CallID != callID || ra.sip == "" {
			continue
		}
		if p.Role == RoleSupervisor && !sharesTeam(p.Teams, ra.teams) {
			continue
		}
		if at, heard := s.remote.heard[ra.node]; !heard || time.Since(at) > s.cfg.NodeTimeout {
			continue
		}
		return ra.node, ra.sip, true
	}
	return "", "", false
}

// monitorRemote has the principal's softphone listen to a call held by
// another node: a leg to that node, which mixes it in. ok is false when
// no other node holds such a call.
func (s *Service) monitorRemote(ctx context.Context, p Principal, callID string, mode MonitorMode) (info CallInfo, ok bool, err error) {
	node, sip, found := s.remoteCallNode(p, callID)
	if !found {
		return CallInfo{}, false, nil
	}
	if p.Extension == "" {
		return CallInfo{}, true, Errorf(KindConflict, "listening in needs a user with an extension and its softphone open")
	}
	s.mu.Lock()
	sup := s.agents[agentKey{p.TenantID, p.Extension}]
	if sup == nil || sup.session == nil || !sup.session.reachable() {
		s.mu.Unlock()
		return CallInfo{}, true, Errorf(KindConflict, "open the softphone (extension %s) to listen in", p.Extension)
	}
	ss, cur := sup.session, sup.call
	s.mu.Unlock()
	if cur != nil {
		if cur.remoteMon != callID {
			return CallInfo{}, true, Errorf(KindBusy, "extension %s is on another call", p.Extension)
		}
		if cur.remoteMonMode == mode {
			info := cur.infoFor(sup)
			info.Monitor = mode
			return info, true, nil
		}
		// Another mode: the leg carries one, so it is replaced.
		if err := s.endRemoteMonitor(ctx, sup, cur); err != nil {
			return CallInfo{}, true, err
		}
	}
	h := handover{Tenant: p.TenantID, Ext: p.Extension, Call: callID, Mode: string(mode),
		Admin: p.Role == RoleAdmin, Teams: slices.Clone(p.Teams), Exp: time.Now().Add(time.Minute).Unix()}
	via := &RedirectError{User: "monitor", Host: sip, Token: s.handoverToken(h), Node: node, monitor: callID, monitorMode: mode}
	info, err = ss.dialOut(ctx, "monitor", via)
	if err != nil {
		return CallInfo{}, true, err
	}
	s.audit(ctx, p, p.TenantID, "call.monitor", callID, map[string]any{"mode": string(mode), "node": node})
	info.Monitor = mode
	return info, true, nil
}

// stopRemoteMonitor ends the principal's leg to a call of another node.
func (s *Service) stopRemoteMonitor(ctx context.Context, p Principal, callID string) (bool, error) {
	s.mu.Lock()
	sup := s.agents[agentKey{p.TenantID, p.Extension}]
	var cur *Call
	if sup != nil {
		cur = sup.call
	}
	s.mu.Unlock()
	if cur == nil || callID == "" || cur.remoteMon != callID {
		return false, nil
	}
	if err := s.endRemoteMonitor(ctx, sup, cur); err != nil {
		return true, err
	}
	s.audit(ctx, p, p.TenantID, "call.monitor_stop", callID, nil)
	return true, nil
}

// endRemoteMonitor hangs up a supervisor's leg and waits for it to end.
func (s *Service) endRemoteMonitor(ctx context.Context, sup *agent, c *Call) error {
	if err := c.send(inHangup, sup, ""); err != nil && ErrorKind(err) != KindConflict {
		return err
	}
	select {
	case <-c.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// monitorInbound takes a supervisor's leg from another node into the
// call the token names, after checking the supervisor's scope here.
func (s *Service) monitorInbound(in InboundCall, h handover) error {
	mode, err := ParseMonitorMode(h.Mode)
	if err != nil {
		return errBadHandover
	}
	var teams []string
	if !h.Admin {
		teams = append([]string{}, h.Teams...)
	}
	s.mu.Lock()
	c := s.calls[h.Call]
	ok := c != nil && c.info.TenantID == h.Tenant &&
		(h.Admin || slices.ContainsFunc(c.partiesNow(), func(a *agent) bool { return sharesTeam(teams, a.teams) }))
	s.mu.Unlock()
	if !ok {
		s.log.Info("supervisor of another node: no such call here", "call", h.Call, "ext", h.Ext)
		return Errorf(KindNotFound, "no live call %s", h.Call)
	}
	// The leg gets its media once this returns: answer it after.
	s.bg.Go(func() {
		actx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		defer cancel()
		if err := in.Leg.Answer(actx); err != nil {
			s.log.Warn("supervisor of another node: answering the leg failed", "call", h.Call, "err", err)
			_ = in.Leg.Hangup(context.WithoutCancel(actx))
			return
		}
		if err := c.sendCmd(callCmd{kind: inMonitor, to: string(mode), teams: teams, leg: in.Leg}); err != nil {
			s.log.Info("supervisor of another node refused", "call", h.Call, "ext", h.Ext, "err", err)
			_ = in.Leg.Hangup(context.WithoutCancel(actx))
			return
		}
		select {
		case <-c.Done(): // ended meanwhile: its monitors are released
			_ = in.Leg.Hangup(context.WithoutCancel(actx))
			return
		default:
		}
		s.log.Info("supervisor of another node in the call", "call", h.Call, "ext", h.Ext, "mode", string(mode))
	})
	return nil
}

// remoteMonitorCommand handles a supervisor's leg joining or leaving.
func (c *Call) remoteMonitorCommand(ev *callEvent) EndReason {
	cmd := ev.cmd
	i := slices.IndexFunc(c.monitors, func(m *monitor) bool { return m.leg == cmd.leg })
	if cmd.kind != inMonitor {
		if i >= 0 {
			c.dropMonitor(c.monitors[i], EndMonitorStopped)
		}
		reply(cmd, nil)
		return EndNone
	}
	if st := c.state(); st != CallActive && st != CallHeld || i >= 0 {
		reply(cmd, Errorf(KindConflict, "cannot listen in: the call is %s", st))
		return EndNone
	}
	if c.consult != nil {
		reply(cmd, Errorf(KindConflict, "cannot listen in while the agent consults"))
		return EndNone
	}
	m := &monitor{leg: cmd.leg, mode: MonitorMode(cmd.to), teams: cmd.teams}
	c.monitors = append(c.monitors, m)
	c.beepAgents = c.svc.tenant(c.info.TenantID).AnnounceMonitoring
	err := c.relinkIfLinked()
	c.beepAgents = false
	if err != nil {
		c.log.Error("mixing a supervisor of another node into the call", "err", err)
		c.dropMonitor(m, EndFailed)
		reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
		return EndNone
	}
	ctx, leg := c.ctx, cmd.leg
	c.bg.Go(func() {
		select {
		case <-leg.Done():
		case <-ctx.Done():
			return
		}
		select {
		case c.cmds <- callCmd{kind: inUnmonitor, leg: leg}:
		case <-ctx.Done():
		}
	})
	reply(cmd, nil)
	return EndNone
}

// hangupMonitorLeg ends a remote supervisor's leg (if not ended yet).
func (c *Call) hangupMonitorLeg(m *monitor) {
	select {
	case <-m.leg.Done():
	default:
		_ = m.leg.Hangup(context.WithoutCancel(c.ctx))
	}
}
