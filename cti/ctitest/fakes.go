// Package ctitest has fakes of the ports cti declares, for tests of the
// core that need no real media. Every Func field has a safe default.
package ctitest

import (
	"context"
	"errors"
	"sync"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.MediaEngine = (*Media)(nil)

// Media is a fake media engine.
type Media struct {
	NewAgentEndpointFunc func(ctx context.Context, id string, ev cti.AgentEndpointEvents) (cti.AgentEndpoint, error)
	DialFunc             func(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error)

	mu    sync.Mutex
	Dials []cti.DialRequest
}

// NewAgentEndpoint returns an Endpoint unless NewAgentEndpointFunc says otherwise.
func (m *Media) NewAgentEndpoint(ctx context.Context, id string, ev cti.AgentEndpointEvents) (cti.AgentEndpoint, error) {
	if m.NewAgentEndpointFunc != nil {
		return m.NewAgentEndpointFunc(ctx, id, ev)
	}
	return &Endpoint{ID: id}, nil
}

// Dial records the request and fails unless DialFunc is set.
func (m *Media) Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
	m.mu.Lock()
	m.Dials = append(m.Dials, req)
	m.mu.Unlock()
	if m.DialFunc != nil {
		return m.DialFunc(ctx, req)
	}
	return nil, errors.New("ctitest: no trunk")
}

// DialRequests returns the dials so far.
func (m *Media) DialRequests() []cti.DialRequest {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]cti.DialRequest(nil), m.Dials...)
}

// Connect returns a connection that records hold state.
func (m *Media) Connect(a, b cti.Endpoint) (cti.Connection, error) { return &Connection{}, nil }

// Endpoint is a fake agent endpoint.
type Endpoint struct {
	ID     string
	mu     sync.Mutex
	Digits string
	Closed bool
}

func (e *Endpoint) EndpointID() string { return e.ID }
func (e *Endpoint) HandleOffer(ctx context.Context, sdp string) (string, error) {
	if sdp == "bad" {
		return "", errors.New("ctitest: bad offer")
	}
	return "v=0 answer", nil
}
func (e *Endpoint) AddICECandidate(cti.ICECandidate) error { return nil }
func (e *Endpoint) SendDTMF(d string) error {
	e.mu.Lock()
	e.Digits += d
	e.mu.Unlock()
	return nil
}
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.Closed = true
	e.mu.Unlock()
	return nil
}

// Connection is a fake media link.
type Connection struct {
	mu     sync.Mutex
	Held   bool
	Closed bool
}

func (c *Connection) Hold(on bool) { c.mu.Lock(); c.Held = on; c.mu.Unlock() }
func (c *Connection) Close()       { c.mu.Lock(); c.Closed = true; c.mu.Unlock() }
