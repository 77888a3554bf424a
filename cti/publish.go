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

// Events are write-ahead: publish returns only once the event (and the
// domain state that goes with it) is durable, so nothing is acknowledged
// to anyone — a REST response, a websocket ack, the next step of a call —
// before its event would survive a crash. Concurrent publishers share one
// commit in the sink (group commit), so this costs one disk write per
// group, not per event.

// publishTimeout bounds one publication (all its retries).
const publishTimeout = 10 * time.Second

// publishRetries is how often a failing sink is tried before the error is
// returned to the producer.
const publishRetries = 3

// publisher holds the sink. It is swapped rarely (at start) and read on
// every publication.
type publisher struct {
	log *slog.Logger

	mu   sync.RWMutex
	sink EventSink
}

func newPublisher(log *slog.Logger) *publisher { return &publisher{log: log} }

// SetEventSink sets where events go (the webhook outbox); nil stops
// publishing events (state still goes to the store).
func (s *Service) SetEventSink(sink EventSink) {
	s.events.mu.Lock()
	s.events.sink = sink
	s.events.mu.Unlock()
}

func (p *publisher) current() EventSink {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.sink
}

// publish makes an event durable and returns when it is. The error is
// what producers that acknowledge something must report (KindUnavailable).
func (s *Service) publish(t EventType, tenantID, callID string, data any) error {
	return s.publishWith(t, tenantID, callID, data, nil)
}

// publishWith publishes an event together with the domain state it
// implies (a call's final record, a live call's snapshot, an agent's
// presence), in one transaction. Without a sink the state alone is stored.
func (s *Service) publishWith(t EventType, tenantID, callID string, data any, st *EventState) error {
	ev := Event{ID: newEventID(), Type: t, TenantID: tenantID, Time: time.Now().UTC(), CallID: callID, Data: data, State: st}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), publishTimeout)
	defer cancel()
	sink := s.events.current()
	if _, ok := sink.(StateSink); !ok && st != nil {
		// This sink keeps events only: the state goes to the store first.
		if err := s.storeState(ctx, st); err != nil {
			return err
		}
		ev.State = nil
	}
	if sink == nil {
		return nil
	}
	var err error
	for attempt := range publishRetries {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		if err = safePublish(ctx, sink, ev); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err == nil {
		return nil
	}
	s.log.Error("event not stored", "event", ev.ID, "type", t, "call", callID, "err", err)
	if ev.State != nil {
		// The CRM will not hear of it, but the record is kept.
		_ = s.storeState(ctx, ev.State)
	}
	return &Error{Kind: KindUnavailable, Message: "the event could not be stored; retry", Err: err}
}

// storeStateShared stores state that has no event and returns once it is
// durable: in the sink's group commit when the sink has one (a
// StateCommitter), so that it shares a sync with whatever else is being
// published, else (or should that fail) straight to the store.
func (s *Service) storeStateShared(ctx context.Context, st *EventState) error {
	if sc, ok := s.events.current().(StateCommitter); ok {
		err := safeStoreState(ctx, sc, st)
		if err == nil {
			return nil
		}
		s.log.Warn("state not stored with the events; storing it alone", "err", err)
	}
	return s.storeState(ctx, st)
}

// safeStoreState keeps a panicking sink from taking the process down.
func safeStoreState(ctx context.Context, sc StateCommitter, st *EventState) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("event sink panicked: %v", r)
		}
	}()
	return sc.StoreState(ctx, st)
}

// storeState writes state straight to the store.
func (s *Service) storeState(ctx context.Context, st *EventState) error {
	if s.store == nil {
		return nil
	}
	if err := s.store.ApplyEventState(ctx, st); err != nil {
		s.log.Error("state not stored", "err", err)
		return &Error{Kind: KindUnavailable, Message: "could not be stored; retry", Err: err}
	}
	return nil
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

// newEventID returns "evt_" + 12 hex digits of Unix milliseconds + 16
// random hex digits: unique, and sortable by creation time.
func newEventID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("evt_%012x%s", time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}
