package cti

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// publisher hands events to the EventSink on one goroutine of its own, in
// the order they were published. Publishing only appends to a queue, so
// a call's goroutine never waits for the sink (a database write) and a
// slow or failing sink never holds a call. The queue is unbounded on
// purpose: dropping would lose call data, and its size is bounded in
// practice by the call rate times the sink's latency.
type publisher struct {
	log *slog.Logger

	mu      sync.Mutex
	sink    EventSink
	queue   []Event
	running bool
	closed  bool
	idle    *sync.Cond // signalled when the queue empties and the runner stops
}

// publishRetries is how often a failing sink is retried before the event
// is logged as lost.
const publishRetries = 3

func newPublisher(log *slog.Logger) *publisher {
	p := &publisher{log: log}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// SetEventSink sets where events go (the webhook outbox); nil stops
// publishing. Events published before a sink is set are not kept.
func (s *Service) SetEventSink(sink EventSink) {
	s.events.mu.Lock()
	s.events.sink = sink
	s.events.mu.Unlock()
}

// publish queues an event; it never blocks.
func (s *Service) publish(t EventType, tenantID, callID string, data any) {
	p := s.events
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sink == nil || p.closed {
		return
	}
	p.queue = append(p.queue, Event{ID: newEventID(), Type: t, TenantID: tenantID, Time: time.Now().UTC(), CallID: callID, Data: data})
	if !p.running {
		p.running = true
		go p.run()
	}
}

func (p *publisher) run() {
	p.mu.Lock()
	for len(p.queue) > 0 {
		ev, sink := p.queue[0], p.sink
		p.queue[0] = Event{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if sink != nil {
			p.deliver(sink, ev)
		}
		p.mu.Lock()
	}
	p.queue = nil
	p.running = false
	p.idle.Broadcast()
	p.mu.Unlock()
}

func (p *publisher) deliver(sink EventSink, ev Event) {
	var err error
	for attempt := range publishRetries {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = safePublish(ctx, sink, ev)
		cancel()
		if err == nil {
			return
		}
	}
	p.log.Error("event lost: the event sink refused it", "event", ev.ID, "type", ev.Type, "call", ev.CallID, "err", err)
}

// safePublish keeps a panicking sink from taking the process down.
func safePublish(ctx context.Context, sink EventSink, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("event sink panicked: %v", r)
		}
	}()
	return sink.Publish(ctx, ev)
}

// close stops accepting events and waits until the queued ones are
// delivered or ctx ends.
func (p *publisher) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	done := make(chan struct{})
	go func() {
		p.mu.Lock()
		for p.running {
			p.idle.Wait()
		}
		p.mu.Unlock()
		close(done)
	}()
	p.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		p.mu.Lock()
		n := len(p.queue)
		p.mu.Unlock()
		p.log.Error("events lost at shutdown: the sink did not keep up", "queued", n)
	}
}

// newEventID returns "evt_" + 12 hex digits of Unix milliseconds + 16
// random hex digits: unique, and sortable by creation time.
func newEventID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("evt_%012x%s", time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}
