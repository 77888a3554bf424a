package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/cti/natsbus"
	"github.com/ringbridge/ringbridge/cti/recstore"
	"github.com/ringbridge/ringbridge/cti/store/postgres"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/cti/webhook"
	"github.com/ringbridge/ringbridge/media"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server"
)

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "JSON config file (env RINGBRIDGE_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogLevel)
	slog.SetDefault(log)
	gcPercent := applyGCDefault()
	a, err := newApp(ctx, cfg, log, os.Stdout)
	if err != nil {
		return err
	}
	serveErr := a.start()
	log.Info("ringbridge ready", "softphone", a.url()+"/", "sip", a.sipAddr().String(),
		"webrtc_udp", a.peers.UDPPort(), "webrtc_tcp", *cfg.WebRTCTCPPort, "gogc", gcPercent)
	select {
	case err := <-serveErr:
		a.close()
		return err
	case <-ctx.Done():
	}
	// A second signal cuts the drain short: live calls are hung up at
	// once, but their records are still written. A third ends the process
	// on the spot.
	drainCtx, cutDrain := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cutDrain()
	// Listening before the drain begins: agents are told of the drain
	// at once, and a second signal sent on their word must be heard.
	sig := make(chan os.Signal, 2)
	notifySecond(sig)
	go func() {
		<-sig
		log.Warn("second signal: hanging up live calls now; a third exits at once")
		cutDrain()
		<-sig
		log.Warn("third signal: exiting now")
		os.Exit(1)
	}()
	a.shutdown(drainCtx)
	return nil
}

// app is the wired product: store, voice path, core and edge.
type app struct {
	cfg    *Config
	log    *slog.Logger
	store  *sqlstore.Store
	bus    *natsbus.Bus // nil: one node
	peers  *peer.API
	trunks *trunk.Trunks
	svc    *cti.Service
	crm    *crm.Client // nil when no tenant has a CRM
	outbox *webhook.Outbox
	// stopJobs ends the recording upload and retention job and waits.
	stopJobs func()
	// closed makes close run once (a test closes early, then cleans up).
	closed atomic.Bool
	srv    *server.Server
	ln     net.Listener
	// metrics serves /metrics on Config.MetricsAddr; nil when not set.
	metrics *metricsServer
	udp     net.PacketConn
}

