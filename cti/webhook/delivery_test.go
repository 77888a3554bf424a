package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// envelopeOf decodes one POSTed event.
func envelopeOf(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	return m
}

func TestDeliversSignedEnvelope(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u + "/hooks?source=rb", Events: []string{"call.ended"}})
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("secret %q", ep.Secret)
	}
	start(t, ob)
	ev := callEvent("a", "call_1", 1, cti.EventCallEnded)
	publish(t, ob, ev, callEvent("a", "call_1", 2, cti.EventCallRinging)) // not subscribed
	waitDelivered(t, ob, "a", ep.ID, 1)

	hits := rc.all()
	if len(hits) != 1 {
		t.Fatalf("%d requests, want 1", len(hits))
	}
	h := hits[0]
	if h.Method != "POST" || h.Path != "/hooks" || h.RawQuery != "source=rb" {
		t.Fatalf("request %s %s?%s", h.Method, h.Path, h.RawQuery)
	}
	if ct := h.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if id := h.Header.Get("webhook-id"); id != ev.ID {
		t.Fatalf("webhook-id %q, want the event id %q", id, ev.ID)
	}
	if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	env := envelopeOf(t, h.Body)
	want := map[string]any{
		"id": ev.ID, "type": "call.ended", "timestamp": "2026-03-01T12:00:00.000001Z",
		"tenantId": "a", "callId": "call_1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
	data := env["data"].(map[string]any)
	if data["secret"] != "not for the CRM" || data["call"].(map[string]any)["from"] != "+15550001001" {
		t.Errorf("data without field selection should be complete: %v", data)
	}
}

// The verifier must really verify: a tampered body, another secret or a
// stale timestamp fail.
func TestSignatureRejectsTampering(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"}})
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallAnswered))
	waitDelivered(t, ob, "a", ep.ID, 1)
	h := rc.all()[0]

	if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now()); err != nil {
		t.Fatalf("genuine request rejected: %v", err)
	}
	tampered := []byte(strings.Replace(string(h.Body), "+15550001001", "+15550009999", 1))
	if string(tampered) == string(h.Body) {
		t.Fatal("tampering changed nothing")
	}
	if err := verifySignature(ep.Secret, h.Header, tampered, time.Now()); err == nil {
		t.Error("tampered body accepted")
	}
	if err := verifySignature(webhook.NewSecret(), h.Header, h.Body, time.Now()); err == nil {
		t.Error("another secret accepted")
	}
	if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now().Add(10*time.Minute)); err == nil {
		t.Error("stale timestamp accepted")
	}
	other := h.Header.Clone()
	other.Set("webhook-id", "evt_other")
	if err := verifySignature(ep.Secret, other, h.Body, time.Now()); err == nil {
		t.Error("signature accepted for another webhook-id")
	}
}

func TestRetriesServerErrorsWithSameID(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{body: "database on fire", respond: func(n int, _ *hit, _ http.ResponseWriter, _ *http.Request) int {
		if n < 2 {
			return 500
		}
		return 200
	}}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(5), Intervals: []string{"20ms"}}})
	start(t, ob)
	ev := callEvent("a", "call_1", 1, cti.EventCallEnded)
	publish(t, ob, ev)
	waitDelivered(t, ob, "a", ep.ID, 1)

	hits := rc.all()
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3 (two 500s, then success)", len(hits))
	}
	for i, h := range hits {
		if id := h.Header.Get("webhook-id"); id != ev.ID {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, id, ev.ID)
		}
		if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now()); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	if gap := hits[1].At.Sub(hits[0].At); gap < 20*time.Millisecond {
		t.Errorf("retry after %s, before the 20ms interval", gap)
	}
	ds, err := ob.Deliveries(context.Background(), "a", ep.ID, webhook.DeliveryQuery{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("Deliveries: %v %v", ds, err)
	}
	if d := ds[0]; d.Status != webhook.StatusDelivered || d.Attempts != 3 || d.EventID != ev.ID || d.LastStatusCode != 200 {
		t.Fatalf("delivery %+v", d)
	}
	time.Sleep(50 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Fatalf("%d requests after delivery, want no more than 3", n)
	}
}

