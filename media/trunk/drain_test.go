package trunk

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
)

// drainingHandler rings nothing and says whether it drains.
type drainingHandler struct{ on atomic.Bool }

func (h *drainingHandler) InboundCall(context.Context, cti.InboundCall) error {
	return cti.Errorf(cti.KindUnavailable, "shutting down")
}

func (h *drainingHandler) Draining() bool { return h.on.Load() }

// OPTIONS (a front door's health probe) is answered 200 while the
// handler takes calls and 503 once it drains.
func TestOptionsWhileDraining(t *testing.T) {
	quietSIPLogs(t)
	h := &drainingHandler{}
	_, udpAddr, _ := startTrunks(t, h)
	p := newSIPPeer(t, udpAddr, "127.0.0.1")
	if res := p.final(p.send(sipReq{method: "OPTIONS", callID: "opt-" + randToken()})); res.status != 200 {
		t.Fatalf("OPTIONS: %d %s, want 200", res.status, res.reason)
	}
	h.on.Store(true)
	if res := p.final(p.send(sipReq{method: "OPTIONS", callID: "opt-" + randToken()})); res.status != 503 || res.headers["retry-after"] == "" {
		t.Fatalf("OPTIONS while draining: %d %s (Retry-After %q), want 503 with Retry-After", res.status, res.reason, res.headers["retry-after"])
	}
}
