package media

import (
	"fmt"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/media/bridge"
	"github.com/ringbridge/ringbridge/media/mix"
)

var _ cti.Mixer = (*Engine)(nil)

// Mix implements cti.Mixer.
func (e *Engine) Mix(members []cti.MixMember) (cti.Connection, error) {
	ms := make([]mix.Member, len(members))
	for i, m := range members {
		leg, ok := m.Endpoint.(bridge.Leg)
		if !ok {
			return nil, fmt.Errorf("endpoint %s carries no media", m.Endpoint.EndpointID())
		}
		ms[i] = mix.Member{Leg: leg, Hears: m.Hears, Beep: m.Beep}
	}
	return mix.New(ms)
}
