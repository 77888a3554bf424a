package storetest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

func webhookFixture(t *testing.T, db NewDB) (*sqlstore.WebhookStore, *webhook.Endpoint, *webhook.Endpoint) {
	t.Helper()
	s := db(t)(t)
	Seed(t, s)
	w := s.Webhooks()
	now := time.Now().UTC()
	mk := func(id, tenant string) *webhook.Endpoint {
		cfg := webhook.Config{URL: "https://crm/" + id, Events: []string{"*"}}
		cfg.Normalize()
		ep := &webhook.Endpoint{ID: id, TenantID: tenant, Config: cfg, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
		if err := w.CreateEndpoint(t.Context(), ep); err != nil {
			t.Fatalf("CreateEndpoint: %v", err)
		}
		return ep
	}
	return w, mk("whk_a", "a"), mk("whk_b", "b")
}

func enqueue(t *testing.T, w *sqlstore.WebhookStore, at time.Time, evs ...webhook.NewDeliveries) {
	t.Helper()
	if err := w.Enqueue(t.Context(), evs, at); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func newDelivery(id, tenant, call string, endpoints ...string) webhook.NewDeliveries {
	return webhook.NewDeliveries{Event: webhook.StoredEvent{ID: id, TenantID: tenant, Type: cti.EventCallEnded,
		CallID: call, Time: time.Date(2026, 3, 1, 12, 0, 0, 7, time.UTC), Data: json.RawMessage(`{"n":1}`)},
		EndpointIDs: endpoints}
}

func testWebhookEndpoints(t *testing.T, db NewDB) {
	w, a, b := webhookFixture(t, db)
	ctx := t.Context()
	got, err := w.GetEndpoint(ctx, "a", a.ID)
	if err != nil || got.Secret != a.Secret || got.Config.URL != a.Config.URL || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("GetEndpoint: %+v %v", got, err)
	}
	_, err = w.GetEndpoint(ctx, "a", b.ID)
	wantKind(t, err, cti.KindNotFound)
	all, err := w.ListEndpoints(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("ListEndpoints all: %v %v", all, err)
	}
	mine, _ := w.ListEndpoints(ctx, "b")
	if len(mine) != 1 || mine[0].ID != b.ID {
		t.Fatalf("ListEndpoints b: %v", mine)
	}
	a.Config.Description = "changed"
	wantKind(t, w.UpdateEndpoint(ctx, &webhook.Endpoint{ID: a.ID, TenantID: "b", Config: a.Config}), cti.KindNotFound)
	if err := w.UpdateEndpoint(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.GetEndpoint(ctx, "a", a.ID); got.Config.Description != "changed" {
		t.Fatal("update lost")
	}
	err = w.CreateEndpoint(ctx, &webhook.Endpoint{ID: "whk_x", TenantID: "nope", Config: a.Config, Secret: "s"})
	wantKind(t, err, cti.KindNotFound)
	wantKind(t, w.DeleteEndpoint(ctx, "b", a.ID), cti.KindNotFound)
}

func testWebhookQueueAndResults(t *testing.T, db NewDB) {
	w, a, b := webhookFixture(t, db)
	ctx := t.Context()
	t0 := time.Now()
	enqueue(t, w, t0,
		newDelivery("evt_1", "a", "call_1", a.ID),
		newDelivery("evt_2", "a", "call_1", a.ID),
		newDelivery("evt_3", "b", "call_9", b.ID),
	)
	q, err := w.Queue(ctx, a.ID, 0, 10)
	if err != nil || len(q) != 2 || q[0].EventID != "evt_1" || q[1].EventID != "evt_2" || q[0].Seq >= q[1].Seq ||
		q[0].Status != webhook.StatusPending || !q[0].NextAt.Equal(t0) || q[0].CallID != "call_1" {
		t.Fatalf("Queue: %+v %v", q, err)
	}
	if after, _ := w.Queue(ctx, a.ID, q[0].Seq, 10); len(after) != 1 || after[0].Seq != q[1].Seq {
		t.Fatalf("Queue after: %+v", after)
	}
	p, err := w.Payloads(ctx, a.ID, []int64{q[0].Seq, q[1].Seq, 999})
	if err != nil || len(p) != 2 || string(p[q[0].Seq].Data) != `{"n":1}` || p[q[0].Seq].ID != "evt_1" ||
		!p[q[0].Seq].Time.Equal(time.Date(2026, 3, 1, 12, 0, 0, 7, time.UTC)) {
		t.Fatalf("Payloads: %+v %v", p, err)
	}
	if other, _ := w.Payloads(ctx, b.ID, []int64{q[0].Seq}); len(other) != 0 {
		t.Fatal("payload of another endpoint's delivery")
	}

	at := t0.Add(time.Second)
	state := &webhook.EndpointState{PausedUntil: at.Add(time.Minute), Failures: 2}
	err = w.RecordResults(ctx, a.ID, []webhook.Result{
		{Seq: q[0].Seq, PrevAttempts: 0, Status: webhook.StatusDelivered, Attempts: 1, At: at, Code: 204},
		{Seq: q[1].Seq, PrevAttempts: 0, Status: webhook.StatusFailed, Attempts: 1, NextAt: at.Add(time.Minute), At: at, Code: 500, Error: "HTTP 500"},
	}, state)
	if err != nil {
		t.Fatal(err)
	}
	ep, _ := w.GetEndpoint(ctx, "a", a.ID)
	if ep.State.Failures != 2 || !ep.State.PausedUntil.Equal(state.PausedUntil) {
		t.Fatalf("state %+v", ep.State)
	}
	d, err := w.GetDelivery(ctx, "a", q[0].Seq)
	if err != nil || d.Status != webhook.StatusDelivered || !d.DeliveredAt.Equal(at) || !d.NextAttemptAt.IsZero() || d.LastStatusCode != 204 {
		t.Fatalf("delivered: %+v %v", d, err)
	}
	d, _ = w.GetDelivery(ctx, "a", q[1].Seq)
	if d.Status != webhook.StatusFailed || !d.NextAttemptAt.Equal(at.Add(time.Minute)) || d.LastError != "HTTP 500" || !d.DeliveredAt.IsZero() {
		t.Fatalf("failed: %+v", d)
	}
	_, err = w.GetDelivery(ctx, "b", q[0].Seq)
	wantKind(t, err, cti.KindNotFound)

	// A result computed from a stale attempt count is dropped: the row was
	// redelivered meanwhile.
	if _, err := w.Redeliver(ctx, "a", q[1].Seq, at); err != nil {
		t.Fatal(err)
	}
	if err := w.RecordResults(ctx, a.ID, []webhook.Result{{Seq: q[1].Seq, PrevAttempts: 1, Status: webhook.StatusParked, Attempts: 2, At: at}}, nil); err != nil {
		t.Fatal(err)
	}
	if d, _ := w.GetDelivery(ctx, "a", q[1].Seq); d.Status != webhook.StatusPending || d.Attempts != 0 {
		t.Fatalf("stale result applied: %+v", d)
	}
	_, err = w.Redeliver(ctx, "b", q[1].Seq, at)
	wantKind(t, err, cti.KindNotFound)

	// Counts and bulk redelivery.
	if err := w.RecordResults(ctx, a.ID, []webhook.Result{{Seq: q[1].Seq, Status: webhook.StatusParked, Attempts: 1, At: at}}, nil); err != nil {
		t.Fatal(err)
	}
	c, _ := w.CountDeliveries(ctx, "a", a.ID)
	if c[webhook.StatusDelivered] != 1 || c[webhook.StatusParked] != 1 || c[webhook.StatusPending] != 0 {
		t.Fatalf("counts %v", c)
	}
	if c, _ := w.CountDeliveries(ctx, "b", a.ID); len(c) != 0 {
		t.Fatalf("tenant b counts a's deliveries: %v", c)
	}
	if n, _ := w.RedeliverAll(ctx, "b", a.ID, webhook.StatusParked, at); n != 0 {
		t.Fatal("tenant b redelivered a's deliveries")
	}
	if n, err := w.RedeliverAll(ctx, "a", a.ID, webhook.StatusParked, at); n != 1 || err != nil {
		t.Fatalf("RedeliverAll: %d %v", n, err)
	}
	if q2, _ := w.Queue(ctx, a.ID, 0, 10); len(q2) != 1 || q2[0].Seq != q[1].Seq {
		t.Fatalf("redelivered row not back in the queue at its place: %+v", q2)
	}

	// Deleting the endpoint deletes its queue.
	if err := w.DeleteEndpoint(ctx, "a", a.ID); err != nil {
		t.Fatal(err)
	}
	if q3, _ := w.Queue(ctx, a.ID, 0, 10); len(q3) != 0 {
		t.Fatal("queue survived its endpoint")
	}
}

func testWebhookDeliveryListing(t *testing.T, db NewDB) {
	w, a, _ := webhookFixture(t, db)
	ctx := t.Context()
	t0 := time.Now()
	for i := range 9 {
		enqueue(t, w, t0, newDelivery("evt_"+string(rune('0'+i)), "a", "call", a.ID))
	}
	q, _ := w.Queue(ctx, a.ID, 0, 100)
	// 0,3,6 delivered; 1,4,7 parked; 2,5,8 stay pending.
	var res []webhook.Result
	for i, it := range q {
		switch i % 3 {
		case 0:
			res = append(res, webhook.Result{Seq: it.Seq, Status: webhook.StatusDelivered, Attempts: 1, At: t0})
		case 1:
			res = append(res, webhook.Result{Seq: it.Seq, Status: webhook.StatusParked, Attempts: 1, At: t0})
		}
	}
	if err := w.RecordResults(ctx, a.ID, res, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(ds []webhook.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.EventID)
		}
		return out
	}
	page, err := w.Deliveries(ctx, "a", a.ID, webhook.DeliveryQuery{Limit: 4})
	if err != nil || !slices.Equal(ids(page), []string{"evt_8", "evt_7", "evt_6", "evt_5"}) {
		t.Fatalf("page 1: %v %v", ids(page), err)
	}
	page, _ = w.Deliveries(ctx, "a", a.ID, webhook.DeliveryQuery{Limit: 4, Before: page[3].Seq})
	if !slices.Equal(ids(page), []string{"evt_4", "evt_3", "evt_2", "evt_1"}) {
		t.Fatalf("page 2: %v", ids(page))
	}
	for status, want := range map[webhook.Status][]string{
		webhook.StatusDelivered: {"evt_6", "evt_3", "evt_0"},
		webhook.StatusParked:    {"evt_7", "evt_4", "evt_1"},
		webhook.StatusPending:   {"evt_8", "evt_5", "evt_2"},
		webhook.StatusFailed:    nil,
	} {
		got, err := w.Deliveries(ctx, "a", a.ID, webhook.DeliveryQuery{Status: status, Limit: 10})
		if err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("%s: %v %v, want %v", status, ids(got), err, want)
		}
	}
	if other, _ := w.Deliveries(ctx, "b", a.ID, webhook.DeliveryQuery{Limit: 10}); len(other) != 0 {
		t.Fatal("tenant b lists a's deliveries")
	}
}

