package server

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// withWebhooks attaches an outbox on the env's store to the server.
func (e *env) withWebhooks(limits webhook.Limits) *webhook.Outbox {
	e.t.Helper()
	// Test receivers are on loopback: allow-listed explicitly, as an
	// operator would for an on-premises CRM.
	ob, err := webhook.Open(context.Background(), e.store.Webhooks(), webhook.Options{Log: testLogger(), Limits: limits,
		AllowPrivate: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Resolver: noDNS{}})
	if err != nil {
		e.t.Fatalf("webhook.Open: %v", err)
	}
	if err := ob.Start(); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
	e.t.Cleanup(func() { _ = ob.Close() }) // runs before newEnv closes the store
	e.srv.cfg.Webhooks = ob
	return ob
}

// tenantAdmin creates tenant id with an admin and returns its access token.
func (e *env) tenantAdmin(id string) string {
	e.t.Helper()
	ctx := context.Background()
	if err := e.store.CreateTenant(ctx, &cti.Tenant{ID: id, Name: id}); err != nil {
		e.t.Fatalf("CreateTenant: %v", err)
	}
	hash, _ := testHash()
	if err := e.store.CreateUser(ctx, &cti.User{TenantID: id, Username: "admin", Role: cti.RoleAdmin, PasswordHash: hash}); err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	resp, body := e.do("POST", "/api/v1/auth/login", loginRequest{Tenant: id, Login: "admin", Password: testPassword})
	if resp.StatusCode != 200 {
		e.t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var tr tokenResponse
	_ = json.Unmarshal(body, &tr)
	return tr.AccessToken
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func decodeInto(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
}

func TestWebhookAPICRUD(t *testing.T) {
	e := newEnv(t)
	e.withWebhooks(webhook.DefaultLimits)
	auth := bearer(e.login("admin").AccessToken)

	resp, body := e.do("POST", "/api/v1/webhooks", map[string]any{
		"url": "https://crm.example.com/calls", "description": "Zendesk", "events": []string{"call.ended", "recording.ready"},
		"auth":      map[string]any{"type": "basic", "username": "rb", "password": "pw"},
		"fields":    []string{"call.id", "call.from"},
		"retry":     map[string]any{"retries": 3, "intervals": []string{"10s", "1m"}},
		"rateLimit": map[string]any{"perMinute": 400, "perDay": 2500},
		"batchSize": 10,
	}, auth...)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var created map[string]any
	decodeInto(t, body, &created)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(id, "whk_") || resp.Header.Get("Location") != "/api/v1/webhooks/"+id {
		t.Fatalf("id %q, Location %q", id, resp.Header.Get("Location"))
	}
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || created["tenantId"] != testTenant || created["method"] != "POST" || created["timeout"] != "10s" {
		t.Fatalf("created %s", body)
	}
	if a := created["auth"].(map[string]any); a["password"] != nil || a["username"] != "rb" {
		t.Fatalf("auth in response %v: the password is write-only", a)
	}

	// GET never shows the secret again, only a hint.
	resp, body = e.do("GET", "/api/v1/webhooks/"+id, nil, auth...)
	if resp.StatusCode != 200 || strings.Contains(string(body), secret) || strings.Contains(string(body), `"pw"`) {
		t.Fatalf("get: %d %s", resp.StatusCode, body)
	}
	var got map[string]any
	decodeInto(t, body, &got)
	if hint := got["secretHint"].(string); !strings.HasSuffix(secret, hint[len("whsec_…"):]) {
		t.Fatalf("secret hint %q for %q", hint, secret)
	}
	if _, ok := got["deliveries"]; ok {
		t.Fatalf("a new endpoint has no deliveries: %s", body)
	}

	resp, body = e.do("GET", "/api/v1/webhooks", nil, auth...)
	var list listJSON[map[string]any]
	decodeInto(t, body, &list)
	if resp.StatusCode != 200 || len(list.Items) != 1 || list.Items[0]["id"] != id || list.Items[0]["secret"] != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}

	// PUT without the password keeps it.
	resp, body = e.do("PUT", "/api/v1/webhooks/"+id, map[string]any{
		"url": "https://crm.example.com/v2", "events": []string{"*"}, "method": "GET",
		"auth": map[string]any{"type": "basic", "username": "rb"},
	}, auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("put: %d %s", resp.StatusCode, body)
	}
	ep, err := e.srv.cfg.Webhooks.Endpoint(context.Background(), testTenant, id)
	if err != nil || ep.Config.Auth.Password != "pw" || ep.Config.URL != "https://crm.example.com/v2" || ep.Secret != secret {
		t.Fatalf("after PUT: %+v %v", ep, err)
	}

	// What GET returned can be sent back with a change.
	_, body = e.do("GET", "/api/v1/webhooks/"+id, nil, auth...)
	var round map[string]any
	decodeInto(t, body, &round)
	round["description"] = "round trip"
	resp, body = e.do("PUT", "/api/v1/webhooks/"+id, round, auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("put what GET returned: %d %s", resp.StatusCode, body)
	}
	round["id"] = "whk_other"
	resp, body = e.do("PUT", "/api/v1/webhooks/"+id, round, auth...)
	decodeProblem(t, resp, body, 400)
	delete(round, "id")
	round["secret"] = "whsec_mine"
	resp, body = e.do("PUT", "/api/v1/webhooks/"+id, round, auth...)
	decodeProblem(t, resp, body, 400)

	resp, _ = e.do("DELETE", "/api/v1/webhooks/"+id, nil, auth...)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	resp, body = e.do("GET", "/api/v1/webhooks/"+id, nil, auth...)
	decodeProblem(t, resp, body, 404)
}

func TestWebhookAPIValidation(t *testing.T) {
	e := newEnv(t)
	e.withWebhooks(webhook.DefaultLimits)
	auth := bearer(e.login("admin").AccessToken)
	cases := []struct {
		body any
		want string
	}{
		{map[string]any{"events": []string{"call.ended"}}, "url: is required"},
		{map[string]any{"url": "javascript:alert(1)", "events": []string{"*"}}, `url: scheme must be http or https, not "javascript"`},
		{map[string]any{"url": "https://crm/x", "events": []string{"call.maybe"}}, `events[0]: unknown event type "call.maybe"`},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "retry": map[string]any{"intervals": []string{"1s", "2 weeks"}}}, `retry.intervals[1]: "2 weeks" is not a duration`},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "retry": map[string]any{"intervals": []string{"100ms"}}}, "retry.intervals[0]: must be between 1s and 24h0m0s"},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "batchSize": 0.5}, `field "batchSize" must be a number`},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "colour": "red"}, `unknown field "colour"`},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "method": "GET", "batchSize": 3}, "batching needs method POST"},
		{map[string]any{"url": "https://crm/x", "events": []string{"*"}, "rateLimit": map[string]any{"perMinute": -4}}, "rateLimit.perMinute: must be between 0 (no limit) and 100000, got -4"},
		{`{"url":`, "malformed JSON"},
	}
	for _, c := range cases {
		resp, body := e.do("POST", "/api/v1/webhooks", c.body, auth...)
		p := decodeProblem(t, resp, body, 400)
		if !strings.Contains(p.Detail, c.want) {
			t.Errorf("body %v: detail %q, want %q", c.body, p.Detail, c.want)
		}
	}
	resp, body := e.do("POST", "/api/v1/webhooks", nil, append(auth, "Content-Type", "text/plain")...)
	decodeProblem(t, resp, body, 415)
	resp, body = e.do("GET", "/api/v1/webhooks/whk_x/deliveries?status=lost", nil, auth...)
	decodeProblem(t, resp, body, 400)
}