func TestTimeoutIsRetried(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{respond: func(n int, _ *hit, _ http.ResponseWriter, r *http.Request) int {
		if n == 0 {
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		return 200
	}}
	u := serve(t, rc)
	ob := e.open()
	// A loaded machine (the race detector, parallel packages) may let a
	// later attempt miss the timeout too: there are retries to spare, and
	// what is checked is that the hung request counted as a failed attempt.
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"}, Timeout: "200ms",
		Retry: webhook.Retry{Intervals: []string{"10ms", "10ms", "10ms", "10ms"}}})
	start(t, ob)
	ev := callEvent("a", "call_1", 1, cti.EventCallEnded)
	publish(t, ob, ev)
	waitDelivered(t, ob, "a", ep.ID, 1)
	hits := rc.all()
	if len(hits) < 2 {
		t.Fatalf("%d requests: the timed-out one was not retried", len(hits))
	}
	for _, h := range hits {
		if h.Header.Get("webhook-id") != ev.ID {
			t.Fatalf("retry with webhook-id %q, want %q", h.Header.Get("webhook-id"), ev.ID)
		}
	}
	ds, _ := ob.Deliveries(context.Background(), "a", ep.ID, webhook.DeliveryQuery{})
	if ds[0].Attempts != len(hits) {
		t.Fatalf("attempts %d for %d requests", ds[0].Attempts, len(hits))
	}
}

// 429 with Retry-After holds the whole endpoint back, costs no attempt,
// and everything then goes out in order.
func TestRetryAfterHoldsEndpoint(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{respond: func(n int, _ *hit, w http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return 200
	}}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(0)}}) // a 429 must not park anything
	var evs []cti.Event
	for i := range 6 {
		evs = append(evs, callEvent("a", []string{"call_x", "call_y"}[i%2], i, cti.EventCallAnswered))
	}
	publish(t, ob, evs...) // before Start, so the queue order is fixed
	start(t, ob)
	waitDelivered(t, ob, "a", ep.ID, len(evs))

	hits := rc.all()
	if len(hits) != len(evs)+1 {
		t.Fatalf("%d requests, want %d", len(hits), len(evs)+1)
	}
	if gap := hits[1].At.Sub(hits[0].At); gap < time.Second {
		t.Fatalf("second request %s after the 429, before Retry-After: 1", gap)
	}
	var got []string
	for _, h := range hits[1:] {
		got = append(got, h.Header.Get("webhook-id"))
	}
	var want []string
	for _, ev := range evs {
		want = append(want, ev.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order after the pause\n got %v\nwant %v", got, want)
	}
	if hits[0].Header.Get("webhook-id") != evs[0].ID {
		t.Fatal("the throttled request was not the first event")
	}
	ds, _ := ob.Deliveries(context.Background(), "a", ep.ID, webhook.DeliveryQuery{Status: webhook.StatusDelivered})
	for _, d := range ds {
		if d.Attempts != 1 {
			t.Errorf("%s: %d attempts; a 429 must not count", d.EventID, d.Attempts)
		}
	}
}

// A failing event of one call holds back that call's later events only.
func TestCallOrderWithFailure(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{respond: func(n int, _ *hit, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			return 502
		}
		return 200
	}}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Intervals: []string{"100ms"}}})
	a1 := callEvent("a", "call_a", 1, cti.EventCallRinging)
	a2 := callEvent("a", "call_a", 2, cti.EventCallAnswered)
	b1 := callEvent("a", "call_b", 1, cti.EventCallRinging)
	publish(t, ob, a1, a2, b1)
	start(t, ob)
	waitDelivered(t, ob, "a", ep.ID, 3)
	var got []string
	for _, h := range rc.all() {
		got = append(got, h.Header.Get("webhook-id"))
	}
	want := []string{a1.ID, b1.ID, a1.ID, a2.ID}
	if !slices.Equal(got, want) {
		t.Fatalf("requests\n got %v\nwant %v (b1 may overtake the failed a1, a2 may not)", got, want)
	}
}

