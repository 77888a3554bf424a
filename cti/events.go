package cti

import (
	"context"
	"time"
)

// EventType names what happened, as CRMs see it in webhooks.
type EventType string

const (
	EventCallRinging    EventType = "call.ringing"
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
}

// EventSink receives published events (the webhook outbox). Publish must
// make the event durable before returning and must not wait for delivery.
type EventSink interface {
	Publish(ctx context.Context, ev Event) error
}
