package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/media/peer"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
	"github.com/ringbridge/ringbridge/server"
)

// registerMediaMetrics exposes packet counters and live legs. Labels stay
// low-cardinality: no call ids, no numbers.
func registerMediaMetrics(reg *prometheus.Registry, trunks *trunk.Trunks, peers *peer.API) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_received_total", Help: "RTP packets received on all legs."},
			func() float64 { return float64(rtpio.Totals().Received) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_sent_total", Help: "RTP packets sent on all legs."},
			func() float64 { return float64(rtpio.Totals().Sent) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_packets_dropped_total", Help: "RTP packets dropped (malformed, unknown payload type, wrong source)."},
			func() float64 { return float64(rtpio.Totals().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_send_batches_total", Help: "Submissions to io_uring of the packets one poller round relayed (0 where io_uring is unavailable: every packet goes by sendto)."},
			func() float64 { return float64(rtpio.Totals().SendBatches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_rtp_batched_sends_total", Help: "RTP packets sent in those submissions."},
			func() float64 { return float64(rtpio.Totals().BatchedSends) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ringbridge_sip_legs", Help: "SIP legs in progress."},
			func() float64 { return float64(trunks.ActiveLegs()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_ice_udp_reads_total", Help: "System calls reading the shared WebRTC UDP sockets (each may return several datagrams)."},
			func() float64 { r, _ := peers.ICEReads(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_ice_udp_datagrams_total", Help: "Datagrams read from the shared WebRTC UDP sockets."},
			func() float64 { _, d := peers.ICEReads(); return float64(d) }),
	)
}

// registerStoreMetrics exposes the store's commits: with SQLite each is a
// sync of the WAL, the cost a durable write waits for, so commits per call
// show whether concurrent calls share them (docs/durability.md).
func registerStoreMetrics(reg *prometheus.Registry, st *sqlstore.Store) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ringbridge_store_commits_total",
		Help: "Write transactions committed to the database (SQLite: one WAL sync each; 0 with PostgreSQL)."},
		func() float64 { return float64(st.Commits()) }))
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

// recordingSecret derives the key of recording download codes from the
// JWT secret (persistent, so codes survive restarts), kept apart from
// token signing by HMAC with a fixed label.
func recordingSecret(jwtSecret []byte) []byte {
	m := hmac.New(sha256.New, jwtSecret)
	m.Write([]byte("ringbridge recording codes v1"))
	return m.Sum(nil)
}

// metricsServer serves /metrics on its own listener (Config.MetricsAddr),
// so Prometheus can scrape a private address while the main port stays
// public without exposing them.
type metricsServer struct {
	started bool
	ln      net.Listener
	srv     *http.Server
	done    chan struct{}
	log     *slog.Logger
}

func newMetricsServer(addr string, reg *prometheus.Registry, log *slog.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", server.MetricsHTTPHandler(reg))
	if os.Getenv("RINGBRIDGE_PPROF") == "1" {
		// Profiles only on the private metrics address and only when
		// asked for: they reveal memory contents and cost CPU.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	}
	return &metricsServer{ln: ln, log: log, done: make(chan struct{}),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (m *metricsServer) start() {
	m.started = true
	m.log.Info("metrics listening", "addr", m.ln.Addr().String())
	go func() {
		defer close(m.done)
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Warn("metrics server stopped", "err", err)
		}
	}()
}

// close stops the listener; it is safe whether or not start ran.
func (m *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = m.srv.Shutdown(ctx)
	_ = m.ln.Close()
	if m.started {
		<-m.done
	}
}
