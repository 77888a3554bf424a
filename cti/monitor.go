package cti

import (
	"context"
	"slices"
	"time"
)

// Supervisors take part in live calls through their own softphone
// session (a PeerConnection like an agent's): listen hears both parties;
// whisper lets the agents of the call hear the supervisor while outside
// parties do not; barge joins all. A call with a supervisor (or a third
// party) is mixed rather than bridged (linkSides). Switching modes changes
// who hears whom, not the supervisor's PeerConnection.

// MonitorMode is how a supervisor takes part in a call.
type MonitorMode string

const (
	MonitorListen  MonitorMode = "listen"
	MonitorWhisper MonitorMode = "whisper"
	MonitorBarge   MonitorMode = "barge"
)

// ParseMonitorMode validates a mode from outside.
func ParseMonitorMode(s string) (MonitorMode, error) {
	switch m := MonitorMode(s); m {
	case MonitorListen, MonitorWhisper, MonitorBarge:
		return m, nil
	}
	return "", Errorf(KindInvalid, "unknown monitor mode %q (want listen, whisper or barge)", s)
}

// EndMonitorStopped ends a supervisor's part in a call that goes on.
const EndMonitorStopped EndReason = "monitor_stopped"

// monitor is a supervisor in a call; owned by the call's goroutine.
type monitor struct {
	ag *agent
	ep AgentEndpoint
	// leg is, instead of ag and ep, a supervisor's leg from another node
	// (cluster_monitor.go).
	leg  SIPLeg
	mode MonitorMode
	// teams limit a supervisor to calls of their teams' agents, also
	// after a transfer changes the call's agents; nil for an
	// administrator, who may listen to any call of the tenant.
	teams []string
}

var rolesMonitor = []Role{RoleAdmin, RoleSupervisor}

// Monitor puts the principal's softphone session into a live call of
// their tenant in mode, or switches the mode if they are in it already.
// Supervisors reach only calls of their teams' agents. Every use is
// audited.
func (s *Service) Monitor(ctx context.Context, p Principal, callID string, mode MonitorMode) (CallInfo, error) {
	if err := p.require(rolesMonitor, "listen to calls"); err != nil {
		return CallInfo{}, err
	}
	c, sup, err := s.monitorTarget(p, callID)
	if err != nil {
		// Held by another node: a leg there (cluster_monitor.go).
		if ErrorKind(err) == KindNotFound {
			if info, ok, rerr := s.monitorRemote(ctx, p, callID, mode); ok {
				return info, rerr
			}
		}
		return CallInfo{}, err
	}
	cmd := callCmd{kind: inMonitor, from: sup, to: string(mode)}
	if p.Role == RoleSupervisor {
		cmd.teams = append([]string{}, p.Teams...)
	}
	if err := c.sendCmd(cmd); err != nil {
		return CallInfo{}, err
	}
	s.audit(ctx, p, p.TenantID, "call.monitor", callID, map[string]any{"mode": string(mode), "agents": c.agentExtensions()})
	info := c.infoFor(sup)
	info.Monitor = mode
	return info, nil
}

// StopMonitor takes the principal out of a call they monitor.
func (s *Service) StopMonitor(ctx context.Context, p Principal, callID string) error {
	if err := p.require(rolesMonitor, "listen to calls"); err != nil {
		return err
	}
	s.mu.Lock()
	c := s.calls[callID]
	sup := s.agents[agentKey{p.TenantID, p.Extension}]
	s.mu.Unlock()
	if c == nil {
		if ok, err := s.stopRemoteMonitor(ctx, p, callID); ok {
			return err
		}
	}
	if c == nil || c.info.TenantID != p.TenantID || sup == nil || p.Extension == "" {
		return Errorf(KindNotFound, "no live call %s", callID)
	}
	if err := c.sendCmd(callCmd{kind: inUnmonitor, from: sup}); err != nil {
		return err
	}
	s.audit(ctx, p, p.TenantID, "call.monitor_stop", callID, nil)
	return nil
}