func TestParkAndRedeliver(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	failing := func(int, *hit, http.ResponseWriter, *http.Request) int { return 500 }
	rc.setRespond(failing)
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(2), Intervals: []string{"10ms"}}})
	start(t, ob)
	evs := []cti.Event{
		callEvent("a", "call_1", 1, cti.EventCallEnded),
		callEvent("a", "call_2", 1, cti.EventCallEnded),
		callEvent("a", "call_3", 1, cti.EventCallEnded),
	}
	publish(t, ob, evs...)
	ctx := context.Background()
	waitFor(t, 10*time.Second, "3 parked", func() bool { return counts(t, ob, "a", ep.ID)[webhook.StatusParked] == 3 })
	if n := rc.count(); n != 9 {
		t.Errorf("%d requests, want 9 (1 + 2 retries each)", n)
	}
	parked, err := ob.Deliveries(ctx, "a", ep.ID, webhook.DeliveryQuery{Status: webhook.StatusParked})
	if err != nil || len(parked) != 3 {
		t.Fatalf("parked list: %v %v", parked, err)
	}
	for _, d := range parked {
		if d.Attempts != 3 || d.LastStatusCode != 500 || !strings.HasPrefix(d.LastError, "HTTP 500") || !d.NextAttemptAt.IsZero() {
			t.Errorf("parked delivery %+v", d)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := rc.count(); n != 9 {
		t.Fatalf("parked deliveries are still being sent: %d requests", n)
	}

	// The CRM is fixed. A new event goes out at once: with nothing left
	// to retry, the endpoint is probed with it.
	rc.setRespond(nil)
	publish(t, ob, callEvent("a", "call_4", 1, cti.EventCallEnded))
	waitDelivered(t, ob, "a", ep.ID, 1)

	// The administrator redelivers the parked ones.
	n, err := ob.RedeliverAll(ctx, "a", ep.ID, webhook.StatusParked)
	if err != nil || n != 3 {
		t.Fatalf("RedeliverAll = %d, %v", n, err)
	}
	waitDelivered(t, ob, "a", ep.ID, 4)
	var got []string
	for _, h := range rc.all()[10:] {
		got = append(got, h.Header.Get("webhook-id"))
	}
	if want := []string{evs[0].ID, evs[1].ID, evs[2].ID}; !slices.Equal(got, want) {
		t.Fatalf("redelivered %v, want %v in order", got, want)
	}

	// One delivered delivery can be sent again too, with the same id.
	d, err := ob.Redeliver(ctx, "a", parked[0].ID())
	if err != nil || d.Status != webhook.StatusPending {
		t.Fatalf("Redeliver: %+v %v", d, err)
	}
	waitFor(t, 10*time.Second, "the redelivery", func() bool { return rc.count() == 14 })
	if id := rc.all()[13].Header.Get("webhook-id"); id != parked[0].EventID {
		t.Fatalf("redelivered %q, want %q", id, parked[0].EventID)
	}
	waitDelivered(t, ob, "a", ep.ID, 4)

	// Another tenant cannot redeliver it.
	if _, err := ob.Redeliver(ctx, "b", parked[0].ID()); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("tenant b redelivering a's delivery: %v", err)
	}
	if _, err := ob.RedeliverAll(ctx, "b", ep.ID, webhook.StatusParked); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("tenant b redelivering a's endpoint: %v", err)
	}
}

