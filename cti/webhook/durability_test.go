package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// The outbox is killed mid-queue: the database is closed under its
// workers (writes fail as after a crash) and the process's outbox is
// abandoned. A new outbox on the same file must deliver every event; the
// receiver may see duplicates, but only as repeats of the same id with
// the same body, and never a call's event before that call's earlier ones.
func TestCrashAndRestartLosesNothing(t *testing.T) {
	const calls, perCall = 20, 10
	e := newEnv(t)
	rc := &receiver{}
	rc.setRespond(func(n int, _ *hit, _ http.ResponseWriter, _ *http.Request) int {
		time.Sleep(time.Millisecond) // a CRM takes a moment
		if n%7 == 3 {
			return 500 // and fails now and then
		}
		return 200
	})
	u := serve(t, rc)
	chunk := func(o *webhook.Options) { o.Chunk = 8 }
	ob := e.open(chunk)
	ep := create(t, ob, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(20), Intervals: []string{"5ms"}}})
	start(t, ob)

	// Calls publish concurrently, each its own events in order.
	var wg sync.WaitGroup
	for c := range calls {
		wg.Go(func() {
			for n := range perCall {
				ev := callEvent("a", fmt.Sprintf("call_%02d", c), n, cti.EventCallUpdated)
				if err := ob.Publish(context.Background(), ev); err != nil {
					t.Errorf("Publish: %v", err)
				}
			}
		})
	}
	wg.Wait()

	waitFor(t, 20*time.Second, "a third of the events delivered", func() bool {
		ok := 0
		for _, h := range rc.all() {
			if h.Status == 200 {
				ok++
			}
		}
		return ok >= calls*perCall/3
	})
	// Crash: no draining, no final writes.
	if err := e.store.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	_ = ob.Close() // only reaps the goroutines; their writes already fail
	before := rc.count()
	if before >= calls*perCall {
		t.Fatalf("the crash came too late (%d requests); slow the receiver down", before)
	}

	// Restart on the same file.
	e.store = e.openStore()
	ob2 := e.open(chunk)
	start(t, ob2)
	waitDelivered(t, ob2, "a", ep.ID, calls*perCall)
	if n := counts(t, ob2, "a", ep.ID); n[webhook.StatusPending]+n[webhook.StatusFailed]+n[webhook.StatusParked] != 0 {
		t.Fatalf("left over after delivery: %v", n)
	}

	hits := rc.all()
	bodies := map[string]string{}  // webhook-id → body
	delivered := map[string]bool{} // event id → a 2xx was seen
	next := map[string]int{}       // call → next n it may deliver
	dups := 0
	for i, h := range hits {
		id := h.Header.Get("webhook-id")
		if err := verifySignature(ep.Secret, h.Header, h.Body, time.Now()); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		env := envelopeOf(t, h.Body)
		if env["id"] != id {
			t.Fatalf("request %d: webhook-id %s carries event %v", i, id, env["id"])
		}
		if b, seen := bodies[id]; seen && b != string(h.Body) {
			t.Fatalf("event %s sent with two different bodies", id)
		}
		bodies[id] = string(h.Body)
		if h.Status != 200 {
			continue
		}
		if delivered[id] {
			dups++
			continue
		}
		call := env["callId"].(string)
		n := int(env["data"].(map[string]any)["call"].(map[string]any)["n"].(float64))
		if n != next[call] {
			t.Fatalf("request %d: %s event %d delivered before event %d", i, call, n, next[call])
		}
		next[call]++
		delivered[id] = true
	}
	if len(delivered) != calls*perCall {
		t.Fatalf("%d distinct events delivered, want %d", len(delivered), calls*perCall)
	}
	t.Logf("%d requests (%d before the crash), %d duplicate deliveries", len(hits), before, dups)
}

// An outcome is recorded as soon as it is known: while the worker waits
// for a rate limit before the next request, the delivery that went out is
// already "delivered" in the API, not "pending".
func TestDeliveredIsRecordedBeforeWaitingForTheRateLimit(t *testing.T) {
	e := newEnv(t)
	ob := e.open()
	rc := &receiver{}
	ep := create(t, ob, "a", webhook.Config{URL: serve(t, rc), Events: []string{"*"}, RateLimit: webhook.RateLimit{PerMinute: 1}})
	publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded), callEvent("a", "call_2", 1, cti.EventCallEnded))
	start(t, ob)
	waitFor(t, 10*time.Second, "the first request", func() bool { return rc.count() == 1 })
	waitFor(t, 5*time.Second, "the first delivery recorded as delivered", func() bool {
		c := counts(t, ob, "a", ep.ID)
		return c[webhook.StatusDelivered] == 1 && c[webhook.StatusPending] == 1
	})
	if rc.count() != 1 {
		t.Fatalf("%d requests within a limit of one per minute", rc.count())
	}
}
