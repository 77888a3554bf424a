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
)

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
	session     *AgentSession
	call        *Call // the call ringing or in progress; nil when free
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
}
