package cti

import (
	"time"
)

// AgentStatus is what the agent chose; being on a call is tracked apart
// from it, so a call ending returns the agent to what they chose.
type AgentStatus string

const (
	StatusOffline   AgentStatus = "offline" // no session
	StatusAvailable AgentStatus = "available"
	StatusAway      AgentStatus = "away"
	// StatusWrapUp follows an answered call for Config.WrapUp, so the
	// agent can finish notes before the next call; it ends by itself or
	// when the agent chooses available.
	StatusWrapUp AgentStatus = "wrapup"
	// StatusBusyElsewhere: the agent is busy in another system (a CRM or
	// another channel said so); offered no calls until available again.
	StatusBusyElsewhere AgentStatus = "busy_elsewhere"
	// StatusRinging and StatusOnCall are activities, not choices: shown
	// (and timed) while a call rings for the agent or is answered, after
	// which the agent is back in the status they chose.
	StatusRinging AgentStatus = "ringing"
	StatusOnCall  AgentStatus = "on_call"
)

// checkAwayReason accepts a reason from the configured codes (any short
// text when none are configured).
func (s *Service) checkAwayReason(tenantID, reason string) error {
	reasons := s.tenant(tenantID).AwayReasons
	if len(reasons) == 0 {
		if len(reason) > 64 {
			return Errorf(KindInvalid, "away reason is longer than 64 characters")
		}
		return nil
	}
	for _, r := range reasons {
		if r == reason {
			return nil
		}
	}
	return Errorf(KindInvalid, "away reason %q is not one of %v", reason, reasons)
}

// ParseAgentStatus validates a status an agent asked for.
func ParseAgentStatus(s string) (AgentStatus, error) {
	switch AgentStatus(s) {
	case StatusAvailable, StatusAway:
		return AgentStatus(s), nil
	}
	return "", Errorf(KindInvalid, "unknown status %q (want available or away)", s)
}

type agentKey struct{ tenant, ext string }

// agent is the live state of one extension. All fields are guarded by
// Service.mu.
type agent struct {
	key         agentKey
	ext         string
	userID      string
	username    string
	status      AgentStatus
	reason      string
	statusSince time.Time
	until       time.Time // end of wrap-up
	// activity is StatusRinging or StatusOnCall while a call needs the
	// agent, "" otherwise; shown is the effective status last stored
	// (presence.go).
	activity AgentStatus
	shown    shownStatus
	// flaps limits how often the agent's chosen status may change.
	flaps *flapLimiter
	// Queues: when the agent last became free, today's answered calls
	// and talk time, skill levels, offers missed in a row.
	idleSince time.Time
	day       agentDay
	skills    map[string]int
	missed    int
	// teams are the agent's teams, for supervisors' views.
	teams   []string
	session *AgentSession
	call    *Call // the call ringing or in progress; nil when free
	// waiting is a second call (call waiting, waiting.go): ringing while
	// the agent talks, or on hold while they take the other.
	waiting *Call
}

// AgentEventKind tells which field of an AgentEvent is set.
type AgentEventKind int

const (
	EventCall     AgentEventKind = iota // Call
	EventICE                            // ICE
	EventDTMF                           // CallID + Digit
	EventStatus                         // Status + Reason
	EventReplaced                       // the agent signed in elsewhere; the session is closed
	EventClosed                         // the session ended (grace expired or shutdown)
	EventDraining                       // the server is stopping: calls finish, none start; Until is the deadline
	EventRevoked                        // the user's access was revoked (disabled, deleted, role changed); Reason says why
	EventQuality                        // a leg of the agent's call changed quality level; Quality
)

// AgentEvent is pushed to an agent's session.
type AgentEvent struct {
	Kind   AgentEventKind
	Call   *CallInfo
	ICE    *ICECandidate
	CallID string
	Digit  rune
	Status AgentStatus
	Reason string
	Until  time.Time // end of wrap-up
	// Quality is the call's quality (EventQuality).
	Quality *AgentQuality
}