// newApp builds everything and binds every socket, but serves nothing yet
// except SIP (which cti is ready for).
func newApp(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) (_ *app, err error) {
	// The deferred cleanup closes what was built so far; it keeps its own
	// reference because the named result is nil on every error return.
	a := &app{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err = privateDir(cfg.DataDir, log); err != nil {
		return nil, err
	}
	if a.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if !cfg.NoDemo {
		if err = seedDemo(ctx, a.store, cfg.DataDir, out); err != nil {
			return nil, err
		}
	}
	if err = seedConfig(ctx, a.store, cfg, log); err != nil {
		return nil, err
	}
	if err = seedTrunks(ctx, a.store, cfg.Trunks); err != nil {
		return nil, err
	}
	trunks, err := a.store.ListTrunks(ctx)
	if err != nil {
		return nil, err
	}
	secret, err := jwtSecret(cfg)
	if err != nil {
		return nil, err
	}
	var publicIPs []string
	var publicIP, mediaIP netip.Addr
	if cfg.PublicIP != "" {
		publicIPs = []string{cfg.PublicIP}
		publicIP = netip.MustParseAddr(cfg.PublicIP)
	}
	if cfg.MediaIP != "" {
		mediaIP = netip.MustParseAddr(cfg.MediaIP)
	}
	a.peers, err = peer.New(peer.Config{ListenIP: cfg.MediaIP, UDPPort: cfg.WebRTCUDPPort, TCPPort: *cfg.WebRTCTCPPort,
		PublicIPs: publicIPs, IncludeLoopback: cfg.PublicIP == "", Stack: cfg.WebRTCStack}, log.With("component", "webrtc"))
	if err != nil {
		return nil, err
	}
	engine := media.NewEngine(a.peers)
	engine.SetRecordingDir(filepath.Join(cfg.DataDir, "recordings"))
	ctiCfg := cfg.ctiConfig()
	ctiCfg.MusicDir = filepath.Join(cfg.DataDir, "music")
	// Numbers, tenant settings and dialing rules were seeded into the
	// database above; from here on only the database counts, so that a
	// number an admin deletes is gone rather than falling back to the file.
	ctiCfg.Numbers, ctiCfg.Tenants, ctiCfg.DialRules = nil, nil, nil
	ctiCfg.RecordingSecret = recordingSecret(secret)
	// Always a CRM client: any tenant may be given a CRM at runtime.
	if a.crm, err = crm.New(nil, log.With("component", "crm")); err != nil {
		return nil, err
	}
	ctiCfg.CRM = a.crm
	a.svc = cti.New(ctiCfg, a.store, engine, log.With("component", "cti"))
	if cfg.Bus == busNATS {
		if a.bus, err = natsbus.Connect(cfg.NATSURL, cfg.Node, log.With("component", "bus")); err != nil {
			return nil, err
		}
		if err = a.svc.SetBus(cfg.Node, a.bus); err != nil {
			return nil, err
		}
	}
	a.crm.SetResolver(crmResolver(a.svc))
	// Events are stored from now on; they are delivered once start runs.
	allowPrivate, err := webhook.ParsePrefixes(cfg.WebhookAllowPrivate) // validated
	if err != nil {
		return nil, err
	}
	var outboxStore webhook.Store = a.store.Webhooks()
	outboxOpts := webhook.Options{Log: log.With("component", "webhooks"), AllowPrivate: allowPrivate}
	if cfg.Store == storePostgres {
		// Other nodes publish to the same queues and change endpoints:
		// look at them every second, deliver what this node leases.
		outboxStore = a.store.SharedWebhooks(cfg.Node)
		outboxOpts.Poll = time.Second
	}
	if a.outbox, err = webhook.Open(ctx, outboxStore, outboxOpts); err != nil {
		return nil, err
	}
	a.svc.SetEventSink(a.outbox)
	if err = a.setRecordingStorage(ctx); err != nil {
		return nil, err
	}
	// Before any call: account for the calls and agents a crash cut.
	if err = a.svc.Start(ctx); err != nil {
		return nil, err
	}

	rtpMin, rtpMax, _ := cfg.rtpRange()
	a.trunks, err = trunk.New(trunk.Config{Trunks: trunkConfigs(trunks), MediaIP: mediaIP, PublicIP: publicIP,
		RTPPortMin: rtpMin, RTPPortMax: rtpMax, MediaTimeout: time.Duration(cfg.MediaTimeout),
		TCPIdleTimeout: time.Duration(cfg.SIPTCPIdleTimeout), RateLimits: cfg.SIPRateLimits}, a.svc, log.With("component", "sip"))
	if err != nil {
		return nil, err
	}
	var tcp net.Listener
	if a.udp, tcp, err = listenSIP(cfg.SIPAddr); err != nil {
		return nil, err
	}
	if err = a.trunks.Serve(a.udp, tcp); err != nil {
		tcp.Close()
		return nil, err
	}
	engine.SetDialer(a.trunks)
	if err = a.setDirectory(ctx, cfg); err != nil {
		return nil, err
	}
	a.svc.SetTrunkApplier(trunkApplier{a.trunks})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerMediaMetrics(reg, a.trunks, a.peers)
	registerStoreMetrics(reg, a.store)
	srvCfg := server.Config{Addr: cfg.HTTPAddr, JWTSecret: secret, AllowedOrigins: cfg.AllowedOrigins,
		ICEServers: cfg.ICEServers, DefaultTenant: defaultTenant, Webhooks: a.outbox,
		TURN:        server.TURNConfig{URLs: cfg.TURNURLs, Secret: cfg.TURNSecret, TTL: time.Duration(cfg.TURNCredentialTTL)},
		ExternalTLS: cfg.ExternalTLS, MetricsToken: cfg.MetricsToken}
	if *cfg.TLS {
		if srvCfg.TLSCertFile, srvCfg.TLSKeyFile, err = tlsFiles(cfg); err != nil {
			return nil, err
		}
	}
	if a.srv, err = server.New(srvCfg, a.svc, reg, log.With("component", "http")); err != nil {
		return nil, err
	}
	if a.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http listen: %w", err)
	}
	if cfg.MetricsAddr != "" {
		if a.metrics, err = newMetricsServer(cfg.MetricsAddr, reg, log); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func tlsFiles(cfg *Config) (string, string, error) {
	if cfg.TLSCertFile != "" {
		return cfg.TLSCertFile, cfg.TLSKeyFile, nil
	}
	var hosts []string
	if cfg.PublicIP != "" {
		hosts = append(hosts, cfg.PublicIP)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, h)
	}
	return server.EnsureSelfSigned(cfg.CertDir, hosts)
}

// start serves HTTP; the channel reports the server stopping on its own.
func (a *app) start() <-chan error {
	errc := make(chan error, 1)
	if err := a.outbox.Start(); err != nil {
		errc <- err
		return errc
	}
	a.startRecordingJobs()
	go func() { errc <- a.srv.Serve(a.ln) }()
	if a.metrics != nil {
		a.metrics.start()
	}
	return errc
}

func (a *app) url() string {
	scheme := "https"
	if !*a.cfg.TLS {
		scheme = "http"
	}
	return fmt.Sprintf("%s://localhost:%d", scheme, a.ln.Addr().(*net.TCPAddr).Port)
}

func (a *app) sipAddr() net.Addr { return a.udp.LocalAddr() }

// setDirectory tells the service where agents' sessions are recorded:
// JetStream KV with the NATS bus, this process's memory otherwise.
func (a *app) setDirectory(ctx context.Context, cfg *Config) error {
	sipAddr := cfg.NodeSIPAddr
	if sipAddr == "" {
		sipAddr = a.trunks.ContactAddr()
	}
	if a.bus == nil {
		a.svc.SetDirectory(cfg.Node, sipAddr, cti.NewLocalDirectory(0))
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := a.bus.Directory(dctx, 0)
	if err != nil {
		return err
	}
	a.svc.SetDirectory(cfg.Node, sipAddr, d)
	return nil
}

// shutdown drains: health checks fail and sign-ins stop at once, agents
// are told, live calls finish until ctx ends and are hung up then (with
// their records), and every layer is closed.
func (a *app) shutdown(ctx context.Context) {
	deadline, _ := ctx.Deadline()
	a.srv.BeginDrain()
	a.log.Info("shutting down: draining calls", "deadline", time.Until(deadline).Round(time.Millisecond), "active_calls", a.svc.ActiveCalls())
	if err := a.svc.Drain(ctx); err != nil {
		a.log.Warn("calls hung up at the drain deadline", "err", err)
	}
	a.close()
	a.log.Info("stopped")
}

// close releases whatever was built, in reverse order.
func (a *app) close() {
	if !a.closed.CompareAndSwap(false, true) {
		return
	}
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.srv.Shutdown(ctx); err != nil {
			a.log.Warn("http shutdown", "err", err)
		}
		cancel()
	} else if a.ln != nil {
		a.ln.Close()
	}
	if a.metrics != nil {
		a.metrics.close()
	}
	if a.stopJobs != nil {
		a.stopJobs()
	}
	if a.svc != nil {
		a.svc.Close() // hands the last events to the outbox
	}
	if a.bus != nil {
		_ = a.bus.Close()
	}
	if a.outbox != nil {
		// Undelivered events stay in the database for the next start.
		_ = a.outbox.Close()
	}
	if a.crm != nil {
		a.crm.Close()
	}
	if a.trunks != nil {
		if err := a.trunks.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			a.log.Warn("sip shutdown", "err", err)
		}
	} else if a.udp != nil {
		a.udp.Close()
	}
	if a.peers != nil {
		_ = a.peers.Close()
	}
	if a.store != nil {
		_ = a.store.Close()
	}
}