func TestBatching(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"}, BatchSize: 4})
	var want []string
	for i := range 10 {
		ev := callEvent("a", []string{"call_1", "call_2", "call_3"}[i%3], i, cti.EventCallUpdated)
		publish(t, ob, ev)
		want = append(want, ev.ID)
	}
	start(t, ob)
	waitDelivered(t, ob, "a", ep.ID, 10)
	hits := rc.all()
	if len(hits) != 3 {
		t.Fatalf("%d requests, want 3 (4 + 4 + 2)", len(hits))
	}
	var got []string
	for i, h := range hits {
		var batch []map[string]any
		if err := json.Unmarshal(h.Body, &batch); err != nil {
			t.Fatalf("batch %d is not a JSON array: %v", i, err)
		}
		if len(batch) != []int{4, 4, 2}[i] {
			t.Errorf("batch %d has %d events", i, len(batch))
		}
		for _, ev := range batch {
			got = append(got, ev["id"].(string))
		}
		if id := h.Header.Get("webhook-id"); !strings.HasPrefix(id, "batch_") {
			t.Errorf("batch webhook-id %q", id)
		}
		if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now()); err != nil {
			t.Errorf("batch %d: %v", i, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}

// A failed batch is retried as the same batch, with the same id.
func TestBatchRetryKeepsID(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{respond: func(n int, _ *hit, _ http.ResponseWriter, _ *http.Request) int {
		if n == 0 {
			return 503
		}
		return 200
	}}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"}, BatchSize: 10,
		Retry: webhook.Retry{Intervals: []string{"10ms"}}})
	for i := range 3 {
		publish(t, ob, callEvent("a", "call_1", i, cti.EventCallUpdated))
	}
	start(t, ob)
	waitDelivered(t, ob, "a", ep.ID, 3)
	hits := rc.all()
	if len(hits) != 2 || hits[0].Header.Get("webhook-id") != hits[1].Header.Get("webhook-id") ||
		string(hits[0].Body) != string(hits[1].Body) {
		t.Fatalf("want the same batch twice, got %d requests", len(hits))
	}
}

func TestFieldSelection(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Fields: []string{"call.id", "call.from", "agents.name", "missing.path"}})
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	waitDelivered(t, ob, "a", ep.ID, 1)
	env := envelopeOf(t, rc.all()[0].Body)
	want := map[string]any{
		"call":   map[string]any{"id": "call_1", "from": "+15550001001"},
		"agents": []any{map[string]any{"name": "Alice"}, map[string]any{"name": "Bob"}},
	}
	if !reflect.DeepEqual(env["data"], want) {
		t.Fatalf("data %v, want %v", env["data"], want)
	}
	if env["id"] == nil || env["type"] != "call.ended" {
		t.Fatalf("envelope fields must stay: %v", env)
	}
}

func TestGETWithQueryParameters(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u + "/pop?crm=1", Method: "get", Events: []string{"call.ringing"},
		Fields: []string{"call.from", "call.to"},
		Auth:   webhook.Auth{Type: webhook.AuthAPIKey, In: webhook.KeyInQuery, Name: "apikey", Value: "k-123"}})
	start(t, ob)
	ev := callEvent("a", "call_1", 1, cti.EventCallRinging)
	publish(t, ob, ev)
	waitDelivered(t, ob, "a", ep.ID, 1)
	h := rc.all()[0]
	if h.Method != "GET" || len(h.Body) != 0 {
		t.Fatalf("%s with %d body bytes", h.Method, len(h.Body))
	}
	q, err := url.ParseQuery(h.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{
		"id": {ev.ID}, "type": {"call.ringing"}, "timestamp": {"2026-03-01T12:00:00.000001Z"},
		"tenantId": {"a"}, "callId": {"call_1"}, "call.from": {"+15550001001"}, "call.to": {"+15550002002"},
		"crm": {"1"}, "apikey": {"k-123"},
	}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("query %v\nwant %v", q, want)
	}
	// For GET the signature covers the raw query string.
	if err := verifySignature(ep.Secret, h.Header, []byte(h.RawQuery), time.Now()); err != nil {
		t.Fatalf("GET signature: %v", err)
	}
}

func TestAuthHeaders(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	basic := create(t, ob, "a", webhook.Config{URL: u + "/basic", Events: []string{"*"},
		Auth: webhook.Auth{Type: webhook.AuthBasic, Username: "crm-user", Password: "s3cret"}})
	key := create(t, ob, "a", webhook.Config{URL: u + "/key", Events: []string{"*"},
		Auth: webhook.Auth{Type: webhook.AuthAPIKey, Name: "X-Api-Key", Value: "k-456"}})
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	waitDelivered(t, ob, "a", basic.ID, 1)
	waitDelivered(t, ob, "a", key.ID, 1)
	for _, h := range rc.all() {
		r := http.Request{Header: h.Header}
		user, pass, ok := r.BasicAuth()
		switch h.Path {
		case "/basic":
			if !ok || user != "crm-user" || pass != "s3cret" {
				t.Errorf("basic auth %q %q %v", user, pass, ok)
			}
		case "/key":
			if ok || h.Header.Get("X-Api-Key") != "k-456" {
				t.Errorf("API key header %q (basic %v)", h.Header.Get("X-Api-Key"), ok)
			}
		}
	}
}

