package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// agentUpgradeGuard runs before the upgrade, while a plain HTTP answer is
// still possible, so refusals are proper problem+json responses.
func (s *Server) agentUpgradeGuard(c *fiber.Ctx) error {
	if !websocket.IsWebSocketUpgrade(c) {
		return fiber.NewError(fiber.StatusUpgradeRequired, "this endpoint only speaks websocket")
	}
	if s.draining.Load() {
		return cti.Errorf(cti.KindUnavailable, "server is shutting down")
	}
	origin := c.Get(fiber.HeaderOrigin)
	if !s.origins.allows(origin, string(c.Request().Header.Host()), s.scheme()) {
		// Not allowed for every tenant; perhaps for the one the client
		// will sign in to, which only the auth message says. Admit it if
		// some tenant allows it, and check that tenant after auth.
		if origin == "" || !s.svc.SomeTenantAllowsOrigin(c.UserContext(), origin) {
			s.log.Warn("websocket origin refused", "origin", origin, "ip", c.IP())
			return cti.Errorf(cti.KindForbidden, "origin not allowed")
		}
		c.Locals(localTenantOrigin, strings.Clone(origin))
	}
	return c.Next()
}

// scheme is how browsers reach us: https when we terminate TLS or
// Config.ExternalTLS says a proxy in front does.
func (s *Server) scheme() string {
	if s.tls != nil || s.cfg.ExternalTLS {
		return "https"
	}
	return "http"
}

func (s *Server) agentWebsocket() fiber.Handler {
	return websocket.New(s.serveAgent, websocket.Config{
		// Set explicitly because contrib's default is also "*" and should
		// not be relied on silently. The check itself is agentUpgradeGuard:
		// same-origin depends on the request's Host, which contrib's static
		// list cannot express.
		Origins:          []string{"*"},
		HandshakeTimeout: 10 * time.Second,
		RecoverHandler:   s.recoverWebsocket,
	})
}

