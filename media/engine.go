// Package media is the voice path. Engine implements the ports cti
// declares by composing the packages below it: peer (browsers, pion),
// trunk (SIP, sipgo), bridge (relaying between legs) and rtpio.
package media

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/peer"
)

var _ cti.MediaEngine = (*Engine)(nil)

// Dialer places outbound SIP calls (trunk.Trunks).
type Dialer interface {
	Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error)
}

// Engine is the media engine.
type Engine struct {
	peers  *peer.API
	dialer Dialer
}

// NewEngine builds the engine. The dialer is set with SetDialer once the
// SIP stack exists, because the SIP stack needs cti, which needs the engine.
func NewEngine(peers *peer.API) *Engine { return &Engine{peers: peers} }

// SetDialer sets the SIP stack used for outbound calls.
func (e *Engine) SetDialer(d Dialer) { e.dialer = d }

// NewAgentEndpoint implements cti.MediaEngine.
func (e *Engine) NewAgentEndpoint(_ context.Context, id string, ev cti.AgentEndpointEvents) (cti.AgentEndpoint, error) {
	return e.peers.NewEndpoint(id, ev)
}

// Dial implements cti.MediaEngine.
func (e *Engine) Dial(ctx context.Context, req cti.DialRequest) (cti.OutboundLeg, error) {
	if e.dialer == nil {
		return nil, errors.New("no SIP stack")
	}
	return e.dialer.Dial(ctx, req)
}

// Connect implements cti.MediaEngine.
func (e *Engine) Connect(a, b cti.Endpoint) (cti.Connection, error) {
	la, ok := a.(bridge.Leg)
	if !ok {
		return nil, fmt.Errorf("endpoint %s carries no media", a.EndpointID())
	}
	lb, ok := b.(bridge.Leg)
	if !ok {
		return nil, fmt.Errorf("endpoint %s carries no media", b.EndpointID())
	}
	return bridge.Connect(la, lb), nil
}
