package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ringbridge/ringbridge/cti"
)

func TestLoginByUsernameAndExtension(t *testing.T) {
	e := newEnv(t)
	for _, login := range []string{"alice", "1001"} {
		tr := e.login(login)
		if tr.TokenType != "Bearer" || tr.AccessToken == "" || tr.RefreshToken == "" {
			t.Fatalf("login %s: incomplete response %+v", login, tr)
		}
		if tr.ExpiresIn != int64(DefaultAccessTTL/time.Second) {
			t.Errorf("expiresIn %d, want %d", tr.ExpiresIn, int64(DefaultAccessTTL/time.Second))
		}
		want := userJSON{ID: e.users["alice"].ID, TenantID: testTenant, Username: "alice",
			DisplayName: "Alice", Extension: "1001", Role: cti.RoleAgent}
		if tr.User != want {
			t.Errorf("user %+v, want %+v", tr.User, want)
		}
		p, err := e.srv.tokens.verify(tr.AccessToken)
		if err != nil {
			t.Fatalf("issued token does not verify: %v", err)
		}
		if p.UserID != want.ID || p.TenantID != testTenant || p.Extension != "1001" || p.Username != "alice" {
			t.Errorf("principal %+v", p)
		}
	}
}

func TestLoginDefaultsTenant(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("POST", "/api/v1/auth/login", `{"login":"bob","password":"`+testPassword+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// A wrong password, an unknown user and an unknown tenant must be
// indistinguishable, or the endpoint enumerates accounts.
func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t)
	cases := map[string]loginRequest{
		"wrong password": {Tenant: testTenant, Login: "alice", Password: "nope"},
		"unknown user":   {Tenant: testTenant, Login: "mallory", Password: "nope"},
		"unknown tenant": {Tenant: "other", Login: "alice", Password: testPassword},
	}
	var first string
	for name, req := range cases {
		resp, body := e.do("POST", "/api/v1/auth/login", req)
		decodeProblem(t, resp, body, 401)
		if first == "" {
			first = string(body)
		} else if string(body) != first {
			t.Errorf("%s: body %s differs from %s", name, body, first)
		}
	}
}

func TestLoginBadRequests(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, body, wantDetail string
		status                 int
	}{
		{"malformed", `{"login":"alice",`, "malformed JSON", 400},
		{"syntax", `{"login" "alice"}`, "malformed JSON at byte", 400},
		{"wrong type", `{"login":1001,"password":"x"}`, `field "login" must be a string`, 400},
		{"not an object", `["alice"]`, "expected a JSON object", 400},
		{"unknown field", `{"login":"alice","passwd":"x"}`, `unknown field "passwd"`, 400},
		{"trailing data", `{"login":"alice","password":"x"} {}`, "unexpected data", 400},
		{"empty", ``, "empty", 400},
		{"missing login", `{"password":"x"}`, "login is required", 400},
		{"missing password", `{"login":"alice"}`, "password is required", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do("POST", "/api/v1/auth/login", []byte(tc.body))
			p := decodeProblem(t, resp, body, tc.status)
			if !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("detail %q does not mention %q", p.Detail, tc.wantDetail)
			}
		})
	}
	t.Run("form post", func(t *testing.T) {
		resp, body := e.do("POST", "/api/v1/auth/login", nil,
			"Content-Type", "application/x-www-form-urlencoded")
		decodeProblem(t, resp, body, 415)
	})
}

// fasthttp rejects the body before any handler runs, and app.Test reports
// that as an error instead of a response, so this goes over a real socket.
// The request announces its oversized body and sends none of it: writing
// the body would race the server closing the connection after its 413.
func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	e.listen()
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", e.addr, bodyLimit+10)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	decodeProblem(t, resp, body, 413)
}

