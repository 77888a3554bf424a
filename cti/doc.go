// Package cti is the call-center core: tenants, users and their
// extensions, agent sessions and statuses, calls and their legs, routing
// (numbers, CRM queries, queues, forwarding), the CRM connector's ports,
// call records, events and crash recovery. It knows no HTTP, SIP, WebRTC
// or SQL: the voice path, the store and the edges implement the small
// interfaces it declares (ports.go, events.go, user.go).
//
// # Lifecycle
//
// New builds the service and starts nothing; RunRecordingJobs, when its
// owner starts it, uploads finished recordings and applies retention until
// its context ends; Start recovers what a crash
// left (calls and agents, recovery.go) and keeps the live calls'
// heartbeat; Drain refuses new calls and lets live ones finish until its
// deadline, then hangs them up; Close ends everything. A call's life is
// one state machine (callfsm.go): its owner goroutine dispatches every
// input through one transition table, and every ending — a transition,
// shutdown, a panic — goes through closeWith once, then the record is
// stored with its call.ended (write-ahead, publish.go) and the agents are
// freed.
//
// # Concurrency
//
// Service methods are safe for concurrent use. Agents, sessions, queue
// lines and the dispatcher are guarded by Service.mu; each call is owned
// by one goroutine, reached only through its channels (commands, queue
// offers, caller digits), so no lock is held while SIP or media work is
// in progress; a call's snapshot is read under Call.mu. Events are
// published synchronously by whoever produced them, sharing commits with
// concurrent publishers. Supervisor deltas are emitted without blocking
// (supervisor.go); those shared with other nodes leave through a queue that
// one goroutine hands to the Bus, and other nodes' changes come in on the
// bus's goroutine (bus.go). Each call also owns a quality monitor goroutine
// (quality_monitor.go), started with its flow and ended by the call's
// context before the call is released; it reads the voice path's
// counters, never blocks on it, and emits its deltas under the call's
// notifyMu like every call delta. A call's recording is the exception to
// "owner only": start, pause and resume requests reach it from any
// goroutine under its recordingControl's mutex (recording_control.go). The
// recording upload and retention job runs on a goroutine its caller owns
// (RunRecordingJobs, recording_storage.go), one pass at a time. Lock
// order: Service.mu before watchers.mu and remote.mu (never both);
// recordingControl.mu before Call.mu; Call.mu is never held while taking
// Service.mu.
package cti
