package cti

import "time"

// AgentStatusChange is the data of an agent.status event: the new status
// and how long the agent spent in the one before.
type AgentStatusChange struct {
	TenantID        string      `json:"tenantId"`
	Extension       string      `json:"extension"`
	UserID          string      `json:"userId,omitempty"`
	Username        string      `json:"username,omitempty"`
	Status          AgentStatus `json:"status"`
	Reason          string      `json:"reason,omitempty"`
	Until           time.Time   `json:"until,omitzero"` // end of wrap-up
	PreviousStatus  AgentStatus `json:"previousStatus"`
	PreviousReason  string      `json:"previousReason,omitempty"`
	PreviousSeconds float64     `json:"previousSeconds"` // time spent in the previous status
	ChangedAt       time.Time   `json:"changedAt"`
}

// statusChange is what one change of an agent's chosen status produces:
// the agent.status event (nil when the choice did not change) and the
// change of the effective status to store (nil when that did not change,
// e.g. choosing away while on a call).
type statusChange struct {
	event    *AgentStatusChange
	presence *AgentStatusChange
}

// setStatusLocked changes an agent's chosen status and returns what to
// publish once s.mu is released. Callers hold s.mu.
func (s *Service) setStatusLocked(ag *agent, st AgentStatus, reason string, until time.Time) statusChange {
	now := s.now()
	prev, prevReason, since := ag.status, ag.reason, ag.statusSince
	ag.status, ag.reason, ag.statusSince, ag.until = st, reason, now, until
	if prev == st && prevReason == reason {
		// Re-choosing the same status is no change; keep the clock.
		ag.statusSince = since
		return statusChange{}
	}
	defer s.emitAgentLocked(ag)
	return statusChange{
		event: &AgentStatusChange{
			TenantID: ag.key.tenant, Extension: ag.ext, UserID: ag.userID, Username: ag.username,
			Status: st, Reason: reason, Until: until,
			PreviousStatus: prev, PreviousReason: prevReason, PreviousSeconds: seconds(now.Sub(since)),
			ChangedAt: now,
		},
		presence: s.presenceLocked(ag, now),
	}
}

// publishStatus publishes an agent.status event for a change of the
// chosen status and stores the effective status with it; it returns once
// both are durable.
func (s *Service) publishStatus(ch statusChange) error {
	switch {
	case ch.event != nil:
		return s.publishWith(EventAgentStatus, ch.event.TenantID, "", ch.event, &EventState{Presence: ch.presence})
	case ch.presence != nil:
		return s.storePresence(ch.presence)
	}
	return nil
}
