package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	fws "github.com/fasthttp/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

func TestMain(m *testing.M) {
	if os.Getenv("RB_SUPERVISOR_BENCH_CLIENT") != "" {
		// The client half of BenchmarkSupervisorWebsocket, in its own
		// process so the server's CPU is measured alone.
		os.Exit(runSupervisorBenchClient())
	}
	goleak.VerifyTestMain(m,
		// fasthttp refreshes its cached Date header from a goroutine that is
		// started once per process and never stops.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		// Each Serve starts a worker-pool cleaner that notices Stop only
		// after its idle sleep (10s), i.e. after the tests are over. A Serve
		// that truly failed to stop still shows up through its accept loop.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

const (
	testPassword = "correct horse battery staple"
	testTenant   = "demo"
	fakeAnswer   = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=fake\r\nt=0 0\r\n"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-test")

// testHash is computed once: argon2id is deliberately slow, and slower
// still under -race.
var testHash = sync.OnceValues(func() (string, error) { return cti.HashPassword(testPassword) })

// fakeMedia stands in for the voice path; real WebRTC is tested in media/.
type fakeMedia struct{}

func (fakeMedia) NewAgentEndpoint(_ context.Context, id string, _ cti.AgentEndpointEvents) (cti.AgentEndpoint, error) {
	return &fakeEndpoint{id: id}, nil
}

func (fakeMedia) Dial(context.Context, cti.DialRequest) (cti.OutboundLeg, error) {
	return nil, errors.New("no trunk in server tests")
}

func (fakeMedia) Connect(cti.Endpoint, cti.Endpoint) (cti.Connection, error) { return fakeConn{}, nil }

type fakeEndpoint struct{ id string }

func (e *fakeEndpoint) EndpointID() string { return e.id }
func (e *fakeEndpoint) HandleOffer(_ context.Context, sdp string) (string, error) {
	return fakeAnswer, nil
}
func (e *fakeEndpoint) AddICECandidate(cti.ICECandidate) error { return nil }
func (e *fakeEndpoint) SendDTMF(string) error                  { return nil }
func (e *fakeEndpoint) Close() error                           { return nil }

type fakeConn struct{}

func (fakeConn) Hold(bool) {}
func (fakeConn) Close()    {}

// env is a server on a real SQLite store with a seeded demo tenant.
type env struct {
	t     testing.TB
	store *sqlite.Store
	svc   *cti.Service
	srv   *Server
	reg   *prometheus.Registry
	addr  string // host:port once listen was called
	users map[string]*cti.User
	db    string // the SQLite file, for tests that change rows behind the service's back
}

func testLogger() *slog.Logger {
	if os.Getenv("RB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newEnv builds the environment; opts are func(*Config) and func(*cti.Config).
func newEnv(t testing.TB, opts ...any) *env {
	t.Helper()
	ctx := t.Context()
	dbPath := filepath.Join(t.TempDir(), "rb.db")
	store, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	e := &env{t: t, store: store, reg: prometheus.NewRegistry(), users: map[string]*cti.User{}, db: dbPath}
	e.seed()
	log := testLogger()
	var ctiCfg cti.Config
	cfg := Config{
		JWTSecret:  testSecret,
		ICEServers: []wsproto.ICEServer{{URLs: []string{"stun:stun.example.test:3478"}}},
	}
	for _, o := range opts {
		switch f := o.(type) {
		case func(*Config):
			f(&cfg)
		case func(*cti.Config):
			f(&ctiCfg)
		default:
			t.Fatalf("newEnv: unsupported option %T", o)
		}
	}
	e.svc = cti.New(ctiCfg, store, fakeMedia{}, log)
	e.srv, err = New(cfg, e.svc, e.reg, log)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.svc.Close()
		if err := store.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	return e
}

func (e *env) seed() {
	e.t.Helper()
	ctx := e.t.Context()
	hash, err := testHash()
	if err != nil {
		e.t.Fatalf("HashPassword: %v", err)
	}
	if err := e.store.CreateTenant(ctx, &cti.Tenant{ID: testTenant, Name: "Demo"}); err != nil {
		e.t.Fatalf("CreateTenant: %v", err)
	}
	for _, u := range []*cti.User{
		{Username: "alice", DisplayName: "Alice", Extension: "1001", Role: cti.RoleAgent},
		{Username: "bob", DisplayName: "Bob", Extension: "1002", Role: cti.RoleAgent},
		{Username: "admin", DisplayName: "Admin", Role: cti.RoleAdmin},
	} {
		u.TenantID, u.PasswordHash = testTenant, hash
		if err := e.store.CreateUser(ctx, u); err != nil {
			e.t.Fatalf("CreateUser %s: %v", u.Username, err)
		}
		e.users[u.Username] = u
	}
}

// listen serves the app on a loopback port; websocket tests need a real
// connection because the handler hijacks it.
func (e *env) listen() {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	e.addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	e.t.Cleanup(func() {
		// Registered after newEnv's cleanup, so it runs first: Shutdown
		// makes Serve return.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.srv.Shutdown(sctx)
		if err := <-done; err != nil {
			e.t.Errorf("Serve: %v", err)
		}
	})
}

// do runs one request through app.Test.
func (e *env) do(method, path string, body any, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader = http.NoBody
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, path, rd)
	if err != nil {
		e.t.Fatalf("NewRequest: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.srv.App().Test(req, 10_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp, data
}

func (e *env) login(login string) tokenResponse {
	e.t.Helper()
	resp, body := e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: testTenant, Login: login, Password: testPassword})
	if resp.StatusCode != 200 {
		e.t.Fatalf("login %s: %d %s", login, resp.StatusCode, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		e.t.Fatalf("login response: %v", err)
	}
	return tr
}

func decodeProblem(t testing.TB, resp *http.Response, body []byte, status int) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != problemContentType {
		t.Fatalf("Content-Type %q, want %q", ct, problemContentType)
	}
	var p problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %s: %v", body, err)
	}
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("incomplete problem %+v", p)
	}
	return p
}

// wsClient is a test agent on /ws/agent.
type wsClient struct {
	t    testing.TB
	conn *fws.Conn
}

func (e *env) origin() string { return "http://" + e.addr }

func (e *env) dialWS(origin string) (*wsClient, *http.Response, error) {
	e.t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := fws.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.DialContext(e.t.Context(), "ws://"+e.addr+"/ws/agent", h)
	if err != nil {
		return nil, resp, err
	}
	c := &wsClient{t: e.t, conn: conn}
	e.t.Cleanup(func() { _ = conn.Close() })
	return c, resp, nil
}

func (e *env) mustDialWS() *wsClient {
	e.t.Helper()
	c, _, err := e.dialWS(e.origin())
	if err != nil {
		e.t.Fatalf("dial websocket: %v", err)
	}
	return c
}

// connectAgent logs in and authenticates a websocket, returning the welcome.
func (e *env) connectAgent(login string) (*wsClient, *wsproto.Welcome) {
	e.t.Helper()
	return e.connectAgentWith(login, false)
}

func (e *env) connectAgentWith(login string, takeover bool) (*wsClient, *wsproto.Welcome) {
	e.t.Helper()
	tok := e.login(login)
	c := e.mustDialWS()
	c.send(wsproto.Message{Type: wsproto.TypeAuth, ID: "a1", Token: tok.AccessToken, Takeover: takeover})
	m := c.read()
	if m.Type != wsproto.TypeWelcome || m.Welcome == nil || m.ID != "a1" {
		e.t.Fatalf("want welcome with id a1, got %+v", m)
	}
	return c, m.Welcome
}

func (c *wsClient) send(m wsproto.Message) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) sendRaw(typ int, b []byte) {
	c.t.Helper()
	if err := c.conn.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("ws write: %v", err)
	}
}

func (c *wsClient) read() wsproto.Message {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("ws read: %v", err)
	}
	var m wsproto.Message
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("ws message %s: %v", b, err)
	}
	return m
}

// readUntil skips events until one of type typ arrives.
func (c *wsClient) readUntil(typ string) wsproto.Message {
	c.t.Helper()
	for range 20 {
		if m := c.read(); m.Type == typ {
			return m
		}
	}
	c.t.Fatalf("no %q message within 20 messages", typ)
	return wsproto.Message{}
}

// expectClose reads until the server closes and returns the messages seen
// before the close frame; the close code must be code.
func (c *wsClient) expectClose(code int) []wsproto.Message {
	c.t.Helper()
	var seen []wsproto.Message
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			var ce *fws.CloseError
			if !errors.As(err, &ce) {
				c.t.Fatalf("want close %d, got %v (after %+v)", code, err, seen)
			}
			if ce.Code != code {
				c.t.Fatalf("close code %d (%q), want %d (after %+v)", ce.Code, ce.Text, code, seen)
			}
			return seen
		}
		var m wsproto.Message
		_ = json.Unmarshal(b, &m)
		seen = append(seen, m)
	}
}
