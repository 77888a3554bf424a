package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The product as started: a pre-existing data dir readable by others is
// tightened, the database is owner-only, /metrics is not on the public
// port, and the separate metrics listener serves it.
func TestE2EDataDirPrivateAndMetricsListener(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e := startE2E(t, func(c *Config) { c.DataDir, c.MetricsAddr = dir, "127.0.0.1:0" })
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "ringbridge.db"): 0o600, filepath.Join(dir, "jwt.key"): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", filepath.Base(path), st.Mode().Perm(), want)
		}
	}

	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(e.app.url() + "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the public port: %d, want 404", code)
	}
	code, body := get("http://" + e.app.metrics.ln.Addr().String() + "/metrics")
	if code != 200 || !strings.Contains(body, "ringbridge_active_calls") || !strings.Contains(body, "ringbridge_sip_legs") {
		t.Errorf("metrics listener: %d\n%.300s", code, body)
	}
}

func TestConfigSecuritySettings(t *testing.T) {
	t.Setenv("RINGBRIDGE_METRICS_TOKEN", "short")
	if _, err := loadConfig(""); err == nil || !strings.Contains(err.Error(), "metricsToken") {
		t.Errorf("short metrics token: %v", err)
	}
	t.Setenv("RINGBRIDGE_METRICS_TOKEN", "")
	t.Setenv("RINGBRIDGE_WEBHOOK_ALLOW_PRIVATE", "10.0.0.0/8, 192.168.1.5")
	t.Setenv("RINGBRIDGE_EXTERNAL_TLS", "true")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.WebhookAllowPrivate) != 2 || !cfg.ExternalTLS {
		t.Errorf("config %+v", cfg)
	}
	t.Setenv("RINGBRIDGE_WEBHOOK_ALLOW_PRIVATE", "10.0.0.0/99")
	if _, err := loadConfig(""); err == nil || !strings.Contains(err.Error(), "webhookAllowPrivate") {
		t.Errorf("bad CIDR: %v", err)
	}
}
