package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

func TestMain(m *testing.M) {
	slog.SetDefault(testLogger()) // the store's migration notes
	goleak.VerifyTestMain(m)
}

// testLimits let configurations use millisecond schedules.
var testLimits = webhook.Limits{
	MinInterval: time.Millisecond,
	MaxInterval: 24 * time.Hour,
	MinTimeout:  10 * time.Millisecond,
	MaxTimeout:  time.Minute,
}

func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// env is a real SQLite file with tenants "a" and "b".
type env struct {
	t     *testing.T
	path  string
	store *sqlite.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "rb.db")}
	e.store = e.openStore()
	for _, id := range []string{"a", "b"} {
		if err := e.store.CreateTenant(context.Background(), &cti.Tenant{ID: id, Name: id}); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
	}
	return e
}

// openStore opens the file; the store is closed at cleanup unless the
// test closed it first.
func (e *env) openStore() *sqlite.Store {
	e.t.Helper()
	s, err := sqlite.Open(context.Background(), e.path)
	if err != nil {
		e.t.Fatalf("sqlite.Open: %v", err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// open returns an outbox on the env's store, closed at cleanup.
func (e *env) open(opts ...func(*webhook.Options)) *webhook.Outbox {
	e.t.Helper()
	return openOutbox(e.t, e.store, opts...)
}

func openOutbox(t *testing.T, store *sqlite.Store, opts ...func(*webhook.Options)) *webhook.Outbox {
	t.Helper()
	// The test receivers listen on loopback, which webhooks may only
	// reach through the process-level allowlist.
	o := webhook.Options{Log: testLogger(), Limits: testLimits, AllowPrivate: loopbackOnly, Resolver: fakeDNS{}}
	for _, f := range opts {
		f(&o)
	}
	ob, err := webhook.Open(context.Background(), store.Webhooks(), o)
	if err != nil {
		t.Fatalf("webhook.Open: %v", err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	return ob
}

func start(t *testing.T, ob *webhook.Outbox) {
	t.Helper()
	if err := ob.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

func create(t *testing.T, ob *webhook.Outbox, tenant string, cfg webhook.Config) *webhook.Endpoint {
	t.Helper()
	ep, err := ob.CreateEndpoint(context.Background(), tenant, cfg)
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return ep
}

func intp(n int) *int { return &n }

// callEvent is the n-th event of a call, with a recognisable id and data.
func callEvent(tenant, call string, n int, typ cti.EventType) cti.Event {
	return cti.Event{
		ID: fmt.Sprintf("evt_%s_%03d", call, n), Type: typ, TenantID: tenant, CallID: call,
		Time: time.Date(2026, 3, 1, 12, 0, 0, n*1000, time.UTC),
		Data: map[string]any{
			"call":   map[string]any{"id": call, "from": "+15550001001", "to": "+15550002002", "n": n},
			"agents": []any{map[string]any{"name": "Alice", "ext": "1001"}, map[string]any{"name": "Bob", "ext": "1002"}},
			"secret": "not for the CRM",
		},
	}
}

func publish(t *testing.T, ob *webhook.Outbox, evs ...cti.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := ob.Publish(context.Background(), ev); err != nil {
			t.Fatalf("Publish %s: %v", ev.ID, err)
		}
	}
}

// hit is one request the receiver got.
type hit struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time
	Status   int // what the receiver answered
}

// receiver plays the CRM: it records every request and answers what
// respond says (204 when respond is nil or returns 0). respond may set
// headers on w; the receiver writes the status and then body.
type receiver struct {
	mu      sync.Mutex
	hits    []hit
	body    string
	respond func(n int, h *hit, w http.ResponseWriter, r *http.Request) int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := hit{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()}
	rc.mu.Lock()
	n := len(rc.hits)
	rc.hits = append(rc.hits, h)
	respond := rc.respond
	rc.mu.Unlock()
	status := 0
	if respond != nil {
		status = respond(n, &h, w, r)
	}
	if status == 0 {
		status = http.StatusNoContent
	}
	rc.mu.Lock()
	rc.hits[n].Status = status
	reply := rc.body
	rc.mu.Unlock()
	w.WriteHeader(status)
	if status != http.StatusNoContent {
		_, _ = io.WriteString(w, reply)
	}
}

func (rc *receiver) setRespond(f func(n int, h *hit, w http.ResponseWriter, r *http.Request) int) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]hit, len(rc.hits))
	copy(out, rc.hits)
	return out
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.hits)
}

// serve starts rc on a loopback httptest server and returns its URL.
func serve(t *testing.T, rc *receiver) string {
	t.Helper()
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return srv.URL
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func counts(t *testing.T, ob *webhook.Outbox, tenant, ep string) map[webhook.Status]int {
	t.Helper()
	c, err := ob.QueueCounts(context.Background(), tenant, ep)
	if err != nil {
		t.Fatalf("QueueCounts: %v", err)
	}
	return c
}

func waitDelivered(t *testing.T, ob *webhook.Outbox, tenant, ep string, n int) {
	t.Helper()
	waitFor(t, 20*time.Second, fmt.Sprintf("%d deliveries delivered", n), func() bool {
		return counts(t, ob, tenant, ep)[webhook.StatusDelivered] == n
	})
}

// verifySignature checks Standard Webhooks headers the way a receiver
// would, written from the specification
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)
// and deliberately not using the package's signing code: the signed
// content is "id.timestamp.payload", HMAC-SHA256 keyed with the base64
// part of the whsec_ secret, sent as space-separated "v1,<base64>" entries.
func verifySignature(secret string, h http.Header, payload []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %s too far from now", ts)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(payload)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid v1 signature")
}

// pipeNet is an in-memory network for tests under testing/synctest, where
// real sockets would keep the fake clock from advancing: an http.Server
// accepts net.Pipe connections that the client's transport dials.
type pipeNet struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (p *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeNet) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeNet) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }

func (p *pipeNet) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.closed:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// servePipe runs h on an in-memory network and returns a client for it;
// stop shuts both down.
func servePipe(h http.Handler) (client *http.Client, stop func()) {
	pn := newPipeNet()
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() {
		_ = srv.Serve(pn)
		close(done)
	}()
	tr := &http.Transport{DialContext: pn.dial}
	return &http.Client{Transport: tr}, func() {
		_ = srv.Close()
		<-done
		tr.CloseIdleConnections()
	}
}

// loopbackOnly allow-lists the test receivers' addresses.
var loopbackOnly = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// fakeDNS answers from a fixed table instead of the network, so tests
// neither depend on nor wait for real DNS. Unknown names do not exist.
type fakeDNS map[string][]netip.Addr

func (d fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := d[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
