package crm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

func newClient(t *testing.T, tc TenantConfig) *Client {
	t.Helper()
	c, err := New(map[string]TenantConfig{"demo": tc}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestLookupGETSendsParamsAndAuth(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"name":"Ada Lovelace","company":"Analytical","tier":"gold","url":"https://crm.example/c/1","fields":{"ltv":1200,"vip":true,"owner":"bob"}}`)
	}))
	defer srv.Close()
	c := newClient(t, TenantConfig{LookupURL: srv.URL + "/lookup?static=1", APIKey: "s3cret"})
	card, err := c.Lookup(t.Context(), cti.LookupRequest{TenantID: "demo", CallID: "call_1", Number: "+15557654321",
		From: "15557654321", To: "+15550001001", Direction: cti.DirectionInbound, Extension: "1001", Event: cti.LookupRinging})
	if err != nil {
		t.Fatal(err)
	}
	if card == nil || card.Name != "Ada Lovelace" || card.Tier != "gold" || card.Fields["ltv"] != "1200" || card.Fields["vip"] != "true" {
		t.Fatalf("card %+v", card)
	}
	q := got.URL.Query()
	if got.Method != "GET" || q.Get("number") != "+15557654321" || q.Get("callId") != "call_1" || q.Get("event") != "ringing" ||
		q.Get("extension") != "1001" || q.Get("static") != "1" || q.Get("tenant") != "demo" {
		t.Fatalf("request %s %s", got.Method, got.URL)
	}
	if a := got.Header.Get("Authorization"); a != "Bearer s3cret" {
		t.Fatalf("Authorization %q", a)
	}
}

func TestLookupPOSTWithBasicAuthAndCustomHeader(t *testing.T) {
	var body lookupParams
	var user, pass, key string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ = r.BasicAuth()
		key = r.Header.Get("X-Api-Key")
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	c := newClient(t, TenantConfig{LookupURL: srv.URL, LookupMethod: "post", Username: "u", Password: "p"})
	card, err := c.Lookup(t.Context(), cti.LookupRequest{TenantID: "demo", Number: "+15557654321", Event: cti.LookupAnswered})
	if err != nil || card != nil {
		t.Fatalf("404 must be no match: %+v, %v", card, err)
	}
	if user != "u" || pass != "p" || body.Number != "+15557654321" || body.Event != "answered" {
		t.Fatalf("basic %q/%q body %+v", user, pass, body)
	}
	c = newClient(t, TenantConfig{LookupURL: srv.URL, APIKey: "k1", AuthHeader: "X-Api-Key"})
	if _, err := c.Lookup(t.Context(), cti.LookupRequest{TenantID: "demo"}); err != nil || key != "k1" {
		t.Fatalf("custom header %q, %v", key, err)
	}
}

func TestLookupRefusesGarbageSlownessAndBadLinks(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter){
		"html":     func(w http.ResponseWriter) { io.WriteString(w, "<html>oops</html>") },
		"500":      func(w http.ResponseWriter) { w.WriteHeader(500) },
		"redirect": func(w http.ResponseWriter) { w.Header().Set("Location", "http://evil.example/"); w.WriteHeader(302) },
		"jsurl":    func(w http.ResponseWriter) { io.WriteString(w, `{"name":"x","url":"javascript:alert(1)"}`) },
		"nested":   func(w http.ResponseWriter) { io.WriteString(w, `{"name":"x","fields":{"a":{"b":1}}}`) },
		"huge":     func(w http.ResponseWriter) { io.WriteString(w, `{"name":"`+strings.Repeat("x", MaxResponse)+`"}`) },
		"slow":     func(w http.ResponseWriter) { time.Sleep(300 * time.Millisecond); io.WriteString(w, `{"name":"late"}`) },
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w) }))
			defer srv.Close()
			c := newClient(t, TenantConfig{LookupURL: srv.URL})
			ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			card, err := c.Lookup(ctx, cti.LookupRequest{TenantID: "demo"})
			if err == nil {
				t.Fatalf("want an error, got card %+v", card)
			}
		})
	}
	// An empty object and a tenant without a URL are no match, not errors.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{}`) }))
	defer srv.Close()
	c := newClient(t, TenantConfig{LookupURL: srv.URL})
	if card, err := c.Lookup(t.Context(), cti.LookupRequest{TenantID: "demo"}); card != nil || err != nil {
		t.Fatalf("empty object: %+v, %v", card, err)
	}
	if card, err := c.Lookup(t.Context(), cti.LookupRequest{TenantID: "other"}); card != nil || err != nil {
		t.Fatalf("unconfigured tenant: %+v, %v", card, err)
	}
}

func TestRoute(t *testing.T) {
	var got routeParams
	answer := `{"extension":"1002"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(400)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	c := newClient(t, TenantConfig{RoutingURL: srv.URL})
	p := cti.CallParams{TenantID: "demo", CallID: "call_9", From: "+15557654321", To: "+15550001001", Trunk: "carrier"}
	for ans, want := range map[string]cti.RouteDecision{
		`{"extension":"1002"}`:           {Extension: "1002"},
		`{"extension":1002}`:             {Extension: "1002"},
		`{"number":"+15551112222"}`:      {Number: "+15551112222"},
		`{"queue":"sales"}`:              {Queue: "sales"},
		`{"extension":null,"queue":"x"}`: {Queue: "x"},
		`{"queue":"vip","priority":10}`:  {Queue: "vip", Priority: 10},
	} {
		answer = ans
		d, err := c.Route(t.Context(), p)
		if err != nil || d != want {
			t.Errorf("%s: %+v, %v; want %+v", ans, d, err, want)
		}
	}
	if got.CallID != "call_9" || got.From != "+15557654321" || got.Trunk != "carrier" {
		t.Fatalf("routing query sent %+v", got)
	}
	for _, ans := range []string{`{}`, `{"extension":""}`, `{"extension":"1","number":"2"}`, `[1]`, `{"extension":{}}`, `nope`,
		`{"extension":"1","priority":5}`, `{"queue":"q","priority":5000}`} {
		answer = ans
		if d, err := c.Route(t.Context(), p); err == nil {
			t.Errorf("%s: want an error, got %+v", ans, d)
		}
	}
	if _, err := c.Route(t.Context(), cti.CallParams{TenantID: "other"}); err != ErrNotConfigured {
		t.Fatalf("unconfigured: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []TenantConfig{
		{LookupURL: "ftp://x"},
		{RoutingURL: "/relative"},
		{LookupURL: "https://x", LookupMethod: "PUT"},
		{APIKey: "k", Username: "u"},
		{AuthHeader: "X-Key"},
		{APIKey: "k", AuthHeader: "bad header"},
	} {
		if _, err := New(map[string]TenantConfig{"t": tc}, nil); err == nil {
			t.Errorf("%+v accepted", tc)
		}
	}
}