// monitorTarget finds the call and the principal's own live agent.
func (s *Service) monitorTarget(p Principal, callID string) (*Call, *agent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[callID]
	if c == nil || c.info.TenantID != p.TenantID {
		return nil, nil, Errorf(KindNotFound, "no live call %s", callID)
	}
	if p.Role == RoleSupervisor && !slices.ContainsFunc(c.partiesNow(), func(a *agent) bool { return sharesTeam(p.Teams, a.teams) }) {
		return nil, nil, Errorf(KindNotFound, "no live call %s", callID)
	}
	if p.Extension == "" {
		return nil, nil, Errorf(KindConflict, "listening in needs a user with an extension and its softphone open")
	}
	sup := s.agents[agentKey{p.TenantID, p.Extension}]
	if sup == nil || sup.session == nil || !sup.session.reachable() {
		return nil, nil, Errorf(KindConflict, "open the softphone (extension %s) to listen in", p.Extension)
	}
	if sup.call != nil && sup.call != c {
		return nil, nil, Errorf(KindBusy, "extension %s is on another call", p.Extension)
	}
	return c, sup, nil
}

// agentExtensions lists the call's agents, for the audit log.
func (c *Call) agentExtensions() []string {
	var exts []string
	for _, a := range c.partiesNow() {
		exts = append(exts, a.ext)
	}
	return exts
}

// monitorOf returns the call's monitor that is ag, or nil.
func (c *Call) monitorOf(ag *agent) *monitor {
	if ag == nil {
		return nil
	}
	for _, m := range c.monitors {
		if m.ag == ag {
			return m
		}
	}
	return nil
}

// monitorCommand handles every command from a supervisor in the call:
// their own hang-up, tab closing or reload concern only their part.
func (c *Call) monitorCommand(m *monitor, ev *callEvent) EndReason {
	switch ev.in {
	case inMonitor:
		return c.startMonitor(ev)
	case inUnmonitor, inHangup, inReject, inAgentGone:
		c.dropMonitor(m, EndMonitorStopped)
		reply(ev.cmd, nil)
	case inMove:
		m.ep = ev.cmd.ep
		reply(ev.cmd, c.relinkIfLinked())
	default:
		reply(ev.cmd, Errorf(KindConflict, "cannot %s while listening in", ev.in))
	}
	return EndNone
}

// startMonitor adds a supervisor in the mode asked, or changes their mode.
func (c *Call) startMonitor(ev *callEvent) EndReason {
	cmd := ev.cmd
	mode := MonitorMode(cmd.to)
	if st := c.state(); st != CallActive && st != CallHeld {
		reply(cmd, Errorf(KindConflict, "cannot listen in: the call is %s", st))
		return EndNone
	}
	if c.consult != nil {
		reply(cmd, Errorf(KindConflict, "cannot listen in while the agent consults"))
		return EndNone
	}
	if slices.Contains(c.partiesNow(), cmd.from) {
		reply(cmd, Errorf(KindConflict, "you are a party to this call"))
		return EndNone
	}
	m := c.monitorOf(cmd.from)
	if m == nil {
		c.svc.mu.Lock()
		if cmd.from.call != nil && cmd.from.call != c || cmd.from.session == nil {
			c.svc.mu.Unlock()
			reply(cmd, Errorf(KindBusy, "extension %s is on another call", cmd.from.ext))
			return EndNone
		}
		cmd.from.call = c
		ep := cmd.from.session.endpoint
		c.svc.mu.Unlock()
		m = &monitor{ag: cmd.from, ep: ep, teams: cmd.teams}
		c.monitors = append(c.monitors, m)
	} else if m.mode == mode {
		reply(cmd, nil)
		return EndNone
	}
	m.mode = mode
	c.setWatcher(m.ag, mode)
	c.beepAgents = c.svc.tenant(c.info.TenantID).AnnounceMonitoring
	err := c.relinkIfLinked()
	c.beepAgents = false
	if err != nil {
		c.log.Error("mixing a supervisor into the call", "err", err)
		c.dropMonitor(m, EndFailed)
		reply(cmd, &Error{Kind: KindInternal, Message: "media failed", Err: err})
		return EndNone
	}
	c.pushMonitor(m, CallActive, EndNone)
	c.log.Info("supervisor in the call", "ext", m.ag.ext, "mode", string(mode))
	reply(cmd, nil)
	return EndNone
}

