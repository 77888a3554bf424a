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

// setStatusLocked changes an agent's status and returns the change for
// publishing once s.mu is released (nil when nothing changed). Callers
// hold s.mu.
func (s *Service) setStatusLocked(ag *agent, st AgentStatus, reason string, until time.Time) *AgentStatusChange {
	now := time.Now().UTC()
	prev, prevReason, since := ag.status, ag.reason, ag.statusSince
	ag.status, ag.reason, ag.statusSince, ag.until = st, reason, now, until
	if prev == st && prevReason == reason {
		// Re-choosing the same status is no change; keep the clock.
		ag.statusSince = since
		return nil
	}
	return &AgentStatusChange{
		TenantID: ag.key.tenant, Extension: ag.ext, UserID: ag.userID, Username: ag.username,
		Status: st, Reason: reason, Until: until,
		PreviousStatus: prev, PreviousReason: prevReason, PreviousSeconds: seconds(now.Sub(since)),
		ChangedAt: now,
	}
}

// publishStatus publishes an agent.status event for a change, with the
// agent's presence, and returns once both are durable.
func (s *Service) publishStatus(ch *AgentStatusChange) error {
	if ch == nil {
		return nil
	}
	return s.publishWith(EventAgentStatus, ch.TenantID, "", ch, &EventState{Presence: ch})
}
