package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ringbridge/ringbridge/media/rtpio"
	"github.com/ringbridge/ringbridge/media/trunk"
)

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

// recordingSecret derives the key of recording download codes from the
// JWT secret (persistent, so codes survive restarts), kept apart from
// token signing by HMAC with a fixed label.
func recordingSecret(jwtSecret []byte) []byte {
	m := hmac.New(sha256.New, jwtSecret)
	m.Write([]byte("ringbridge recording codes v1"))
	return m.Sum(nil)
}
