package cti

import (
	"context"
	"time"
)

// Presence: what an agent is doing right now, as supervisors and reports
// see it. The effective status is the chosen one (available, away with a
// reason, wrap-up, busy elsewhere, offline) unless a call needs the agent
// (ringing, on call). Every change of it is stored as an interval, with
// the event of the change when there is one, so time in status per agent,
// status and reason is exact over any period and survives restarts.

// shownStatus is the effective status last stored for an agent.
type shownStatus struct {
	status AgentStatus
	reason string
	since  time.Time
}

// effectiveLocked is the agent's status as shown. Callers hold s.mu.
func (ag *agent) effectiveLocked() (AgentStatus, string) {
	if ag.activity != "" && ag.status != StatusOffline {
		return ag.activity, ""
	}
	return ag.status, ag.reason
}

// presenceLocked records the agent's effective status as of now and
// returns the change to store, nil when it did not change. Callers hold
// s.mu.
func (s *Service) presenceLocked(ag *agent, now time.Time) *AgentStatusChange {
	st, reason := ag.effectiveLocked()
	prev := ag.shown
	if prev.status == "" {
		prev.status = StatusOffline
	}
	if st == prev.status && reason == prev.reason {
		return nil
	}
	ag.shown = shownStatus{status: st, reason: reason, since: now}
	ch := &AgentStatusChange{
		TenantID: ag.key.tenant, Extension: ag.ext, UserID: ag.userID, Username: ag.username,
		Status: st, Reason: reason, PreviousStatus: prev.status, PreviousReason: prev.reason, ChangedAt: now,
	}
	if st == StatusWrapUp {
		ch.Until = ag.until
	}
	if !prev.since.IsZero() {
		ch.PreviousSeconds = seconds(now.Sub(prev.since))
	}
	return ch
}

// markActivity marks what a call asks of the agent (StatusRinging,
// StatusOnCall, or "" when the call no longer needs them), tells the
// watchers, and returns the change of the effective status to store (nil
// when it did not change). The caller stores it: with the call's next
// event (Call.noteActivity) or on its own (storePresence).
func (s *Service) markActivity(ag *agent, act AgentStatus) *AgentStatusChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	ag.activity = act
	ch := s.presenceLocked(ag, s.now())
	if ch != nil {
		s.emitAgentLocked(ag)
	}
	return ch
}

// storePresence stores changes of effective status without an event, in
// the events' group commit when there is one.
func (s *Service) storePresence(chs ...*AgentStatusChange) error {
	st := &EventState{}
	for _, ch := range chs {
		if ch != nil {
			st.Agents = append(st.Agents, ch)
		}
	}
	if len(st.Agents) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), publishTimeout)
	defer cancel()
	return s.storeStateShared(ctx, st)
}

// now is the service's clock (Config.Now, or the wall clock).
func (s *Service) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now().UTC()
	}
	return time.Now().UTC()
}

// Flapping: an agent (or a CRM acting for one) may change the chosen
// status at most flapBurst times in a row, then once per flapEvery, so a
// stuck button or a looping integration cannot flood the CRM with
// agent.status events.
const (
	flapBurst = 10
	flapEvery = 6 * time.Second
)

// flapLimiter is a token bucket; it is guarded by Service.mu.
type flapLimiter struct {
	tokens float64
	last   time.Time
}

// allowLocked spends a token if one is left. Callers hold s.mu.
func (f *flapLimiter) allowLocked(now time.Time) bool {
	if f.last.IsZero() {
		f.tokens = flapBurst
	} else {
		f.tokens = min(flapBurst, f.tokens+now.Sub(f.last).Seconds()/flapEvery.Seconds())
	}
	f.last = now
	if f.tokens < 1 {
		return false
	}
	f.tokens--
	return true
}

// errFlapping is the refusal of a status change beyond the limit.
func errFlapping() error {
	return Errorf(KindRateLimited, "status changed too often: at most %d changes in a row, then one every %s", flapBurst, flapEvery)
}

// flapLimiterLocked returns the agent's limiter. Callers hold s.mu.
func (ag *agent) flapLimiterLocked() *flapLimiter {
	if ag.flaps == nil {
		ag.flaps = &flapLimiter{}
	}
	return ag.flaps
}

// StatusQuery selects status intervals: a period (zero ends: unbounded),
// optionally one extension and one status.
type StatusQuery struct {
	From, To  time.Time
	Extension string
	Status    AgentStatus
	// Extensions, when not nil, narrows the query to these operators (a
	// supervisor's teams); an empty list matches nobody. A store must
	// honour it; the service filters the answer again all the same.
	Extensions []string
}

// StatusTime is the time one agent spent in one status (and reason)
// within a period.
type StatusTime struct {
	Extension string      `json:"extension"`
	UserID    string      `json:"userId,omitempty"`
	Username  string      `json:"username,omitempty"`
	Status    AgentStatus `json:"status"`
	Reason    string      `json:"reason,omitempty"`
	Seconds   float64     `json:"seconds"`
}

// StatusInterval is one stretch of an agent's effective status.
type StatusInterval struct {
	Extension string      `json:"extension"`
	UserID    string      `json:"userId,omitempty"`
	Username  string      `json:"username,omitempty"`
	Status    AgentStatus `json:"status"`
	Reason    string      `json:"reason,omitempty"`
	StartedAt time.Time   `json:"startedAt"`
	EndedAt   time.Time   `json:"endedAt,omitzero"` // absent while current
}
