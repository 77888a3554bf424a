package cti

import (
	"slices"
	"time"
)

// Call waiting: with the tenant's CallWaiting setting on, a direct call
// for an agent who is talking (an answered call, no second call yet)
// rings as a second call instead of finding them busy. The agent's call
// is the one that has their attention (agent.call); the other one
// (agent.waiting) rings or waits on hold. Answering the waiting call, or
// resuming the held one, first holds the call the agent is in, so the
// agent's audio is only ever linked to one call. All of it is decided
// here, at the session, never by one call's goroutine waiting on
// another's.

// waitingRingableLocked tells whether a busy agent may take a second call:
// they talk in an answered call as one of its parties (not a supervisor
// listening in, not a consulted colleague whose phone still rings) and
// have no second call yet. Callers hold s.mu.
func waitingRingableLocked(ag *agent) bool {
	if ag.call == nil || ag.waiting != nil || ag.activity != StatusOnCall {
		return false
	}
	if st := ag.call.state(); st != CallActive && st != CallHeld {
		return false
	}
	return slices.Contains(ag.call.partiesNow(), ag)
}

// leaveLocked takes c out of the agent's calls; a waiting call becomes
// the agent's call. It reports whether the agent is now free. Callers
// hold s.mu.
func (ag *agent) leaveLocked(c *Call, now time.Time) bool {
	switch {
	case ag.call == c:
		ag.call, ag.waiting = ag.waiting, nil
		if ag.call == nil {
			ag.idleSince = now
			return true
		}
	case ag.waiting == c:
		ag.waiting = nil
	}
	return false
}

// joinLocked makes c one of the agent's calls. Callers hold s.mu.
func (ag *agent) joinLocked(c *Call) {
	if ag.call == nil || ag.call == c {
		ag.call = c
		return
	}
	ag.waiting = c
}

// otherCall returns the agent's call other than c, if any.
func (s *Service) otherCall(ag *agent, c *Call) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case ag.call == c:
		return ag.waiting
	case ag.waiting == c:
		return ag.call
	}
	return nil
}

// focus makes c the call with the agent's attention after they answered
// or resumed it.
func (s *Service) focus(ag *agent, c *Call) {
	s.mu.Lock()
	if ag.waiting == c {
		ag.call, ag.waiting = c, ag.call
	}
	s.mu.Unlock()
}

// holdOther puts the agent's other call on hold before c takes the
// agent's audio (answering a waiting call, resuming a held one).
func (ss *AgentSession) holdOther(c *Call) error {
	other := ss.svc.otherCall(ss.agent, c)
	if other == nil || other.state() != CallActive {
		return nil
	}
	if err := other.send(inHold, ss.agent, ""); err != nil {
		if other.closed.Load() {
			return nil // it is ending anyway: nothing to hold
		}
		return &Error{Kind: KindConflict, Message: "could not hold the other call first", Err: err}
	}
	return nil
}

// activityAfter is the agent's activity once c no longer needs them: on a
// call still if they have another one.
func (s *Service) activityAfter(ag *agent, c *Call) AgentStatus {
	if s.otherCall(ag, c) != nil {
		return StatusOnCall
	}
	return ""
}
