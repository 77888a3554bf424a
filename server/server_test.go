package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"go/build"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/healthz", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	resp, body = e.do("GET", "/healthz", nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"status":"draining"`) {
		t.Fatalf("healthz while draining: %d %s", resp.StatusCode, body)
	}
}

const testMetricsToken = "metrics-token-for-tests"

func withMetricsToken(c *Config) { c.MetricsToken = testMetricsToken }

func TestMetrics(t *testing.T) {
	e := newEnv(t, withMetricsToken)
	// Prometheus asks for gzip; the scrape comes back plain (see
	// metricsHandler), readable as it is.
	resp, body := e.do("GET", "/metrics", nil, "Authorization", "Bearer "+testMetricsToken, "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("metrics: %d", resp.StatusCode)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("metrics Content-Encoding %q; want none", ce)
	}
	for _, want := range []string{
		"ringbridge_active_calls 0",
		"ringbridge_agent_sessions 0",
		`ringbridge_ws_messages_total{direction="in"} 0`,
		`ringbridge_ws_errors_total{code="bad_message"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestPanicIsLoggedNotLeaked(t *testing.T) {
	e := newEnv(t)
	e.srv.App().Get("/test-panic", func(*fiber.Ctx) error { panic("db password is hunter2") })
	resp, body := e.do("GET", "/test-panic", nil)
	p := decodeProblem(t, resp, body, 500)
	if strings.Contains(string(body), "hunter2") || p.Detail != genericDetail {
		t.Fatalf("panic leaked: %s", body)
	}
}

func TestUnknownRouteIsProblem(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/api/v1/nope", nil)
	decodeProblem(t, resp, body, 404)
}

func TestStaticPage(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/", nil, "Host", "phone.example.test:8443")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	h := resp.Header
	if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Errorf("security headers missing: %v", h)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "connect-src 'self' wss://phone.example.test:8443 ws://phone.example.test:8443"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// Only /widget may be framed by CRM origins; the full page only by us.
	if !strings.HasSuffix(csp, "; frame-ancestors 'self'") || strings.Count(csp, "frame-ancestors") != 1 {
		t.Errorf("page CSP %q: want frame-ancestors 'self' and nothing wider", csp)
	}

	etag := h.Get("ETag")
	resp, _ = e.do("GET", "/", nil, "If-None-Match", etag)
	if resp.StatusCode != 304 {
		t.Errorf("conditional GET: %d, want 304", resp.StatusCode)
	}

	resp, _ = e.do("GET", "/softphone.js", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("softphone.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = e.do("GET", "/softphone.css", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("softphone.css: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp, _ = e.do("GET", "/embed.go", nil)
	if resp.StatusCode != 404 {
		t.Errorf("embed.go served: %d", resp.StatusCode)
	}
}

func TestPageCSPRefusesHostileHost(t *testing.T) {
	csp := pageCSP(`evil.test; script-src *`)
	if strings.Contains(csp, "evil") {
		t.Fatalf("Host injected into CSP: %q", csp)
	}
}

// The edge talks to the voice path only through cti; importing media would
// let HTTP code reach around the call-center core.
func TestNoMediaImports(t *testing.T) {
	const module = "github.com/ringbridge/ringbridge"
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	seen := map[string]bool{}
	var walk func(path string, chain []string)
	walk = func(path string, chain []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if path == module+"/media" || strings.HasPrefix(path, module+"/media/") {
			t.Errorf("server depends on %s via %s", path, strings.Join(chain, " -> "))
			return
		}
		dir := filepath.Join(root, filepath.FromSlash(strings.TrimPrefix(path, module)))
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, module+"/") {
				walk(imp, append(chain, imp))
			}
		}
	}
	walk(module+"/server", []string{"server"})
	if !seen[module+"/cti"] {
		t.Fatal("import walk did not reach cti; the check is broken")
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeTestCert(t)
	e := newEnv(t, func(c *Config) { c.TLSCertFile, c.TLSKeyFile = certFile, keyFile })
	e.listen()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + e.addr + "/healthz")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}

	d := fws.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.DialContext(t.Context(), "wss://"+e.addr+"/ws/agent", http.Header{"Origin": {"https://" + e.addr}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	_ = conn.Close()
}

// writeTestCert writes a self-signed P-256 certificate for 127.0.0.1.
func writeTestCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ringbridge test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// /metrics is never public on the main port: without a token configured
// it is not there, and with one it needs that token.
func TestMetricsProtected(t *testing.T) {
	e := newEnv(t)
	if resp, _ := e.do("GET", "/metrics", nil); resp.StatusCode != 404 {
		t.Fatalf("metrics without a configured token: %d, want 404", resp.StatusCode)
	}
	e = newEnv(t, withMetricsToken)
	for _, h := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "Basic " + testMetricsToken}} {
		resp, body := e.do("GET", "/metrics", nil, h...)
		decodeProblem(t, resp, body, 401)
		if strings.Contains(string(body), "ringbridge_") {
			t.Fatalf("metrics leaked: %s", body)
		}
	}
}
