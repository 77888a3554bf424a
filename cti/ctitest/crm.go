package ctitest

import (
	"context"
	"errors"
	"sync"

	"github.com/ringbridge/ringbridge/cti"
)

var (
	_ cti.CRM       = (*CRM)(nil)
	_ cti.EventSink = (*Events)(nil)
)

// CRM is a fake CRM; without Funcs it knows nobody and routes nowhere.
type CRM struct {
	LookupFunc func(ctx context.Context, req cti.LookupRequest) (*cti.Card, error)
	RouteFunc  func(ctx context.Context, p cti.CallParams) (cti.RouteDecision, error)
	QueryFunc  func(ctx context.Context, q cti.IVRQuery) (cti.IVRAnswer, error)

	mu      sync.Mutex
	Lookups []cti.LookupRequest
	Routes  []cti.CallParams
	Queries []cti.IVRQuery
}

func (c *CRM) Lookup(ctx context.Context, req cti.LookupRequest) (*cti.Card, error) {
	c.mu.Lock()
	c.Lookups = append(c.Lookups, req)
	c.mu.Unlock()
	if c.LookupFunc != nil {
		return c.LookupFunc(ctx, req)
	}
	return nil, nil
}

func (c *CRM) Route(ctx context.Context, p cti.CallParams) (cti.RouteDecision, error) {
	c.mu.Lock()
	c.Routes = append(c.Routes, p)
	c.mu.Unlock()
	if c.RouteFunc != nil {
		return c.RouteFunc(ctx, p)
	}
	return cti.RouteDecision{}, nil
}

// Query answers an IVR query; without QueryFunc it fails (the node's
// onTimeout branch).
func (c *CRM) Query(ctx context.Context, q cti.IVRQuery) (cti.IVRAnswer, error) {
	c.mu.Lock()
	c.Queries = append(c.Queries, q)
	c.mu.Unlock()
	if c.QueryFunc != nil {
		return c.QueryFunc(ctx, q)
	}
	return cti.IVRAnswer{}, errors.New("ctitest: no QueryFunc")
}

// Events records published events; it is an EventSink.
type Events struct {
	// Err, when set, is returned by Publish (the event is still recorded).
	Err error

	mu     sync.Mutex
	events []cti.Event
	notify chan struct{}
}

func (e *Events) Publish(_ context.Context, ev cti.Event) error {
	e.mu.Lock()
	e.events = append(e.events, ev)
	ch := e.notify
	e.notify = nil
	err := e.Err
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	return err
}

// All returns the events so far, in order.
func (e *Events) All() []cti.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]cti.Event(nil), e.events...)
}

// Changed returns a channel closed at the next Publish.
func (e *Events) Changed() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.notify == nil {
		e.notify = make(chan struct{})
	}
	return e.notify
}