func TestPublishMatchesTenant(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	epA := create(t, ob, "a", webhook.Config{URL: u + "/a", Events: []string{"*"}})
	epB := create(t, ob, "b", webhook.Config{URL: u + "/b", Events: []string{"agent.status"}})
	start(t, ob)
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	publish(t, ob, cti.Event{Type: cti.EventCallEnded, TenantID: "b"}) // b does not want it
	publish(t, ob, cti.Event{Type: cti.EventAgentStatus, TenantID: "b", Data: map[string]any{"status": "away"}})
	publish(t, ob, cti.Event{Type: cti.EventAgentStatus, TenantID: "c"}) // no endpoint at all
	waitDelivered(t, ob, "a", epA.ID, 1)
	waitDelivered(t, ob, "b", epB.ID, 1)
	time.Sleep(50 * time.Millisecond)
	hits := rc.all()
	if len(hits) != 2 {
		t.Fatalf("%d requests, want one per tenant", len(hits))
	}
	for _, h := range hits {
		env := envelopeOf(t, h.Body)
		if "/"+env["tenantId"].(string) != h.Path {
			t.Errorf("tenant %v event sent to %s", env["tenantId"], h.Path)
		}
		if id := env["id"].(string); !strings.HasPrefix(id, "evt_") {
			t.Errorf("generated id %q", id)
		}
	}
	if err := ob.Publish(context.Background(), cti.Event{Type: cti.EventCallEnded}); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("event without tenant: %v", err)
	}
}

// Publish stores events before Start and after Close; a later outbox
// delivers them.
func TestPublishWithoutWorkers(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"}})
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	time.Sleep(20 * time.Millisecond)
	if rc.count() != 0 {
		t.Fatal("a closed outbox delivered")
	}
	ob2 := e.open()
	start(t, ob2)
	waitDelivered(t, ob2, "a", ep.ID, 1)
}

func TestUpdateAndDeleteEndpoint(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	ob := e.open()
	ctx := context.Background()
	ep := create(t, ob, "a", webhook.Config{URL: u + "/v1", Events: []string{"*"},
		Auth: webhook.Auth{Type: webhook.AuthBasic, Username: "u", Password: "p"}})
	start(t, ob)

	// An update without the password keeps it, and the worker follows the
	// new URL.
	up, err := ob.UpdateEndpoint(ctx, "a", ep.ID, webhook.Config{URL: u + "/v2", Events: []string{"*"},
		Auth: webhook.Auth{Type: webhook.AuthBasic, Username: "u"}})
	if err != nil {
		t.Fatalf("UpdateEndpoint: %v", err)
	}
	if up.Secret != ep.Secret || up.Config.Auth.Password != "p" {
		t.Fatalf("update lost the secret or the password: %+v", up)
	}
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded))
	waitDelivered(t, ob, "a", ep.ID, 1)
	h := rc.all()[0]
	if h.Path != "/v2" {
		t.Fatalf("sent to %s after the update", h.Path)
	}
	if _, p, _ := (&http.Request{Header: h.Header}).BasicAuth(); p != "p" {
		t.Fatalf("password %q after the update", p)
	}
	if _, err := ob.UpdateEndpoint(ctx, "b", ep.ID, webhook.Config{URL: u, Events: []string{"*"}}); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("tenant b updating a's endpoint: %v", err)
	}
	if err := ob.DeleteEndpoint(ctx, "b", ep.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("tenant b deleting a's endpoint: %v", err)
	}
	if err := ob.DeleteEndpoint(ctx, "a", ep.ID); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	publish(t, ob, callEvent("a", "call_1", 2, cti.EventCallEnded))
	if _, err := ob.Endpoint(ctx, "a", ep.ID); cti.ErrorKind(err) != cti.KindNotFound {
		t.Fatalf("deleted endpoint: %v", err)
	}
	time.Sleep(30 * time.Millisecond)
	if n := rc.count(); n != 1 {
		t.Fatalf("%d requests after delete", n)
	}
}