func TestWebhookAPIRoles(t *testing.T) {
	e := newEnv(t)
	e.withWebhooks(webhook.DefaultLimits)
	resp, body := e.do("GET", "/api/v1/webhooks", nil)
	decodeProblem(t, resp, body, 401)
	resp, body = e.do("GET", "/api/v1/webhooks", nil, bearer(e.login("alice").AccessToken)...)
	if p := decodeProblem(t, resp, body, 403); !strings.Contains(p.Detail, "may not manage webhooks") {
		t.Fatalf("agent: %q", p.Detail)
	}
	crm := &cti.User{TenantID: testTenant, Username: "crm", Role: cti.RoleAPI}
	if err := e.store.CreateUser(t.Context(), crm); err != nil {
		t.Fatal(err)
	}
	api, _, err := e.srv.tokens.issue(cti.Principal{TenantID: testTenant, UserID: crm.ID, Username: "crm", Role: cti.RoleAPI})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = e.do("GET", "/api/v1/webhooks", nil, bearer(api)...)
	if resp.StatusCode != 200 {
		t.Fatalf("API user: %d %s", resp.StatusCode, body)
	}

	// Without an outbox the routes say so.
	e.srv.cfg.Webhooks = nil
	resp, body = e.do("GET", "/api/v1/webhooks", nil, bearer(api)...)
	decodeProblem(t, resp, body, 503)
}

