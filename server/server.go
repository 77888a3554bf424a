// Package server is the HTTP and websocket edge of ringbridge: the REST API
// under /api/v1, the agent websocket /ws/agent, health and metrics
// endpoints, and the embedded softphone page. It translates requests into
// cti calls and knows nothing about SIP or WebRTC.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// Defaults for Config fields left zero.
const (
	DefaultAddr        = ":8443"
	DefaultAccessTTL   = 15 * time.Minute
	DefaultRefreshTTL  = 12 * time.Hour
	DefaultAuthRecheck = 2 * time.Second
	DefaultPruneEvery  = time.Hour
	// hstsValue asks browsers to use HTTPS only for two years. No
	// includeSubDomains: ringbridge does not own its parent domain's
	// other hosts.
	hstsValue             = "max-age=63072000"
	DefaultTenant         = "demo"
	DefaultWSMaxMessage   = 64 << 10
	DefaultWSPingInterval = 20 * time.Second
	DefaultWSAuthTimeout  = 5 * time.Second

	// MinJWTSecret is the shortest HS256 key accepted: RFC 7518 §3.2 asks
	// for a key at least as long as the hash output.
	MinJWTSecret = 32

	bodyLimit = 1 << 20
)

// Config configures the edge. Zero values take the documented defaults.
type Config struct {
	// Addr is where ListenAndServe listens. Default ":8443".
	Addr string
	// TLSCertFile and TLSKeyFile are a PEM certificate and key. Both empty
	// serves plain HTTP (tests, or behind a TLS-terminating proxy).
	TLSCertFile string
	TLSKeyFile  string
	// JWTSecret signs access tokens (HS256). Required, at least 32 bytes.
	JWTSecret []byte
	// AccessTTL is the lifetime of an access token. Default 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of a refresh token; each refresh issues
	// a new one, so an agent stays signed in while active and is signed
	// out after RefreshTTL idle. Default 12 hours.
	RefreshTTL time.Duration
	// Throttle tunes sign-in throttling (throttle.go).
	Throttle ThrottleConfig
	// AuthRecheck is how often an open websocket's user is checked again
	// (deleted, disabled, role changed, revoked). Default 2s.
	AuthRecheck time.Duration
	// MetricsToken, when set, serves /metrics on this port to requests
	// with "Authorization: Bearer <MetricsToken>". Empty: /metrics is not
	// served here at all (serve it on a separate, private listener).
	MetricsToken string
	// AllowedOrigins lists extra exact Origins (scheme://host[:port]) that
	// may open /ws/agent, for CRM pages talking to it directly. Same-origin
	// (the Origin's host equals the request's Host header) is always
	// allowed, so empty means same-origin only. Default empty.
	AllowedOrigins []string
	// ExternalTLS says a proxy in front terminates TLS for this plain-HTTP
	// listener: browsers then come from https origins, which the
	// websocket origin check must expect. Default false.
	ExternalTLS bool
	// AllowNoOrigin accepts /ws/agent upgrades without an Origin header.
	// Browsers always send one, so only enable this for non-browser
	// clients on a trusted network. Default false.
	AllowNoOrigin bool
	// ICEServers are handed to browsers in the welcome message. Default none.
	ICEServers []wsproto.ICEServer
	// TURN, with a secret, adds a TURN server with per-session, expiring
	// credentials (turn.go) to ICEServers.
	TURN TURNConfig
	// DefaultTenant is used by logins that name no tenant. Default "demo".
	DefaultTenant string
	// WSMaxMessage is the largest websocket message accepted, in bytes.
	// Default 64 KiB.
	WSMaxMessage int
	// WSPingInterval is how often the server pings a websocket; a client
	// silent for two intervals is disconnected. Default 20s.
	WSPingInterval time.Duration
	// WSAuthTimeout is how long a new websocket may take to send its auth
	// message. Default 5s.
	WSAuthTimeout time.Duration
	// Webhooks is the outbox whose endpoints /api/v1/webhooks manages
	// (api_webhooks.go). Nil answers those routes with 503.
	Webhooks *webhook.Outbox
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.AccessTTL <= 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.RefreshTTL <= 0 {
		c.RefreshTTL = DefaultRefreshTTL
	}
	if c.DefaultTenant == "" {
		c.DefaultTenant = DefaultTenant
	}
	if c.AuthRecheck <= 0 {
		c.AuthRecheck = DefaultAuthRecheck
	}
	if c.WSMaxMessage <= 0 {
		c.WSMaxMessage = DefaultWSMaxMessage
	}
	if c.WSPingInterval <= 0 {
		c.WSPingInterval = DefaultWSPingInterval
	}
	if c.WSAuthTimeout <= 0 {
		c.WSAuthTimeout = DefaultWSAuthTimeout
	}
	if c.ICEServers == nil {
		// The browser's RTCConfiguration wants an array, never null.
		c.ICEServers = []wsproto.ICEServer{}
	}
}

// Server is the edge: one Fiber app plus the registry of live websockets.
type Server struct {
	cfg      Config
	svc      *cti.Service
	log      *slog.Logger
	app      *fiber.App
	tls      *tls.Config
	tokens   *tokenIssuer
	metrics  *metrics
	conns    *wsRegistry
	attached *attachments
	origins  originPolicy
	throttle *throttle

	// ctx is the parent of every websocket's context; Shutdown cancels it
	// after the sockets have been closed.
	ctx    context.Context
	cancel context.CancelFunc

	draining atomic.Bool

	mu        sync.Mutex
	listeners []net.Listener
	janitor   sync.Once
	bg        sync.WaitGroup // background goroutines; ended by cancel
}