// The two stores cfg.Store names, and the two buses of cfg.Bus.
const (
	storeSQLite   = "sqlite"
	storePostgres = "postgres"
	busLocal      = "local"
	busNATS       = "nats"
)

// openStore opens the configured database with the key that encrypts its
// recoverable secrets (CRM credentials in tenant settings, trunk
// passwords, webhook signing secrets and receiver credentials) at rest:
// dataDir/secrets.key, 32 random bytes written (mode 0600) on first use.
// Keep the key with the database; a backup of the database without it
// does not reveal those secrets, and the database without it cannot use
// them. Nodes sharing a PostgreSQL database need the same key.
func openStore(ctx context.Context, cfg *Config) (*sqlstore.Store, error) {
	var st *sqlstore.Store
	var err error
	if cfg.Store == storePostgres {
		if st, err = postgres.Open(ctx, cfg.PostgresURL); err == nil {
			st.SetNode(cfg.Node)
		}
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ringbridge.db"))
	}
	if err != nil {
		return nil, err
	}
	key, err := secretsKey(cfg.DataDir)
	if err == nil {
		err = st.SetSecretKey(key)
	}
	if err == nil {
		// Webhook secrets stored in the clear by an older version.
		_, err = st.Webhooks().SealSecrets(ctx)
	}
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

func secretsKey(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "secrets.key")
	if b, err := os.ReadFile(path); err == nil {
		key, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(key) != 32 {
			return nil, fmt.Errorf("%s: want 64 hex digits", path)
		}
		return key, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	// O_EXCL: of two processes starting at once, one writes the key and
	// the other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return secretsKey(dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("writing %s: %w", path, werr)
	}
	return key, nil
}

// privateDir creates the data directory 0700, and tightens a pre-existing
// one that others may read: it holds the database, the JWT key and call
// recordings.
func privateDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data dir %s is accessible to others and cannot be restricted: %w", dir, err)
		}
		log.Warn("data dir was accessible to other users; restricted to its owner", "dir", dir, "was", st.Mode().Perm().String())
	}
	return nil
}

// listenSIP binds SIP's UDP socket and a TCP listener on the same port.
// With port 0 the UDP port is picked first; when its TCP twin is taken
// by someone else, another pair is tried.
func listenSIP(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("sip udp: %w", err)
		}
		tcp, err := net.Listen("tcp", udp.LocalAddr().String())
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if port != "0" || attempt == 20 {
			return nil, nil, fmt.Errorf("sip tcp: %w", err)
		}
	}
}

// setRecordingStorage gives the core where finished recordings go.
func (a *app) setRecordingStorage(ctx context.Context) error {
	if a.cfg.RecordingStorage != cti.StorageS3 {
		a.svc.SetRecordingStorage(&recstore.Local{Root: filepath.Join(a.cfg.DataDir, "recordings")})
		return nil
	}
	s3, err := recstore.NewS3(a.cfg.S3)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s3.EnsureBucket(ctx); err != nil {
		return err
	}
	a.svc.SetRecordingStorage(s3)
	return nil
}

// startRecordingJobs runs the upload and retention job until close.
func (a *app) startRecordingJobs() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.svc.RunRecordingJobs(ctx, a.cfg.recordingJobs)
	}()
	a.stopJobs = func() { cancel(); <-done }
}