func TestWebhookAPITenantIsolation(t *testing.T) {
	e := newEnv(t)
	ob := e.withWebhooks(webhook.DefaultLimits)
	a := bearer(e.login("admin").AccessToken)
	b := bearer(e.tenantAdmin("other"))
	resp, body := e.do("POST", "/api/v1/webhooks", map[string]any{"url": "https://crm-a/x", "events": []string{"*"}}, a...)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var ep map[string]any
	decodeInto(t, body, &ep)
	id := ep["id"].(string)
	if err := ob.Publish(context.Background(), cti.Event{Type: cti.EventCallEnded, TenantID: testTenant, CallID: "call_1"}); err != nil {
		t.Fatal(err)
	}
	ds, err := ob.Deliveries(context.Background(), testTenant, id, webhook.DeliveryQuery{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries %v %v", ds, err)
	}

	resp, body = e.do("GET", "/api/v1/webhooks", nil, b...)
	var list listJSON[map[string]any]
	decodeInto(t, body, &list)
	if resp.StatusCode != 200 || len(list.Items) != 0 {
		t.Fatalf("tenant b lists %s", body)
	}
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/webhooks/" + id, nil},
		{"PUT", "/api/v1/webhooks/" + id, map[string]any{"url": "https://evil/x", "events": []string{"*"}}},
		{"DELETE", "/api/v1/webhooks/" + id, nil},
		{"GET", "/api/v1/webhooks/" + id + "/deliveries", nil},
		{"POST", "/api/v1/webhooks/" + id + "/redeliver?status=parked", nil},
		{"POST", "/api/v1/webhooks/deliveries/" + ds[0].ID() + "/redeliver", nil},
	} {
		resp, body := e.do(r.method, r.path, r.body, b...)
		decodeProblem(t, resp, body, 404)
	}
	resp, _ = e.do("GET", "/api/v1/webhooks/"+id, nil, a...)
	if resp.StatusCode != 200 {
		t.Fatalf("tenant a lost its endpoint: %d", resp.StatusCode)
	}
}