// New builds the server and registers its metrics on reg (a private
// registry is created when reg is nil). It does not listen; call Serve.
func New(cfg Config, svc *cti.Service, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if svc == nil {
		return nil, errors.New("server: a cti.Service is required")
	}
	if len(cfg.JWTSecret) < MinJWTSecret {
		return nil, fmt.Errorf("server: JWTSecret must be at least %d bytes, got %d", MinJWTSecret, len(cfg.JWTSecret))
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("server: TLSCertFile and TLSKeyFile must be set together")
	}
	cfg.setDefaults()
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	origins, err := newOriginPolicy(cfg.AllowedOrigins, cfg.AllowNoOrigin)
	if err != nil {
		return nil, err
	}

	s := &Server{
		cfg:      cfg,
		svc:      svc,
		log:      log,
		tokens:   newTokenIssuer(cfg.JWTSecret, cfg.AccessTTL),
		conns:    newWSRegistry(),
		attached: newAttachments(),
		origins:  origins,
		throttle: newThrottle(cfg.Throttle),
	}
	if cfg.TLSCertFile != "" {
		// Loading here rather than in Serve makes a bad path fail at start-up
		// with a clear error instead of after the process looks healthy.
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: load TLS key pair: %w", err)
		}
		s.tls = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// fasthttp speaks HTTP/1.1 only; advertising h2 would break clients.
			NextProtos: []string{"http/1.1"},
		}
	}
	if s.metrics, err = newMetrics(reg, svc); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             bodyLimit,
		DisableStartupMessage: true,
		// Without this Fiber believes X-Forwarded-* headers from anyone;
		// the origin check and logs must see the real peer and Host.
		EnableTrustedProxyCheck: true,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            30 * time.Second,
		// Shutdown waits for keep-alive connections to go idle; a bound
		// keeps it from waiting on a browser that never sends again.
		IdleTimeout: 60 * time.Second,
		// An agent's websocket would otherwise keep the HTTP reader's
		// 4 KiB buffer for the session's life (a hijacked connection
		// inherits it), beside the websocket's own.
		ReduceMemoryUsage: true,
	})
	s.app.Server().HeaderReceived = s.bodyLimitFor
	s.routes(reg)
	return s, nil
}

// App returns the Fiber app, for tests and for mounting extra routes.
func (s *Server) App() *fiber.App { return s.app }

// Serve accepts connections on ln until Shutdown, wrapping it in TLS when
// a certificate is configured.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	// Shutdown may run before fasthttp has seen ln (and then would not
	// close it), so we keep our own handle on it.
	oc := &onceCloseListener{Listener: ln}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return errors.New("server: serve after shutdown")
	}
	s.listeners = append(s.listeners, oc)
	// Started under mu, where draining is known false, so the Add happens
	// before Shutdown's Wait.
	s.janitor.Do(func() {
		s.bg.Add(1)
		go s.pruneTokens()
	})
	s.mu.Unlock()
	ln = oc
	s.log.Info("http server listening", "addr", ln.Addr().String(), "tls", s.tls != nil)
	if err := s.app.Listener(ln); err != nil {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

// ListenAndServe listens on Config.Addr and calls Serve.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: listen %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// BeginDrain marks the server as draining from the first moment of a
// graceful stop: health checks answer 503, and sign-ins, token refreshes
// and new websockets are refused, while open websockets and their calls
// carry on until Shutdown.
func (s *Server) BeginDrain() { s.draining.Store(true) }

// Shutdown marks the server as draining (health checks fail, new
// websockets are refused), closes every live websocket with 1001 "going
// away", waits for their handlers, then shuts Fiber down. fasthttp does not
// track hijacked connections, so without the first step it would return
// while agents are still connected.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	for _, ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	s.log.Info("http server shutting down", "websockets", s.conns.count())
	s.conns.closeAll(closeGoingAway, "going away")
	werr := s.conns.wait(ctx)
	s.cancel()
	s.bg.Wait()
	ferr := s.app.ShutdownWithContext(ctx)
	if werr != nil {
		werr = fmt.Errorf("server: waiting for websockets: %w", werr)
	}
	if ferr != nil {
		ferr = fmt.Errorf("server: shutdown: %w", ferr)
	}
	return errors.Join(werr, ferr)
}

// onceCloseListener makes Close idempotent: both Shutdown and fasthttp close
// the listener, and fasthttp aborts its shutdown on a Close error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

// pruneTokens deletes expired refresh tokens now and then every
// DefaultPruneEvery until Shutdown. Used tokens are kept until they
// expire (replay detection), so without this they would pile up.
func (s *Server) pruneTokens() {
	defer s.bg.Done()
	t := time.NewTicker(DefaultPruneEvery)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		n, err := s.svc.PruneExpiredTokens(ctx)
		cancel()
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Warn("pruning expired refresh tokens", "err", err)
		case n > 0:
			s.log.Info("expired refresh tokens pruned", "count", n)
		}
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
	}
}