func testWebhookPrune(t *testing.T, db NewDB) {
	w, a, _ := webhookFixture(t, db)
	ctx := t.Context()
	old, recent := time.Now().Add(-8*24*time.Hour), time.Now().Add(-time.Hour)
	for i := range 6 {
		enqueue(t, w, old, newDelivery("evt_"+string(rune('0'+i)), "a", "", a.ID))
	}
	q, _ := w.Queue(ctx, a.ID, 0, 100)
	if err := w.RecordResults(ctx, a.ID, []webhook.Result{
		{Seq: q[0].Seq, Status: webhook.StatusDelivered, Attempts: 1, At: old},
		{Seq: q[1].Seq, Status: webhook.StatusDelivered, Attempts: 1, At: old},
		{Seq: q[2].Seq, Status: webhook.StatusDelivered, Attempts: 1, At: recent},
		{Seq: q[3].Seq, Status: webhook.StatusParked, Attempts: 1, At: old},
	}, nil); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{old, recent} {
		if err := w.RecordRequest(ctx, a.ID, at); err != nil {
			t.Fatal(err)
		}
	}
	n, err := w.Prune(ctx, time.Now().Add(-7*24*time.Hour), time.Now().Add(-25*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("Prune = %d, %v; want 2 deliveries and 1 request", n, err)
	}
	c, _ := w.CountDeliveries(ctx, "a", a.ID)
	if c[webhook.StatusDelivered] != 1 || c[webhook.StatusParked] != 1 || c[webhook.StatusPending] != 2 {
		t.Fatalf("after prune: %v (parked and pending rows must stay)", c)
	}
	reqs, err := w.Requests(ctx, a.ID, time.Now().Add(-48*time.Hour), 10)
	if err != nil || len(reqs) != 1 || !reqs[0].Equal(recent.UTC()) {
		t.Fatalf("requests after prune: %v %v", reqs, err)
	}
}

// Webhook signing secrets and receiver credentials are encrypted at rest:
// the rows hold ciphertext, the store hands back the plain values, secrets
// an older version stored in the clear are sealed at start, and another
// tenant's row cannot be decrypted with the ciphertext moved into it.
func testWebhookSecretsEncryptedAtRest(t *testing.T, db NewDB) {
	s := db(t)(t)
	Seed(t, s)
	w := s.Webhooks()
	now := time.Now().UTC()
	cfg := webhook.Config{URL: "https://crm/x", Events: []string{"*"}, Auth: webhook.Auth{Type: webhook.AuthBasic, Username: "crm", Password: "hunter2-password"}}
	cfg.Normalize()
	old := &webhook.Endpoint{ID: "whk_old", TenantID: "a", Config: cfg, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := w.CreateEndpoint(t.Context(), old); err != nil { // no key yet: stored as is
		t.Fatal(err)
	}
	if err := s.SetSecretKey(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	if n, err := w.SealSecrets(t.Context()); err != nil || n != 1 {
		t.Fatalf("SealSecrets: %d, %v", n, err)
	}
	ep := &webhook.Endpoint{ID: "whk_new", TenantID: "a", Config: cfg, Secret: webhook.NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := w.CreateEndpoint(t.Context(), ep); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*webhook.Endpoint{old, ep} {
		var secret, config string
		if err := s.Reader().QueryRowContext(t.Context(), `SELECT secret, config FROM webhook_endpoints WHERE id = ?`, e.ID).Scan(&secret, &config); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "enc1:") || strings.Contains(config, "hunter2") || strings.Contains(secret, e.Secret[6:]) {
			t.Fatalf("%s stored in the clear: %s %s", e.ID, secret, config)
		}
		got, err := w.GetEndpoint(t.Context(), "a", e.ID)
		if err != nil || got.Secret != e.Secret || got.Config.Auth.Password != "hunter2-password" {
			t.Fatalf("%s read back: %+v, %v", e.ID, got, err)
		}
	}
	// Ciphertext moved to another tenant's endpoint does not open.
	if _, err := s.Writer().ExecContext(t.Context(), `UPDATE webhook_endpoints SET tenant_id = 'b' WHERE id = 'whk_new'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.GetEndpoint(t.Context(), "b", "whk_new"); err == nil {
		t.Fatal("a secret decrypted under another tenant")
	}
}

// An endpoint's lease belongs to one node at a time: renewed by its
// holder, refused to others until it expires or is released, and taken
// by exactly one of several nodes racing for it.
func testWebhookLeases(t *testing.T, db NewDB) {
	open := db(t)
	s1, s2 := open(t), open(t)
	_, a, _ := webhookFixture(t, func(*testing.T) func(*testing.T) *sqlstore.Store {
		return func(*testing.T) *sqlstore.Store { return s1 }
	})
	ctx := t.Context()
	n1, n2 := s1.SharedWebhooks("n1"), s2.SharedWebhooks("n2")
	now := time.Now()
	if held, until, err := n1.Lease(ctx, a.ID, now, now.Add(time.Second)); err != nil || !held || !until.Equal(now.Add(time.Second)) {
		t.Fatalf("n1 Lease = %v %v %v", held, until, err)
	}
	held, until, err := n2.Lease(ctx, a.ID, now, now.Add(time.Second))
	if err != nil || held || !until.Equal(now.Add(time.Second)) {
		t.Fatalf("n2 Lease while n1 holds it = %v %v %v", held, until, err)
	}
	if held, _, err := n1.Lease(ctx, a.ID, now.Add(500*time.Millisecond), now.Add(1500*time.Millisecond)); err != nil || !held {
		t.Fatalf("n1 renewal = %v %v", held, err)
	}
	later := now.Add(1600 * time.Millisecond)
	if held, _, err := n2.Lease(ctx, a.ID, later, later.Add(time.Second)); err != nil || !held {
		t.Fatalf("n2 after expiry = %v %v", held, err)
	}
	if held, _, _ := n1.Lease(ctx, a.ID, later, later.Add(time.Second)); held {
		t.Fatal("n1 took a lease n2 holds")
	}
	if err := n1.Release(ctx, a.ID); err != nil { // not n1's: no effect
		t.Fatal(err)
	}
	if held, _, _ := n1.Lease(ctx, a.ID, later, later.Add(time.Second)); held {
		t.Fatal("n1 released n2's lease")
	}
	if err := n2.Release(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if held, _, err := n1.Lease(ctx, a.ID, later, later.Add(time.Second)); err != nil || !held {
		t.Fatalf("n1 after n2 released = %v %v", held, err)
	}
	_, _, err = n1.Lease(ctx, "whk_nope", later, later)
	wantKind(t, err, cti.KindNotFound)

	// Several nodes race for an expired lease: one wins.
	if err := n1.Release(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		st := []*sqlstore.Store{s1, s2}[i%2].SharedWebhooks("r" + strconv.Itoa(i))
		wg.Go(func() {
			held, _, err := st.Lease(ctx, a.ID, later, later.Add(time.Minute))
			if err != nil {
				t.Errorf("race: %v", err)
			}
			if held {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d nodes hold the lease", wins.Load())
	}
}