func TestWebhookAPIDeliveriesAndRedelivery(t *testing.T) {
	e := newEnv(t)
	ob := e.withWebhooks(webhook.Limits{MinInterval: time.Millisecond, MaxInterval: time.Hour, MinTimeout: time.Second, MaxTimeout: time.Minute})
	auth := bearer(e.login("admin").AccessToken)
	var failing atomic.Bool
	failing.Store(true)
	var hits atomic.Int32
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		if failing.Load() {
			http.Error(w, "down for maintenance", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(crm.Close)
	resp, body := e.do("POST", "/api/v1/webhooks", map[string]any{
		"url": crm.URL, "events": []string{"*"}, "retry": map[string]any{"retries": 1, "intervals": []string{"5ms"}},
	}, auth...)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var ep map[string]any
	decodeInto(t, body, &ep)
	id := ep["id"].(string)
	for i := range 3 {
		if err := ob.Publish(context.Background(), cti.Event{ID: "evt_" + string(rune('a'+i)), Type: cti.EventCallEnded,
			TenantID: testTenant, CallID: "call_" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	parked := func() listJSON[deliveryJSON] {
		resp, body := e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?status=parked", nil, auth...)
		if resp.StatusCode != 200 {
			t.Fatalf("deliveries: %d %s", resp.StatusCode, body)
		}
		var l listJSON[deliveryJSON]
		decodeInto(t, body, &l)
		return l
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(parked().Items) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("not parked: %+v", parked())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l := parked()
	if d := l.Items[0]; d.EventID != "evt_c" || d.Attempts != 2 || d.LastStatusCode != 500 ||
		d.LastError != "HTTP 500" || d.NextAttemptAt != nil || !strings.HasPrefix(d.ID, "dlv_") {
		t.Fatalf("newest parked delivery %+v", d)
	}

	// Pages: one at a time, newest first.
	resp, body = e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?limit=2", nil, auth...)
	var page listJSON[deliveryJSON]
	decodeInto(t, body, &page)
	if resp.StatusCode != 200 || len(page.Items) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1: %s", body)
	}
	resp, body = e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?limit=2&cursor="+page.NextCursor, nil, auth...)
	var page2 listJSON[deliveryJSON]
	decodeInto(t, body, &page2)
	if resp.StatusCode != 200 || len(page2.Items) != 1 || page2.Items[0].EventID != "evt_a" || page2.NextCursor != "" {
		t.Fatalf("page 2: %s", body)
	}
	resp, body = e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?cursor=!!", nil, auth...)
	decodeProblem(t, resp, body, 400)

	// The endpoint shows its counts.
	resp, body = e.do("GET", "/api/v1/webhooks/"+id, nil, auth...)
	var got webhookJSON
	decodeInto(t, body, &got)
	if resp.StatusCode != 200 || got.Deliveries[webhook.StatusParked] != 3 {
		t.Fatalf("counts %v", got.Deliveries)
	}

	// One redelivery, then the rest in bulk, once the CRM is back.
	failing.Store(false)
	resp, body = e.do("POST", "/api/v1/webhooks/deliveries/"+l.Items[2].ID+"/redeliver", nil, auth...)
	var one deliveryJSON
	decodeInto(t, body, &one)
	if resp.StatusCode != 202 || one.Status != webhook.StatusPending || one.EventID != "evt_a" {
		t.Fatalf("redeliver one: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/api/v1/webhooks/"+id+"/redeliver?status=delivered", nil, auth...)
	decodeProblem(t, resp, body, 400)
	deadline = time.Now().Add(10 * time.Second)
	for len(parked().Items) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("single redelivery not delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, body = e.do("POST", "/api/v1/webhooks/"+id+"/redeliver", nil, auth...)
	if resp.StatusCode != 202 || string(body) != `{"redelivered":2}` {
		t.Fatalf("bulk redeliver: %d %s", resp.StatusCode, body)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, body = e.do("GET", "/api/v1/webhooks/"+id+"/deliveries?status=delivered", nil, auth...)
		var d listJSON[deliveryJSON]
		decodeInto(t, body, &d)
		if len(d.Items) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all delivered: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noDNS keeps the tests off the network: no name resolves (the delivery
// and creation checks then judge literal addresses only).
type noDNS struct{}

func (noDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Without the process-level allowlist a webhook cannot point inside: the
// API answers 400 with a field error on "url".
func TestWebhookToLoopbackRefusedAtCreation(t *testing.T) {
	e := newEnv(t)
	ob, err := webhook.Open(context.Background(), e.store.Webhooks(), webhook.Options{Log: testLogger(), Resolver: noDNS{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	e.srv.cfg.Webhooks = ob
	auth := bearer(e.login("admin").AccessToken)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost:8080/", "http://[::1]/", "http://169.254.169.254/"} {
		resp, body := e.do("POST", "/api/v1/webhooks", map[string]any{"url": u, "events": []string{"*"}}, auth...)
		p := decodeProblem(t, resp, body, 400)
		if len(p.Errors) != 1 || p.Errors[0].Field != "url" || !strings.Contains(p.Detail, "public") {
			t.Errorf("%s: %+v", u, p)
		}
	}
	resp, body := e.do("POST", "/api/v1/webhooks", map[string]any{"url": "https://93.184.215.14/hook", "events": []string{"*"}}, auth...)
	if resp.StatusCode != 201 {
		t.Fatalf("public target: %d %s", resp.StatusCode, body)
	}
}
