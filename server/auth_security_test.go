package server

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/server/wsproto"
)

// fakeClock is a settable clock for the throttle.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func (e *env) loginAs(tenant, login, password string) (*http.Response, []byte) {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: tenant, Login: login, Password: password})
}

// Brute force against one account: free failures, then 429 with a growing
// Retry-After without the password being checked, then a lockout that
// refuses even the right password — and that expires.
func TestLoginBruteForceThrottledThenLockedThenReleased(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{IPFree: 1000} })
	clk := newFakeClock()
	e.srv.throttle.now = clk.now

	for i := range 5 {
		resp, body := e.loginAs(testTenant, "alice", fmt.Sprint("guess", i))
		decodeProblem(t, resp, body, 401)
	}
	// The 6th failure still is an answer, and starts the backoff.
	resp, body := e.loginAs(testTenant, "alice", "guess5")
	decodeProblem(t, resp, body, 401)
	resp, body = e.loginAs(testTenant, "alice", testPassword) // even the right one waits
	p := decodeProblem(t, resp, body, 429)
	if resp.Header.Get("Retry-After") != "1" || !strings.Contains(p.Detail, "try again in 1 s") {
		t.Fatalf("first backoff: Retry-After %q, detail %q", resp.Header.Get("Retry-After"), p.Detail)
	}
	// Each further failure doubles the wait.
	var last int
	for i, want := range []int{2, 4, 8} {
		clk.advance(time.Duration(1<<i) * time.Second)
		resp, body = e.loginAs(testTenant, "alice", "again")
		decodeProblem(t, resp, body, 401)
		resp, body = e.loginAs(testTenant, "alice", "again")
		decodeProblem(t, resp, body, 429)
		last, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
		if last != want {
			t.Fatalf("backoff step %d: Retry-After %d, want %d", i, last, want)
		}
	}
	// The 10th failure locks the account for 15 minutes.
	clk.advance(time.Duration(last) * time.Second)
	resp, body = e.loginAs(testTenant, "alice", "again")
	decodeProblem(t, resp, body, 401)
	resp, body = e.loginAs(testTenant, "alice", testPassword)
	p = decodeProblem(t, resp, body, 429)
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra != 900 || !strings.Contains(p.Detail, "locked") {
		t.Fatalf("lockout: Retry-After %d, detail %q", ra, p.Detail)
	}
	// Over HTTP Basic the lock holds as well (an admin account here).
	failures := 0
	for range 30 {
		resp, _ = e.do("GET", "/api/v1/me", nil, "Authorization", basicAuth("admin", "wrong"))
		if resp.StatusCode == 401 {
			failures++
			continue
		}
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || ra >= 900 {
			break
		}
		clk.advance(time.Duration(ra) * time.Second) // wait as told, then guess again
	}
	if failures != 10 {
		t.Fatalf("Basic: %d wrong passwords checked before the lockout, want 10", failures)
	}
	resp, body = e.do("GET", "/api/v1/me", nil, "Authorization", basicAuth("admin", testPassword))
	decodeProblem(t, resp, body, 429)

	// Other accounts are not affected by alice's lock.
	if resp, body := e.loginAs(testTenant, "bob", testPassword); resp.StatusCode != 200 {
		t.Fatalf("bob during alice's lockout: %d %s", resp.StatusCode, body)
	}
	// The lock expires: the real user gets in, and the count starts afresh.
	clk.advance(15*time.Minute + time.Second)
	if resp, body := e.loginAs(testTenant, "alice", testPassword); resp.StatusCode != 200 {
		t.Fatalf("after the lockout: %d %s", resp.StatusCode, body)
	}
	resp, body = e.loginAs(testTenant, "alice", "one slip")
	decodeProblem(t, resp, body, 401)
	if resp, body := e.loginAs(testTenant, "alice", testPassword); resp.StatusCode != 200 {
		t.Fatalf("one failure after success must not throttle: %d %s", resp.StatusCode, body)
	}
}

