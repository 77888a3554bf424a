package server

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// /ws/supervisor: after auth, the tenant's live picture (agents, queues,
// calls) as a numbered snapshot, then numbered deltas (docs/protocol.md,
// "Supervisors"). A client too slow to keep up is closed with
// closeTooSlow and reconnects for a new snapshot; a gap in the numbers
// means the same.

// closeTooSlow ends a supervisor feed that fell behind.
const closeTooSlow = 4429

func (s *Server) supervisorWebsocket() fiber.Handler {
	return websocket.New(s.serveSupervisor, websocket.Config{
		Origins:        []string{"*"}, // checked by agentUpgradeGuard, as for agents
		RecoverHandler: s.recoverWebsocket,
	})
}

// serveSupervisor is the handler and the connection's read loop.
func (s *Server) serveSupervisor(ws *websocket.Conn) {
	log := s.log.With("remote", ws.IP(), "ws", "supervisor")
	c := newWSConn(ws, log, s.metrics, s.cfg.WSPingInterval)
	go c.pump()
	ctx, cancel := context.WithCancel(s.ctx)
	// agentConn's reading and refusing serve here too; no session is made.
	a := &agentConn{srv: s, c: c, ctx: ctx, log: log, fwdDone: make(chan struct{}), tenantOrigin: ws.Locals(localTenantOrigin)}
	forwarding := false
	defer func() {
		close(c.readerDone)
		c.closeWith(closeNormal, "")
		cancel()
		<-c.pumpDone
		if forwarding {
			<-a.fwdDone
		}
		s.conns.remove(c)
	}()
	ws.SetReadLimit(readBackstop(s.cfg.WSMaxMessage))
	ws.SetPongHandler(func(string) error {
		if a.authed {
			c.extendRead(2 * s.cfg.WSPingInterval)
		}
		return nil
	})
	if !s.conns.add(c) {
		a.drain()
		return
	}
	p, ok := a.authenticatePrincipal()
	if !ok {
		a.drain()
		return
	}
	watch, snap, err := s.svc.Watch(ctx, p)
	if err != nil {
		a.refuse(err, closeForbidden)
		a.drain()
		return
	}
	raw, _ := json.Marshal(snap)
	c.send(&wsproto.Message{Type: wsproto.TypeSnapshot, Snapshot: raw})
	forwarding = true
	go func() {
		defer close(a.fwdDone)
		defer watch.Close()
		for {
			select {
			case d := <-watch.Deltas():
				raw, _ := json.Marshal(d)
				if !c.send(&wsproto.Message{Type: wsproto.TypeDelta, Delta: raw}) {
					return
				}
			case <-watch.Done():
				if ctx.Err() == nil {
					log.Info("supervisor feed too slow; closed for a re-sync")
					c.send(&wsproto.Message{Type: wsproto.TypeError, Code: wsproto.CodeTooSlow, Message: "you fell behind: reconnect for a new snapshot"})
					c.closeWith(closeTooSlow, "too slow")
				}
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		m, err := a.read()
		var rerr *readError
		switch {
		case errors.As(err, &rerr) && rerr.tooLarge:
			a.tooLarge()
			a.drain()
			return
		case errors.As(err, &rerr):
			c.send(badMessage(rerr.id, rerr.msg))
			continue
		case err != nil:
			return
		}
		if m.Type == wsproto.TypePing {
			c.send(&wsproto.Message{Type: wsproto.TypeAck, ID: m.ID})
			continue
		}
		c.send(badMessage(m.ID, "a supervisor feed takes only ping"))
	}
}

// authenticatePrincipal waits for the auth message and checks the token
// and the user (the part of authenticate that opens no session).
func (a *agentConn) authenticatePrincipal() (cti.Principal, bool) {
	s := a.srv
	a.c.extendRead(s.cfg.WSAuthTimeout)
	m, err := a.read()
	if err != nil || m.Type != wsproto.TypeAuth {
		a.refuse(cti.Errorf(cti.KindUnauthorized, "first message must be auth"), closeUnauthorized)
		return cti.Principal{}, false
	}
	p, err := s.tokens.verify(m.Token)
	if err != nil {
		a.refuse(errBadToken, closeUnauthorized)
		return cti.Principal{}, false
	}
	p, err = s.svc.Authorize(a.ctx, p)
	if err != nil {
		a.refuse(err, closeUnauthorized)
		return cti.Principal{}, false
	}
	if o, _ := a.tenantOrigin.(string); o != "" && !s.svc.TenantAllowsOrigin(p.TenantID, o) {
		a.refuse(cti.Errorf(cti.KindForbidden, "origin not allowed for this tenant"), closeForbidden)
		return cti.Principal{}, false
	}
	a.principal, a.authed = p, true
	a.c.extendRead(2 * s.cfg.WSPingInterval)
	return p, true
}
