package server

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// Fuzz targets for what the edge parses from the network. Plain `go test`
// runs their seeds; `make fuzz` runs each for FUZZTIME.

// FuzzVerifyJWT: no input verifies unless it carries our signature, so
// whatever verifies is the one principal the seeds were signed for.
func FuzzVerifyJWT(f *testing.F) {
	iss := newTokenIssuer(testSecret, time.Hour)
	p := cti.Principal{TenantID: "demo", UserID: "usr_1", Username: "alice", Extension: "1001", Role: cti.RoleAgent, TokenEpoch: 3}
	good, _, err := iss.issue(p)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now()
	f.Add(good)
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "..", 1))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claimsFor(p, now, time.Hour)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	f.Add(none)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claimsFor(p, now, time.Hour)).SignedString(testSecret)
	f.Add(hs512)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claimsFor(p, now.Add(-2*time.Hour), time.Hour)).SignedString(testSecret)
	f.Add(expired)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := iss.verify(token)
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("token %q verified as %+v", token, got)
		}
	})
}

// FuzzParseBasic: the Authorization header of HTTP Basic.
func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{
		basicAuth("crm", "secret"), basicAuth("a:b", "c"), "Basic", "Basic !!!", "basic " + base64.StdEncoding.EncodeToString([]byte(":x")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("u:")), "Basic   " + base64.StdEncoding.EncodeToString([]byte("u:p:q")) + "  ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		user, pass, ok := parseBasic(h)
		if !ok {
			return
		}
		if user == "" || pass == "" || strings.Contains(user, ":") {
			t.Fatalf("parseBasic(%q) = %q, %q", h, user, pass)
		}
		u2, p2, ok := parseBasic(basicAuth(user, pass))
		if !ok || u2 != user || p2 != pass {
			t.Fatalf("re-encoded credentials of %q read back as %q, %q", h, u2, p2)
		}
	})
}

// FuzzOriginPolicy: an origin is accepted only for the very scheme it
// names, however the Origin and Host headers are spelled.
func FuzzOriginPolicy(f *testing.F) {
	p, err := newOriginPolicy([]string{"https://crm.example.test"}, false)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("https://pbx.example.test", "pbx.example.test:443", true)
	f.Add("http://127.0.0.1:8080", "127.0.0.1:8080", false)
	f.Add("https://crm.example.test", "x", true)
	f.Add("null", "", false)
	f.Add("http://[::1]:80", "[::1]", false)
	f.Add("HTTPS://PBX.example.test:443", "pbx.example.test", true)
	f.Fuzz(func(t *testing.T, origin, host string, https bool) {
		scheme := "http"
		if https {
			scheme = "https"
		}
		if !p.allows(origin, host, scheme) || strings.EqualFold(origin, "https://crm.example.test") {
			return
		}
		if !strings.HasPrefix(strings.ToLower(origin), scheme+"://") {
			t.Fatalf("origin %q allowed for %s://%s", origin, scheme, host)
		}
	})
}

// FuzzLoginBody: whatever arrives as a login request body is answered
// with a client error or a sign-in, never a server fault.
func FuzzLoginBody(f *testing.F) {
	e := newEnv(f)
	for _, s := range []string{
		`{"tenant":"demo","login":"alice","password":"` + testPassword + `"}`,
		`{"login":"1001","password":"x"}`, `{"login":"","password":""}`, `{"login":1}`, `{"extra":true}`,
		`{"login":"a","password":"b"} {}`, `[`, ``, `null`, `{"login":"\u0000","password":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, out := e.as(t).do("POST", "/api/v1/auth/login", body)
		switch resp.StatusCode {
		case 200:
		case 400, 401, 403, 429, 503:
			if ct := resp.Header.Get("Content-Type"); ct != problemContentType {
				t.Fatalf("%d with Content-Type %q: %s", resp.StatusCode, ct, out)
			}
		default:
			t.Fatalf("login body %q: %d %s", body, resp.StatusCode, out)
		}
	})
}

// FuzzWebhookBody: the webhook configuration as the REST API receives it.
func FuzzWebhookBody(f *testing.F) {
	e := newEnv(f)
	e.withWebhooks(webhook.DefaultLimits)
	auth := bearer(e.login("admin").AccessToken)
	for _, s := range []string{
		`{"url":"https://93.184.215.14/hook","events":["*"]}`,
		`{"url":"http://127.0.0.1:9/x","events":["call.ended"],"method":"GET","fields":["call.from"]}`,
		`{"url":"https://crm.example.test/x","events":["*"],"auth":{"type":"apiKey","in":"header","name":"X-Key","value":"k"},"retry":{"retries":3,"intervals":["1s","1m"]}}`,
		`{"url":"https://[::ffff:10.0.0.1]/","events":["*"]}`, `{"url":"http://localhost./","events":["*"]}`,
		`{"url":"https://u:p@crm/x","events":["*"]}`, `{"events":[]}`, `{"url":"https://crm/x","events":["*"],"batchSize":1e400}`,
		`{"url":"https://crm/x","events":["*"],"timeout":"-1s","rateLimit":{"perMinute":-1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, out := e.as(t).do("POST", "/api/v1/webhooks", body, auth...)
		switch resp.StatusCode {
		case 201, 400, 409:
		default:
			t.Fatalf("webhook body %q: %d %s", body, resp.StatusCode, out)
		}
	})
}

// as returns the env reporting to t: inside a fuzz target the F that
// built the env must not be used.
func (e *env) as(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}
