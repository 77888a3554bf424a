package cti

import (
	"context"
	"time"
)

// EventType names what happened, as CRMs see it in webhooks.
type EventType string

const (
	EventCallRinging    EventType = "call.ringing"
	EventCallQueued     EventType = "call.queued" // the caller waits in a queue
	EventCallAnswered   EventType = "call.answered"
	EventCallEnded      EventType = "call.ended"   // Data: the full call record
	EventCallUpdated    EventType = "call.updated" // disposition, notes, tags set afterwards
	EventAgentStatus    EventType = "agent.status"
	EventRecordingReady EventType = "recording.ready"
)

// Event is something the outside world hears about through webhooks. It
// is published once, persisted by the sink before Publish returns, and
// delivered at least once; ID stays the same on every delivery so
// receivers can de-duplicate.
type Event struct {
	ID       string // "evt_…", unique and sortable by creation
	Type     EventType
	TenantID string
	Time     time.Time
	// CallID orders a call's events: they are delivered in publication
	// order per call. Empty for events not about a call.
	CallID string
	// Data is the JSON-serialisable payload (a call record, a status
	// change, …).
	Data any
	// State is domain state the sink stores in the same transaction as
	// the event, so that after a crash the two never disagree (a saved
	// call record without its call.ended, or the reverse). Not delivered.
	State *EventState
}

// EventState is domain state that travels with an event into the store.
// Every field is optional.
type EventState struct {
	// CallRecord is a finished call's record: stored, and the call's live
	// entry removed (with call.ended).
	CallRecord *CallRecord
	// LiveCall is a call in progress as it stands (with call.ringing and
	// call.answered), kept so that a crash leaves a call to account for.
	LiveCall *LiveCall
	// Presence is an agent's status as it now is (with agent.status), so
	// agents signed in when the process died can be signed out at start.
	Presence *AgentStatusChange
	// Agents are the changes of agents' effective status that a call's
	// event implies (ringing for it, on it, done with it), stored with
	// that event instead of each in a commit of its own.
	Agents []*AgentStatusChange
}

// StateSink is an EventSink that stores Event.State in the same
// transaction as the event (the webhook outbox). For any other sink the
// service stores the state itself before publishing.
type StateSink interface {
	EventSink
	StoresEventState()
}

// StateCommitter is a StateSink that also stores state without an event
// (a change of an agent's effective status that no event carries) in the
// commits it shares among concurrent writers, so that state costs no sync
// of its own when others are writing too.
type StateCommitter interface {
	StateSink
	StoreState(ctx context.Context, st *EventState) error
}

// LiveCall is the last stored picture of a call in progress.
type LiveCall struct {
	Record CallRecord
	// RecordingID names the call's recording in progress, if any.
	RecordingID string
	// SeenAt is when the process last saw the call alive (the live calls'
	// heartbeat): an interrupted call ended no earlier.
	SeenAt time.Time
}

// DurableStore is the part of the store that keeps what crash recovery
// needs: live calls and agents' presence.
type DurableStore interface {
	// ApplyEventState stores st in one transaction (used when no event
	// sink is set; the sink does the same together with the event).
	ApplyEventState(ctx context.Context, st *EventState) error
	// LiveCalls returns every stored live call, oldest first.
	LiveCalls(ctx context.Context) ([]LiveCall, error)
	// TouchLiveCalls records that the process and the given live calls
	// were alive at at (their SeenAt).
	TouchLiveCalls(ctx context.Context, ids []string, at time.Time) error
	// Heartbeat returns the process's last sign of life stored by
	// TouchLiveCalls (zero: none).
	Heartbeat(ctx context.Context) (time.Time, error)
	// Presence returns the last stored status of every agent who is not
	// offline.
	Presence(ctx context.Context) ([]AgentStatusChange, error)
	// TimeInStatus sums the effective statuses' intervals within
	// [q.From, q.To) per agent, status and reason; now ends the current
	// intervals.
	TimeInStatus(ctx context.Context, tenantID string, q StatusQuery, now time.Time) ([]StatusTime, error)
	// StatusHistory lists the intervals that overlap [q.From, q.To),
	// newest first, a page at a time.
	StatusHistory(ctx context.Context, tenantID string, q StatusQuery, page Page) ([]StatusInterval, string, error)
}

// EventSink receives published events (the webhook outbox). Publish must
// make the event durable before returning and must not wait for delivery.
type EventSink interface {
	Publish(ctx context.Context, ev Event) error
}