// recoverWebsocket replaces contrib's default, which writes the panic value
// to the client.
func (s *Server) recoverWebsocket(_ *websocket.Conn) {
	if r := recover(); r != nil {
		s.log.Error("panic in websocket handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
}

// agentConn is one agent websocket after the upgrade. Its methods run on
// the handler goroutine unless they say otherwise.
type agentConn struct {
	srv     *Server
	c       *wsConn
	ctx     context.Context
	fwdDone chan struct{} // closed when the event forwarder has stopped
	fwdOnce sync.Once

	// Set once by authenticate, before the connection is attached and thus
	// visible to other goroutines; never changed afterwards.
	log       *slog.Logger
	sess      *cti.AgentSession
	principal cti.Principal

	authed bool // read deadline follows pings once set
	// tenantOrigin is the page's Origin when only a tenant's own
	// allowlist admitted it (checked against the tenant after auth).
	tenantOrigin any
}

// localTenantOrigin carries that Origin from the upgrade guard.
const localTenantOrigin = "ringbridge.tenantOrigin"

// serveAgent is the websocket handler and the connection's read loop.
func (s *Server) serveAgent(ws *websocket.Conn) {
	log := s.log.With("remote", ws.IP())
	c := newWSConn(ws, log, s.metrics, s.cfg.WSPingInterval)
	go c.pump()
	ctx, cancel := context.WithCancel(s.ctx)
	a := &agentConn{srv: s, c: c, ctx: ctx, log: log, fwdDone: make(chan struct{}), tenantOrigin: ws.Locals(localTenantOrigin)}
	defer func() {
		// Order matters: the reader has stopped; stop the producers, let the
		// pump write its close frame, then wait for both goroutines so none
		// touches ws after contrib recycles it.
		close(c.readerDone)
		c.closeWith(closeNormal, "")
		cancel()
		<-c.pumpDone
		if a.sess != nil {
			// The pump has stopped, so nothing forwards any more (even if
			// it ended before it took the feed).
			a.forwarded()
			if s.attached.release(a.sess.ID(), a) {
				a.detach()
			}
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
	if !a.authenticate() {
		a.drain()
		return
	}
	c.setFeed(a)
	a.readLoop()
}

// authenticate waits for the auth message, opens or resumes the session
// and sends the welcome. On failure it has already told the client and
// requested the close.
func (a *agentConn) authenticate() bool {
	s := a.srv
	a.c.extendRead(s.cfg.WSAuthTimeout)
	m, err := a.read()
	if err != nil {
		var rerr *readError
		switch {
		case errors.As(err, &rerr) && rerr.tooLarge:
			a.tooLarge()
		case errors.As(err, &rerr):
			a.refuse(cti.Errorf(cti.KindUnauthorized, "first message must be auth: %s", rerr.msg), closeUnauthorized)
		case isTimeout(err):
			a.refuse(cti.Errorf(cti.KindUnauthorized, "no auth message within %s", s.cfg.WSAuthTimeout), closeUnauthorized)
		default:
			a.log.Debug("websocket closed before auth", "err", err)
		}
		return false
	}
	if m.Type != wsproto.TypeAuth {
		a.refuse(cti.Errorf(cti.KindUnauthorized, "first message must be auth, got %q", m.Type), closeUnauthorized)
		return false
	}
	p, err := s.tokens.verify(m.Token)
	if err != nil {
		a.log.Info("websocket auth refused", "err", err)
		a.refuse(errBadToken, closeUnauthorized)
		return false
	}
	// A valid signature is not enough: the user may have been deleted,
	// disabled, demoted or signed out everywhere since.
	authorized, err := s.svc.Authorize(a.ctx, p)
	if err != nil {
		a.log.Info("websocket auth refused", "tenant", p.TenantID, "user", p.UserID, "err", err)
		a.refuse(err, closeUnauthorized)
		return false
	}
	p = authorized
	if o, _ := a.tenantOrigin.(string); o != "" && !s.svc.TenantAllowsOrigin(p.TenantID, o) {
		a.log.Warn("websocket origin not allowed for the tenant", "origin", o, "tenant", p.TenantID)
		a.refuse(cti.Errorf(cti.KindForbidden, "origin not allowed for this tenant"), closeForbidden)
		return false
	}
	a.principal = p
	a.authed = true
	a.c.extendRead(2 * s.cfg.WSPingInterval)

	var sess *cti.AgentSession
	if m.Resume != "" {
		sess, err = s.svc.Resume(p, m.Resume)
		if err != nil {
			a.log.Info("session resume failed, opening a new one", "resume", m.Resume, "err", err)
		}
	}
	if sess == nil {
		sess, err = s.svc.Connect(a.ctx, p, m.Takeover)
		if err != nil {
			code := closeInternal
			switch cti.ErrorKind(err) {
			case cti.KindConflict:
				code = closeReplaced
			case cti.KindForbidden:
				code = closeForbidden
			case cti.KindUnavailable:
				code = closeUnavailable
			}
			a.refuse(err, code)
			return false
		}
	}
	a.sess = sess
	a.log = a.log.With("session", sess.ID(), "tenant", p.TenantID, "ext", p.Extension)
	s.attached.attach(sess.ID(), a)

	var displayName string
	if u, err := s.svc.UserByID(a.ctx, p.TenantID, p.UserID); err == nil {
		displayName = u.DisplayName
	}
	st, reason, until := sess.Status()
	svcCfg := s.svc.TenantSettings(p.TenantID)
	calls := []wsproto.Call{}
	for _, ci := range sess.Calls() {
		calls = append(calls, callToWire(ci))
	}
	a.c.send(&wsproto.Message{Type: wsproto.TypeWelcome, ID: m.ID, Welcome: &wsproto.Welcome{
		Version:       wsproto.Version,
		SessionID:     sess.ID(),
		TenantID:      p.TenantID,
		UserID:        p.UserID,
		Username:      p.Username,
		DisplayName:   displayName,
		Extension:     p.Extension,
		Status:        string(st),
		Reason:        reason,
		Until:         rfc3339(until),
		StatusSince:   rfc3339(sess.StatusSince()),
		ICEServers:    s.iceServersFor(p.UserID, time.Now()),
		Calls:         calls,
		AwayReasons:   append([]string{}, svcCfg.AwayReasons...),
		WrapUpSeconds: int(svcCfg.WrapUp.Seconds()),
	}})
	a.log.Info("agent websocket open", "resumed", sess.ID() == m.Resume)
	return true
}

// refuse tells the client why and closes with code.
func (a *agentConn) refuse(err error, code int) {
	a.c.send(a.errorMessage("", err))
	a.c.closeWith(code, closeReason(err))
}

func (a *agentConn) tooLarge() {
	msg := fmt.Sprintf("message exceeds %d bytes", a.srv.cfg.WSMaxMessage)
	a.c.send(&wsproto.Message{Type: wsproto.TypeError, Code: wsproto.CodeTooLarge, Message: msg})
	a.c.closeWith(closeTooBig, "message too big")
}

// closeReason fits a domain message into a close frame (123 bytes max).
// The cut may split a rune; ToValidUTF8 drops the remnant, because an
// invalid reason makes the browser fail the connection with 1007 instead.
func closeReason(err error) string {
	r := cti.ErrorMessage(err)
	if len(r) > 120 {
		r = strings.ToValidUTF8(r[:120], "")
	}
	return r
}

// drain reads until the client answers our close or the grace runs out, so
// the close handshake completes instead of resetting the TCP connection.
func (a *agentConn) drain() {
	for {
		if _, _, err := a.c.ws.NextReader(); err != nil {
			return
		}
	}
}

// detach lets the session outlive this websocket for its grace period,
// unless the session itself has ended (replaced or closed).
func (a *agentConn) detach() {
	select {
	case <-a.sess.Done():
		a.log.Info("agent websocket closed with its session")
	default:
		a.sess.Detach()
		a.log.Info("agent websocket closed; session kept for resume")
	}
}

// readBackstop is the limit given to the websocket library. Our own reader
// enforces WSMaxMessage so it can answer too_large before closing; the
// library's limit, which closes with a bare 1009, only stops frames that
// announce a length far beyond it.
func readBackstop(max int) int64 { return 4 * int64(max) }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