func TestRefreshIsSingleUse(t *testing.T) {
	e := newEnv(t)
	first := e.login("alice")

	resp, body := e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: first.RefreshToken})
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body)
	}
	var second tokenResponse
	if err := json.Unmarshal(body, &second); err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == "" || second.User.Username != "alice" {
		t.Fatalf("refresh returned %+v", second)
	}

	// The refresh token of another tenant's namespace does not resolve.
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: "other", RefreshToken: second.RefreshToken})
	decodeProblem(t, resp, body, 401)

	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{RefreshToken: second.RefreshToken})
	if resp.StatusCode != 200 {
		t.Fatalf("second refresh (default tenant): %d %s", resp.StatusCode, body)
	}
	var third tokenResponse
	if err := json.Unmarshal(body, &third); err != nil {
		t.Fatal(err)
	}

	// Replaying the first, already rotated token is refused and revokes
	// the whole family: the newest token of the chain stops working too.
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: first.RefreshToken})
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: third.RefreshToken})
	decodeProblem(t, resp, body, 401)
	// Another sign-in of the same user is another family, untouched.
	other := e.login("alice")
	resp, body = e.do("POST", "/api/v1/auth/refresh", refreshRequest{Tenant: testTenant, RefreshToken: other.RefreshToken})
	if resp.StatusCode != 200 {
		t.Fatalf("unrelated family: %d %s", resp.StatusCode, body)
	}

	resp, body = e.do("POST", "/api/v1/auth/refresh", `{"tenant":"demo"}`)
	p := decodeProblem(t, resp, body, 400)
	if !strings.Contains(p.Detail, "refreshToken") {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/api/v1/me", nil)
	decodeProblem(t, resp, body, 401)
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}

	tr := e.login("bob")
	resp, body = e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+tr.AccessToken)
	if resp.StatusCode != 200 {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}
	var me principalJSON
	if err := json.Unmarshal(body, &me); err != nil {
		t.Fatal(err)
	}
	want := principalJSON{TenantID: testTenant, UserID: e.users["bob"].ID, Username: "bob", Extension: "1002", Role: cti.RoleAgent, Teams: []string{}}
	if !reflect.DeepEqual(me, want) {
		t.Errorf("me %+v, want %+v", me, want)
	}

	// The scheme is case-insensitive (RFC 9110 §11.1).
	resp, body = e.do("GET", "/api/v1/me", nil, "Authorization", "bearer "+tr.AccessToken)
	if resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %d %s", resp.StatusCode, body)
	}
}

func claimsFor(p cti.Principal, now time.Time, ttl time.Duration) accessClaims {
	return accessClaims{
		TenantID: p.TenantID, Extension: p.Extension, Role: p.Role, Username: p.Username,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: jwtIssuer, Subject: p.UserID, Audience: jwt.ClaimStrings{jwtAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)), IssuedAt: jwt.NewNumericDate(now), ID: "test",
		},
	}
}

func sign(t *testing.T, m jwt.SigningMethod, c jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func TestRejectedTokens(t *testing.T) {
	e := newEnv(t)
	p := principalFor(e.users["alice"])
	now := time.Now()
	noExp := claimsFor(p, now, time.Hour)
	noExp.ExpiresAt = nil
	wrongAud := claimsFor(p, now, time.Hour)
	wrongAud.Audience = jwt.ClaimStrings{"someone-else"}
	wrongIss := claimsFor(p, now, time.Hour)
	wrongIss.Issuer = "evil"

	tokens := map[string]string{
		"expired":      sign(t, jwt.SigningMethodHS256, claimsFor(p, now.Add(-time.Hour), 15*time.Minute), testSecret),
		"alg none":     sign(t, jwt.SigningMethodNone, claimsFor(p, now, time.Hour), jwt.UnsafeAllowNoneSignatureType),
		"other secret": sign(t, jwt.SigningMethodHS256, claimsFor(p, now, time.Hour), []byte("another-secret-that-is-32-bytes-long!")),
		"HS512":        sign(t, jwt.SigningMethodHS512, claimsFor(p, now, time.Hour), testSecret),
		"no exp":       sign(t, jwt.SigningMethodHS256, noExp, testSecret),
		"wrong aud":    sign(t, jwt.SigningMethodHS256, wrongAud, testSecret),
		"wrong iss":    sign(t, jwt.SigningMethodHS256, wrongIss, testSecret),
		"garbage":      "not.a.jwt",
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			if _, err := e.srv.tokens.verify(tok); err == nil {
				t.Fatal("verify accepted the token")
			}
			resp, body := e.do("GET", "/api/v1/me", nil, "Authorization", "Bearer "+tok)
			decodeProblem(t, resp, body, 401)
		})
	}
	// Control: the same construction with valid parameters is accepted.
	good := sign(t, jwt.SigningMethodHS256, claimsFor(p, now, time.Hour), testSecret)
	if _, err := e.srv.tokens.verify(good); err != nil {
		t.Fatalf("control token refused: %v", err)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	e := newEnv(t)
	if _, err := New(Config{JWTSecret: []byte("short")}, e.svc, nil, nil); err == nil {
		t.Error("short JWT secret accepted")
	}
	if _, err := New(Config{JWTSecret: testSecret, TLSCertFile: "x.pem"}, e.svc, nil, nil); err == nil {
		t.Error("certificate without key accepted")
	}
	if _, err := New(Config{JWTSecret: testSecret, AllowedOrigins: []string{"*"}}, e.svc, nil, nil); err == nil {
		t.Error("wildcard origin accepted")
	}
	// Registering the same metrics twice on one registry must fail loudly.
	if _, err := New(Config{JWTSecret: testSecret}, e.svc, e.reg, nil); err == nil {
		t.Error("duplicate metrics registration accepted")
	}
}
