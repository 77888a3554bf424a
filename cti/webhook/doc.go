// Package webhook is the durable webhook outbox: it delivers cti.Events to
// the HTTP endpoints that tenants configure for their CRMs, and never loses
// one.
//
// Publish (the cti.EventSink port) stores the event and one delivery row
// per matching endpoint in a single transaction and returns; it never waits
// for the network. One worker goroutine per endpoint then sends the
// endpoint's deliveries in order, signed with Standard Webhooks headers,
// within the endpoint's rate limits, retrying on its schedule and parking a
// delivery after its last retry. Deliveries are at least once: the event's
// ID is the webhook-id of every attempt, so receivers de-duplicate on it.
// See docs/webhooks.md for what receivers see.
//
// The package owns the delivery logic and declares the persistence it needs
// as the Store interface; cti/store/sqlite implements it.
//
// # Ordering
//
// Per endpoint, a delivery is sent only when every earlier undelivered,
// unparked delivery of the same call has been delivered (or goes out in the
// same batch before it). Events of different calls may overtake each other
// when one of them is waiting for a retry.
//
// # Concurrency
//
// Outbox methods are safe for concurrent use. Publish calls that arrive
// while a commit is running are committed together in the next transaction
// (group commit), so concurrent publishers share one disk write. The
// endpoint cache is guarded by Outbox.mu; each endpoint's queue is read and
// written only by its own worker, except for the administrative redeliver
// operations, which only ever move rows back to pending.
//
// # Lifecycle
//
// Open loads the endpoints; Publish works from then on, also after Close
// (events are then stored for the next process to deliver). Start starts the
// workers; Close stops them, abandoning requests in flight, and leaves every
// undelivered row in the store.
package webhook