// Spraying many accounts from one address hits the per-IP limit.
func TestLoginThrottledPerIP(t *testing.T) {
	e := newEnv(t)
	clk := newFakeClock()
	e.srv.throttle.now = clk.now
	got429 := -1
	for i := range 30 {
		resp, _ := e.loginAs(testTenant, fmt.Sprint("user", i), "pw")
		if resp.StatusCode == 429 {
			got429 = i
			break
		}
		if resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	if got429 != 21 {
		t.Fatalf("first 429 at attempt %d, want 21 (20 free, the 21st starts the backoff)", got429)
	}
}

func basicAuth(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// loginFloodHeapBound and loginFloodRSSBound are the documented bounds
// (docs/security.md): 100 parallel logins for unknown users may grow the
// heap in use, and the process's resident memory, by at most this much.
// Unbounded they need 100 × 19 MiB ≈ 1.9 GiB; the pool lets
// HashConcurrency (≤ 4) run at once. Under -race the detector's shadow
// memory inflates RSS (not the heap) about threefold, hence its own bound.
const (
	loginFloodHeapBound    = 160 << 20
	loginFloodRSSBound     = 256 << 20
	loginFloodRSSBoundRace = 640 << 20
)

// residentBytes reads the process's resident set size (Linux).
func residentBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

func TestLoginFloodKeepsMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2 flood")
	}
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{IPFree: 10_000, AccountFree: 10_000} })
	e.listen()
	// The equaliser hash is computed once per process; not part of the flood.
	if _, err := dummyHash(); err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseRSS := residentBytes(t)

	stop := make(chan struct{})
	peak := make(chan [2]int64, 1)
	go func() {
		var maxInuse, maxRSS int64
		var ms runtime.MemStats
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			maxInuse = max(maxInuse, int64(ms.HeapInuse))
			maxRSS = max(maxRSS, residentBytes(t))
			select {
			case <-stop:
				peak <- [2]int64{maxInuse, maxRSS}
				return
			case <-tick.C:
			}
		}
	}()

	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 100}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"tenant":"demo","login":"nobody%d","password":"guess"}`, i)
			resp, err := client.Post("http://"+e.addr+"/api/v1/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Errorf("login %d: %v", i, err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
			if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
		}()
	}
	wg.Wait()
	close(stop)
	p := <-peak
	growth, rssGrowth := p[0]-int64(base.HeapInuse), p[1]-baseRSS
	rssBound := int64(loginFloodRSSBound)
	if raceEnabled {
		rssBound = loginFloodRSSBoundRace
	}
	t.Logf("100 parallel unknown-user logins: answers %v, peak heap in use +%.1f MiB (bound %d MiB), peak RSS +%.1f MiB (bound %d MiB)",
		codes, float64(growth)/(1<<20), loginFloodHeapBound>>20, float64(rssGrowth)/(1<<20), rssBound>>20)
	if growth > loginFloodHeapBound {
		t.Errorf("heap grew by %.1f MiB during the flood, over the %d MiB bound", float64(growth)/(1<<20), loginFloodHeapBound>>20)
	}
	if rssGrowth > rssBound {
		t.Errorf("RSS grew by %.1f MiB during the flood, over the %d MiB bound", float64(rssGrowth)/(1<<20), rssBound>>20)
	}
	if codes[401]+codes[503] != 100 || codes[401] == 0 {
		t.Fatalf("answers %v: want only 401 (checked) and 503 (pool full), some 401", codes)
	}
}

// A saturated pool answers 503 with Retry-After instead of queueing
// without bound.
func TestLoginPoolFullIs503(t *testing.T) {
	e := newEnv(t, func(c *cti.Config) { c.HashConcurrency, c.HashQueue = 1, -1 })
	slow, err := cti.HashPassword("x")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the only slot busy, as a long stream of sign-ins would.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = e.svc.Passwords().Verify(context.Background(), slow, "x")
			}
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := e.loginAs(testTenant, "alice", testPassword)
		if resp.StatusCode == 503 {
			decodeProblem(t, resp, body, 503)
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool never reported full: %d %s", resp.StatusCode, body)
		}
	}
	close(stop)
	<-done
	if resp, body := e.loginAs(testTenant, "alice", testPassword); resp.StatusCode != 200 {
		t.Fatalf("after the pool drained: %d %s", resp.StatusCode, body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: testTenant, Login: "alice", Password: testPassword})
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token response Cache-Control %q, want no-store", cc)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("HSTS on plain HTTP: %q", h)
	}
	tr := e.login("alice")
	resp, _ = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: tr.RefreshToken})
	if cc := resp.Header.Get("Cache-Control"); resp.StatusCode != 200 || cc != "no-store" {
		t.Errorf("refresh: %d, Cache-Control %q", resp.StatusCode, cc)
	}

	dir := t.TempDir()
	cert, key, err := EnsureSelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	e = newEnv(t, func(c *Config) { c.TLSCertFile, c.TLSKeyFile = cert, key })
	resp, _ = e.do("GET", "/healthz", nil)
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("HSTS with TLS: %q", h)
	}
	e = newEnv(t, func(c *Config) { c.ExternalTLS = true })
	resp, _ = e.do("GET", "/", nil)
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Errorf("HSTS behind a TLS proxy: %q", h)
	}
}

// execSQL changes rows the way another process (or the administration
// code) would, behind the service's back.
func (e *env) execSQL(query string, args ...any) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.db+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(e.t.Context(), query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// waitStatus polls until path answers status for the token, or fails.
func (e *env) waitStatus(path, token string, status int, within time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		resp, body := e.do("GET", path, nil, bearer(token)...)
		if resp.StatusCode == status {
			return time.Since(start)
		}
		if time.Since(start) > within {
			e.t.Fatalf("%s still %d (%s) after %s, want %d", path, resp.StatusCode, body, within, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectRevoked waits for the websocket to be told and closed.
func expectRevoked(t *testing.T, c *wsClient, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.conn.SetReadDeadline(start.Add(within))
	var sawError bool
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			if !sawError || !strings.Contains(err.Error(), "4401") {
				t.Fatalf("websocket ended with %v after %s (revoked error seen: %v), want close 4401", err, time.Since(start), sawError)
			}
			return time.Since(start)
		}
		var m wsproto.Message
		_ = json.Unmarshal(b, &m)
		if m.Type == wsproto.TypeError && m.Code == wsproto.CodeRevoked && m.Message != "" {
			sawError = true
		}
	}
}

func TestRevokedUsersLoseRESTAndWebsocketWithinSeconds(t *testing.T) {
	const within = 3 * time.Second
	e := newEnv(t, func(c *Config) { c.AuthRecheck = 250 * time.Millisecond },
		func(c *cti.Config) { c.AccessCacheTTL = 500 * time.Millisecond })
	e.listen()
	ctx := t.Context()

	t.Run("revoked", func(t *testing.T) {
		tok := e.login("alice")
		ws, _ := e.connectAgent("alice")
		e.waitStatus("/api/v1/me", tok.AccessToken, 200, 0)
		if err := e.svc.RevokeUserSessions(ctx, testTenant, e.users["alice"].ID); err != nil {
			t.Fatal(err)
		}
		// In-process revocation is immediate.
		resp, body := e.do("GET", "/api/v1/me", nil, bearer(tok.AccessToken)...)
		decodeProblem(t, resp, body, 401)
		took := expectRevoked(t, ws, within)
		t.Logf("revoked websocket closed after %s", took)
		resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: tok.RefreshToken})
		decodeProblem(t, resp, body, 401)
		// Signing in again works and yields tokens of the new epoch.
		again := e.login("alice")
		e.waitStatus("/api/v1/me", again.AccessToken, 200, 0)
	})

	t.Run("disabled", func(t *testing.T) {
		tok := e.login("alice")
		ws, _ := e.connectAgentWith("alice", true)
		e.execSQL(`UPDATE users SET disabled_at = ? WHERE id = ?`, time.Now().UTC().Format(time.RFC3339Nano), e.users["alice"].ID)
		took := e.waitStatus("/api/v1/me", tok.AccessToken, 401, within)
		wsTook := expectRevoked(t, ws, within)
		t.Logf("disabled: REST refused after %s, websocket closed after %s", took, wsTook)
		resp, body := e.loginAs(testTenant, "alice", testPassword)
		if p := decodeProblem(t, resp, body, 403); !strings.Contains(p.Detail, "disabled") {
			t.Fatalf("login of a disabled user: %q", p.Detail)
		}
		resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: tok.RefreshToken})
		decodeProblem(t, resp, body, 401)
	})

	t.Run("demoted", func(t *testing.T) {
		tok := e.login("bob")
		ws, _ := e.connectAgent("bob")
		e.execSQL(`UPDATE users SET role = 'supervisor' WHERE id = ?`, e.users["bob"].ID)
		e.waitStatus("/api/v1/me", tok.AccessToken, 401, within)
		expectRevoked(t, ws, within)
	})

	t.Run("deleted", func(t *testing.T) {
		tok := e.login("admin")
		e.waitStatus("/api/v1/me", tok.AccessToken, 200, 0)
		e.execSQL(`DELETE FROM users WHERE id = ?`, e.users["admin"].ID)
		e.waitStatus("/api/v1/me", tok.AccessToken, 401, within)
		resp, _ := e.do("GET", "/api/v1/me", nil, "Authorization", basicAuth("admin", testPassword))
		if resp.StatusCode != 401 {
			t.Fatalf("deleted user over Basic: %d", resp.StatusCode)
		}
	})
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	a := e.login("bob")
	b := e.login("bob")
	resp, body := e.do("POST", "/api/v1/auth/logout", logoutRequest{Tenant: testTenant, RefreshToken: a.RefreshToken})
	if resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: a.RefreshToken})
	decodeProblem(t, resp, body, 401)
	// The other device is still signed in ...
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: b.RefreshToken})
	if resp.StatusCode != 200 {
		t.Fatalf("other device after logout: %d %s", resp.StatusCode, body)
	}
	var b2 tokenResponse
	_ = json.Unmarshal(body, &b2)
	// ... until it signs out everywhere, which also ends access tokens.
	resp, body = e.do("POST", "/api/v1/auth/logout", logoutRequest{Everywhere: true}, bearer(b2.AccessToken)...)
	if resp.StatusCode != 204 {
		t.Fatalf("logout everywhere: %d %s", resp.StatusCode, body)
	}
	for _, tok := range []string{a.AccessToken, b2.AccessToken} {
		resp, body = e.do("GET", "/api/v1/me", nil, bearer(tok)...)
		decodeProblem(t, resp, body, 401)
	}
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: b2.RefreshToken})
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("POST", "/api/v1/auth/logout", `{}`)
	decodeProblem(t, resp, body, 400)
}

// An API key's name becomes a login; it must not capture an agent's
// extension at sign-in.
func TestAPIKeyNameCannotShadowAnExtension(t *testing.T) {
	e := newEnv(t)
	admin := bearer(e.login("admin").AccessToken)
	for name, status := range map[string]int{"1001": 400, "+1001": 400, "9999": 400, "alice": 409} {
		resp, body := e.do("POST", "/api/v1/api-keys", map[string]string{"name": name}, admin...)
		decodeProblem(t, resp, body, status)
	}
	if _, err := e.store.FindUserByLogin(t.Context(), testTenant, "1001"); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.store.FindUserByLogin(t.Context(), testTenant, "1001"); u.Username != "alice" {
		t.Fatalf("login 1001 resolves to %q, want alice", u.Username)
	}
}

// Expired refresh tokens (used or not) are pruned by the server's janitor,
// which runs as soon as the server serves.
func TestExpiredRefreshTokensPruned(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i, d := range []time.Duration{-time.Hour, -time.Second, time.Hour} {
		tok := &cti.RefreshToken{TenantID: testTenant, UserID: e.users["bob"].ID, Hash: fmt.Sprint("prune", i), ExpiresAt: time.Now().Add(d)}
		if err := e.store.CreateRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		db, err := sql.Open("sqlite", "file:"+e.db+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM refresh_tokens WHERE hash LIKE 'prune%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("%d tokens before serving", n)
	}
	e.listen()
	deadline := time.Now().Add(5 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d tokens left, want only the live one", count())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Guesses sent in parallel are throttled like sequential ones: an attempt
// is charged when admitted, not when its (slow) hash is done.
func TestParallelGuessesThrottled(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{IPFree: 1000} })
	clk := newFakeClock()
	e.srv.throttle.now = clk.now
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.loginAs(testTenant, "alice", fmt.Sprint("parallel", i))
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[401] != 6 || codes[429] != 14 {
		t.Fatalf("20 parallel guesses answered %v, want 6 checked (401) and 14 throttled (429)", codes)
	}
}