// dropMonitor takes a supervisor out of the call.
func (c *Call) dropMonitor(m *monitor, why EndReason) {
	i := slices.Index(c.monitors, m)
	if i < 0 {
		return
	}
	c.monitors = slices.Delete(c.monitors, i, i+1)
	if m.leg != nil {
		c.hangupMonitorLeg(m)
		if err := c.relinkIfLinked(); err != nil {
			c.log.Error("relinking after a supervisor left", "err", err)
		}
		c.log.Info("supervisor of another node left the call", "why", string(why))
		return
	}
	c.setWatcher(m.ag, "")
	c.svc.mu.Lock()
	free := m.ag.leaveLocked(c, time.Now())
	c.svc.mu.Unlock()
	if free {
		c.svc.dispatch()
	}
	if err := c.relinkIfLinked(); err != nil {
		c.log.Error("relinking after a supervisor left", "err", err)
	}
	c.pushMonitor(m, CallEnded, why)
	c.log.Info("supervisor left the call", "ext", m.ag.ext, "why", string(why))
}

// dropOutOfScope takes out the supervisors who may no longer listen: a
// transfer moved the call to agents outside their teams.
func (c *Call) dropOutOfScope() {
	parties := c.partiesNow()
	for _, m := range slices.Clone(c.monitors) {
		if m.teams == nil || slices.ContainsFunc(parties, func(a *agent) bool { return sharesTeam(m.teams, a.teams) }) {
			continue
		}
		c.dropMonitor(m, EndMonitorStopped)
	}
}

// releaseMonitors frees every supervisor when the call ends.
func (c *Call) releaseMonitors(why EndReason) {
	freed := false
	for _, m := range c.monitors {
		if m.leg != nil {
			c.hangupMonitorLeg(m)
			continue
		}
		c.setWatcher(m.ag, "")
		c.svc.mu.Lock()
		freed = m.ag.leaveLocked(c, time.Now()) || freed
		c.svc.mu.Unlock()
		c.pushMonitor(m, CallEnded, why)
	}
	c.monitors = nil
	if freed {
		c.svc.dispatch()
	}
}

// setWatcher records a supervisor's mode where snapshots read it ("":
// gone).
func (c *Call) setWatcher(ag *agent, mode MonitorMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if mode == "" {
		delete(c.watchers, ag)
		return
	}
	if c.watchers == nil {
		c.watchers = map[*agent]MonitorMode{}
	}
	c.watchers[ag] = mode
}

// pushMonitor tells a supervisor's softphone about their part.
func (c *Call) pushMonitor(m *monitor, st CallState, why EndReason) {
	info := c.infoFor(nil)
	info.Monitor = m.mode
	if st == CallEnded {
		info.State, info.EndReason, info.EndedAt = CallEnded, why, time.Now().UTC()
	}
	c.svc.pushToAgent(m.ag, AgentEvent{Kind: EventCall, Call: &info})
}

// relinkIfLinked rebuilds the audio of a call whose parties are talking
// (or on hold), so a change of who takes part is heard at once.
func (c *Call) relinkIfLinked() error {
	if c.conn == nil {
		return nil
	}
	return c.linkSides()
}

// mixMembers is who hears whom in a mixed call: the two sides (the agent
// first, so the recording's left channel is ours), then the supervisors.
// (A held call is not mixed: linkSides links nothing.) Agents hear supervisors who
// whisper or barge, outside parties only those who barge; supervisors
// hear both sides and every supervisor who speaks.
func (c *Call) mixMembers(first, second *side) []MixMember {
	members := []MixMember{{Endpoint: first.endpoint(), Hears: []int{1}}, {Endpoint: second.endpoint(), Hears: []int{0}}}
	for i, m := range c.monitors {
		idx := 2 + i
		members = append(members, MixMember{Endpoint: m.endpoint(), Hears: []int{0, 1}})
		for p, s := range []*side{first, second} {
			if m.mode == MonitorBarge || m.mode == MonitorWhisper && s.ag != nil {
				members[p].Hears = append(members[p].Hears, idx)
			}
			if c.beepAgents && s.ag != nil {
				members[p].Beep = true
			}
		}
		for j, o := range c.monitors {
			if j != i && o.mode != MonitorListen {
				members[idx].Hears = append(members[idx].Hears, 2+j)
			}
		}
	}
	return members
}

// endpoint is the supervisor's media: their softphone, or their leg from
// another node.
func (m *monitor) endpoint() Endpoint {
	if m.leg != nil {
		return m.leg
	}
	return m.ep
}
