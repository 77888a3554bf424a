package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/media"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/rtpio"
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

	store, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ringbridge.db"))
	if err != nil {
		return err
	}
	defer store.Close()
	if err := seedDemo(ctx, store, cfg.DataDir, os.Stdout); err != nil {
		return err
	}
	secret, err := jwtSecret(cfg)
	if err != nil {
		return err
	}

	var publicIPs []string
	var publicIP netip.Addr
	if cfg.PublicIP != "" {
		publicIPs = []string{cfg.PublicIP}
		publicIP = netip.MustParseAddr(cfg.PublicIP)
	}
	peers, err := peer.New(peer.Config{UDPPort: cfg.WebRTCUDPPort, TCPPort: *cfg.WebRTCTCPPort, PublicIPs: publicIPs,
		IncludeLoopback: cfg.PublicIP == ""}, log.With("component", "webrtc"))
	if err != nil {
		return err
	}
	defer peers.Close()
	engine := media.NewEngine(peers)
	svc := cti.New(cfg.ctiConfig(), store, engine, log.With("component", "cti"))

	rtpMin, rtpMax, _ := cfg.rtpRange()
	var mediaIP netip.Addr
	if cfg.MediaIP != "" {
		mediaIP = netip.MustParseAddr(cfg.MediaIP)
	}
	trunks, err := trunk.New(trunk.Config{Trunks: cfg.Trunks, MediaIP: mediaIP, PublicIP: publicIP,
		RTPPortMin: rtpMin, RTPPortMax: rtpMax, MediaTimeout: time.Duration(cfg.MediaTimeout)}, svc, log.With("component", "sip"))
	if err != nil {
		return err
	}
	udp, err := net.ListenPacket("udp", cfg.SIPAddr)
	if err != nil {
		return fmt.Errorf("sip udp: %w", err)
	}
	tcp, err := net.Listen("tcp", cfg.SIPAddr)
	if err != nil {
		udp.Close()
		return fmt.Errorf("sip tcp: %w", err)
	}
	if err := trunks.Serve(udp, tcp); err != nil {
		return err
	}
	engine.SetDialer(trunks)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	registerMediaMetrics(reg, trunks)
	srvCfg := server.Config{Addr: cfg.HTTPAddr, JWTSecret: secret, AllowedOrigins: cfg.AllowedOrigins,
		ICEServers: cfg.ICEServers, DefaultTenant: defaultTenant}
	if *cfg.TLS {
		srvCfg.TLSCertFile, srvCfg.TLSKeyFile = cfg.TLSCertFile, cfg.TLSKeyFile
		if srvCfg.TLSCertFile == "" {
			hosts := []string{}
			if cfg.PublicIP != "" {
				hosts = append(hosts, cfg.PublicIP)
			}
			if h, err := os.Hostname(); err == nil {
				hosts = append(hosts, h)
			}
			if srvCfg.TLSCertFile, srvCfg.TLSKeyFile, err = server.EnsureSelfSigned(cfg.CertDir, hosts); err != nil {
				return err
			}
		}
	}
	srv, err := server.New(srvCfg, svc, reg, log.With("component", "http"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	scheme := "https"
	if !*cfg.TLS {
		scheme = "http"
	}
	log.Info("ringbridge ready",
		"softphone", fmt.Sprintf("%s://localhost:%d/", scheme, ln.Addr().(*net.TCPAddr).Port),
		"sip", cfg.SIPAddr, "webrtc_udp", peers.UDPPort(), "webrtc_tcp", *cfg.WebRTCTCPPort)

	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Drain: stop taking calls, let live ones finish up to the deadline,
	// then hang up the rest. A second signal ends the process at once.
	log.Info("shutting down: draining calls", "deadline", time.Duration(cfg.ShutdownTimeout), "active_calls", svc.ActiveCalls())
	go func() {
		sig := make(chan os.Signal, 1)
		notifySecond(sig)
		<-sig
		log.Warn("second signal: exiting now")
		os.Exit(1)
	}()
	drainCtx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout))
	defer cancel()
	if err := svc.Drain(drainCtx); err != nil {
		log.Warn("calls hung up at the drain deadline", "err", err)
	}
	shutCtx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	svc.Close()
	if err := trunks.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("sip shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// registerMediaMetrics exposes packet counters and live legs. Labels stay
// low-cardinality: no call ids, no numbers.
func registerMediaMetrics(reg *prometheus.Registry, trunks *trunk.Trunks) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_received_total", Help: "RTP packets received on all legs."},
			func() float64 { return float64(rtpio.Totals().Received) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_sent_total", Help: "RTP packets sent on all legs."},
			func() float64 { return float64(rtpio.Totals().Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_dropped_total", Help: "RTP packets dropped (malformed, unknown payload type, wrong source)."},
			func() float64 { return float64(rtpio.Totals().Dropped) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringbridge_sip_legs", Help: "SIP legs in progress."},
			func() float64 { return float64(trunks.ActiveLegs()) }),
	)
}

// jwtSecret returns the configured secret or one generated once into the
// data directory, so tokens survive restarts.
func jwtSecret(cfg *Config) ([]byte, error) {
	if cfg.JWTSecret != "" {
		if len(cfg.JWTSecret) < 32 {
			return nil, errors.New("jwtSecret must be at least 32 characters")
		}
		return []byte(cfg.JWTSecret), nil
	}
	path := filepath.Join(cfg.DataDir, "jwt.key")
	if b, err := os.ReadFile(path); err == nil {
		if s := strings.TrimSpace(string(b)); len(s) >= 32 {
			return []byte(s), nil
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	s := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return []byte(s), nil
}
