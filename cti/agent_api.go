package cti

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Operators' statuses as integrations, supervisors and admins read and set
// them (the REST edge serves these).

// AgentPresence is an operator's status right now.
type AgentPresence struct {
	Extension string      `json:"extension"`
	UserID    string      `json:"userId,omitempty"`
	Username  string      `json:"username,omitempty"`
	Status    AgentStatus `json:"status"`
	Reason    string      `json:"reason,omitempty"`
	// Since is when the status (as shown) began; absent for an operator
	// not seen since the start.
	Since time.Time `json:"since,omitzero"`
	// Until ends wrap-up.
	Until time.Time `json:"until,omitzero"`
	// Chosen is the status the operator chose, under a call's activity.
	Chosen AgentStatus `json:"chosenStatus"`
	// CallID is the call ringing or in progress, if any.
	CallID string `json:"callId,omitempty"`
}

// CurrentCall is the call an extension is on, as the API shows it.
type CurrentCall struct {
	ID        string    `json:"id"`
	Direction Direction `json:"direction"`
	State     string    `json:"state"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Remote    string    `json:"remote"`
	Since     time.Time `json:"startedAt"`
	Answered  time.Time `json:"answeredAt,omitzero"`
	Origin    string    `json:"origin,omitempty"`
	Route     string    `json:"route,omitempty"`
	// Queue is reserved for queued calls.
	Queue string `json:"queue,omitempty"`
}

// presenceOfLocked is an agent's presence. Callers hold s.mu.
func (ag *agent) presenceOfLocked() AgentPresence {
	st, reason := ag.effectiveLocked()
	p := AgentPresence{Extension: ag.ext, UserID: ag.userID, Username: ag.username, Status: st, Reason: reason,
		Since: ag.shown.since, Chosen: ag.status}
	if ag.status == StatusWrapUp {
		p.Until = ag.until
	}
	if ag.call != nil {
		p.CallID = ag.call.ID()
	}
	return p
}

// AgentStatuses returns every operator of the tenant with an extension,
// signed in or not, ordered by extension; a supervisor sees the operators
// of their teams.
func (s *Service) AgentStatuses(ctx context.Context, p Principal) ([]AgentPresence, error) {
	if err := p.require(rolesReadAll, "read operators' statuses"); err != nil {
		return nil, err
	}
	users, err := s.store.ListUsers(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]AgentPresence, 0, len(users))
	seen := map[string]bool{}
	for _, u := range users {
		if u.Extension == "" || seen[u.Extension] || !seesUser(p, &u) {
			continue
		}
		seen[u.Extension] = true
		if pres, ok := s.shownPresenceLocked(p.TenantID, u.Extension); ok {
			out = append(out, pres)
			continue
		}
		out = append(out, AgentPresence{Extension: u.Extension, UserID: u.ID, Username: u.Username, Status: StatusOffline, Chosen: StatusOffline})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b AgentPresence) int { return strings.Compare(a.Extension, b.Extension) })
	return out, nil
}

// AgentStatusOf returns one operator's status. Agents may read their own.
func (s *Service) AgentStatusOf(ctx context.Context, p Principal, ext string) (AgentPresence, error) {
	if !(p.Is(rolesReadAll...) || (p.Role == RoleAgent && p.Extension == ext)) {
		return AgentPresence{}, p.require(rolesReadAll, "read other operators' statuses")
	}
	u, err := s.store.GetUserByExtension(ctx, p.TenantID, ext)
	if err != nil {
		return AgentPresence{}, err
	}
	if !seesUser(p, u) {
		return AgentPresence{}, Errorf(KindNotFound, "no extension %s", ext)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pres, ok := s.shownPresenceLocked(p.TenantID, ext); ok {
		return pres, nil
	}
	return AgentPresence{Extension: ext, UserID: u.ID, Username: u.Username, Status: StatusOffline, Chosen: StatusOffline}, nil
}

// SetAgentStatus sets a signed-in operator's chosen status on their
// behalf (a CRM marking them busy in another system, a supervisor sending
// them on a break): available, away with a reason, or busy elsewhere.
func (s *Service) SetAgentStatus(ctx context.Context, p Principal, ext string, st AgentStatus, reason string) (AgentPresence, error) {
	if err := p.require(rolesReadAll, "set operators' statuses"); err != nil {
		return AgentPresence{}, err
	}
	note := reason // kept in the audit log whatever the status
	switch st {
	case StatusAvailable, StatusBusyElsewhere:
		reason = ""
	case StatusOffline:
		return s.signOutAgent(ctx, p, ext, note)
	case StatusAway:
		if err := s.checkAwayReason(p.TenantID, reason); err != nil {
			return AgentPresence{}, err
		}
	default:
		return AgentPresence{}, InvalidField("status", "status must be available, away, busy_elsewhere or offline, not "+string(st))
	}
	if _, err := s.store.GetUserByExtension(ctx, p.TenantID, ext); err != nil {
		return AgentPresence{}, err
	}
	s.mu.Lock()
	ag := s.agents[agentKey{p.TenantID, ext}]
	if ag == nil || ag.session == nil || ag.status == StatusOffline {
		s.mu.Unlock()
		return AgentPresence{}, Errorf(KindConflict, "extension %s is signed out: only a signed-in operator has a status to set", ext)
	}
	if !ag.flapLimiterLocked().allowLocked(s.now()) {
		s.mu.Unlock()
		return AgentPresence{}, errFlapping()
	}
	ch := s.setStatusLocked(ag, st, reason, time.Time{})
	ss, pres := ag.session, ag.presenceOfLocked()
	s.mu.Unlock()
	if err := s.publishStatus(ch); err != nil {
		return AgentPresence{}, err
	}
	ss.push(AgentEvent{Kind: EventStatus, Status: st, Reason: reason})
	s.dispatch()
	s.audit(ctx, p, p.TenantID, "agent.status", ext, map[string]any{"status": st, "reason": note})
	s.log.Info("operator status set", "tenant", p.TenantID, "ext", ext, "status", st, "reason", reason, "by", p.UserID, "role", p.Role)
	return pres, nil
}

// AgentCall returns the call an extension is on (ringing or in progress).
func (s *Service) AgentCall(ctx context.Context, p Principal, ext string) (*CurrentCall, error) {
	if !(p.Is(rolesReadAll...) || (p.Role == RoleAgent && p.Extension == ext)) {
		return nil, p.require(rolesReadAll, "read other operators' calls")
	}
	u, err := s.store.GetUserByExtension(ctx, p.TenantID, ext)
	if err != nil {
		return nil, err
	}
	if !seesUser(p, u) {
		return nil, Errorf(KindNotFound, "no extension %s", ext)
	}
	s.mu.Lock()
	ag := s.agents[agentKey{p.TenantID, ext}]
	var c *Call
	if ag != nil {
		c = ag.call
	}
	s.mu.Unlock()
	if c == nil {
		return nil, Errorf(KindNotFound, "extension %s is not on a call", ext)
	}
	ci := c.infoFor(ag)
	return &CurrentCall{ID: ci.ID, Direction: ci.Direction, State: ci.State.String(), From: ci.From, To: ci.To,
		Remote: ci.Remote, Since: ci.StartedAt, Answered: ci.AnsweredAt, Origin: ci.Origin, Route: ci.Route, Queue: ci.Queue}, nil
}

// maxStatusPeriod bounds a time-in-status query.
const maxStatusPeriod = 366 * 24 * time.Hour

// checkStatusQuery validates a period and filter.
func checkStatusQuery(q StatusQuery) error {
	if !q.From.IsZero() && !q.To.IsZero() {
		if !q.From.Before(q.To) {
			return InvalidField("from", "from must be before to")
		}
		if q.To.Sub(q.From) > maxStatusPeriod {
			return InvalidField("to", "a period is at most 366 days")
		}
	}
	switch q.Status {
	case "", StatusAvailable, StatusAway, StatusWrapUp, StatusBusyElsewhere, StatusRinging, StatusOnCall:
	default:
		return InvalidField("status", "unknown status "+string(q.Status))
	}
	return nil
}

// TimeInStatus returns how long each operator spent in each status (and
// away reason) within the period; an agent may read their own, a
// supervisor their teams' operators.
func (s *Service) TimeInStatus(ctx context.Context, p Principal, q StatusQuery) ([]StatusTime, error) {
	if err := s.requireStatusReader(ctx, p, &q); err != nil {
		return nil, err
	}
	if q.From.IsZero() || q.To.IsZero() {
		return nil, InvalidField("from", "from and to are required")
	}
	if err := checkStatusQuery(q); err != nil {
		return nil, err
	}
	if q.Extensions != nil && len(q.Extensions) == 0 {
		return []StatusTime{}, nil
	}
	out, err := s.store.TimeInStatus(ctx, p.TenantID, q, s.now())
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(t StatusTime) bool { return !q.allows(t.Extension) }), nil
}

// StatusHistory returns the intervals of operators' statuses within the
// period, newest first.
func (s *Service) StatusHistory(ctx context.Context, p Principal, q StatusQuery, page Page) ([]StatusInterval, string, error) {
	if err := s.requireStatusReader(ctx, p, &q); err != nil {
		return nil, "", err
	}
	if err := checkStatusQuery(q); err != nil {
		return nil, "", err
	}
	if q.Extensions != nil && len(q.Extensions) == 0 {
		return []StatusInterval{}, "", nil
	}
	out, next, err := s.store.StatusHistory(ctx, p.TenantID, q, page)
	if err != nil {
		return nil, "", err
	}
	return slices.DeleteFunc(out, func(iv StatusInterval) bool { return !q.allows(iv.Extension) }), next, nil
}

// allows reports whether the query's scope covers ext.
func (q StatusQuery) allows(ext string) bool {
	return (q.Extension == "" || q.Extension == ext) && (q.Extensions == nil || slices.Contains(q.Extensions, ext))
}

// requireStatusReader lets admins and integrations read every operator,
// supervisors the operators of their teams (the query is narrowed to
// them; naming another is forbidden), and an agent only themselves.
func (s *Service) requireStatusReader(ctx context.Context, p Principal, q *StatusQuery) error {
	if p.Role == RoleAgent && p.Extension != "" {
		if q.Extension != "" && q.Extension != p.Extension {
			return Errorf(KindForbidden, "agents read only their own statuses")
		}
		q.Extension = p.Extension
		return nil
	}
	if err := p.require(rolesReadAll, "read operators' statuses"); err != nil {
		return err
	}
	q.Extensions = nil
	if p.Role != RoleSupervisor {
		return nil
	}
	visible, err := s.teamExtensions(ctx, p)
	if err != nil {
		return err
	}
	if q.Extension != "" && !slices.Contains(visible, q.Extension) {
		return Errorf(KindForbidden, "supervisors read the operators of their own teams only")
	}
	q.Extensions = visible
	return nil
}

// teamExtensions returns the extensions a supervisor may read: those of
// the users sharing one of their teams (never nil).
func (s *Service) teamExtensions(ctx context.Context, p Principal) ([]string, error) {
	users, err := s.store.ListUsers(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, u := range users {
		if u.Extension != "" && seesUser(p, &u) && !slices.Contains(out, u.Extension) {
			out = append(out, u.Extension)
		}
	}
	slices.Sort(out)
	return out, nil
}

// signOutAgent ends a signed-in operator's session (a supervisor signing
// out a forgotten agent): their calls end with it, and they are offline.
func (s *Service) signOutAgent(ctx context.Context, p Principal, ext, note string) (AgentPresence, error) {
	s.mu.Lock()
	ag := s.agents[agentKey{p.TenantID, ext}]
	if ag == nil || ag.session == nil {
		s.mu.Unlock()
		return AgentPresence{}, Errorf(KindConflict, "extension %s is signed out already", ext)
	}
	ss := ag.session
	s.mu.Unlock()
	ss.Close()
	s.audit(ctx, p, p.TenantID, "agent.signout", ext, map[string]any{"reason": note})
	s.log.Info("operator signed out by a supervisor", "tenant", p.TenantID, "ext", ext, "by", p.UserID)
	s.mu.Lock()
	defer s.mu.Unlock()
	return ag.presenceOfLocked(), nil
}

// seesUser: supervisors see the users of their teams; everyone else who
// may read statuses sees the whole tenant (agents only themselves, which
// the callers check).
func seesUser(p Principal, u *User) bool {
	return p.Role != RoleSupervisor || sharesTeam(p.Teams, u.Teams)
}
