package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// Two nodes share one store: events published on either are delivered
// once, by the node holding the endpoint's lease, in each call's order.
// The holder dies (its database connection cut, its writes failing) and
// the other node takes the queue over when the lease expires; the only
// repeat allowed is the request that was in flight, with the same id.
func TestTwoNodesDeliverEachEventOnce(t *testing.T) {
	const calls, perCall = 6, 10
	e := newEnv(t)
	rc := &receiver{}
	rc.setRespond(func(int, *hit, http.ResponseWriter, *http.Request) int {
		time.Sleep(2 * time.Millisecond) // a CRM takes a moment
		return 200
	})
	u := serve(t, rc)
	node := func(st *sqlite.Store, name string) *webhook.Outbox { return openNode(t, st, name) }
	st1, st2 := e.store, e.openStore()
	n1 := node(st1, "n1")
	ep := create(t, n1, "a", webhook.Config{URL: u, Events: []string{"*"},
		Retry: webhook.Retry{Retries: intp(20), Intervals: []string{"5ms"}}})
	start(t, n1)
	waitFor(t, 5*time.Second, "node 1 to hold the lease", func() bool { return leaseOwner(t, st2, ep.ID) == "n1" })
	n2 := node(st2, "n2") // finds the endpoint in the store
	start(t, n2)

	all := make([]cti.Event, 0, calls*perCall)
	for n := range perCall {
		for c := range calls {
			all = append(all, callEvent("a", fmt.Sprintf("call_%02d", c), n, cti.EventCallUpdated))
		}
	}
	half := len(all) / 2
	for i, ev := range all[:half] {
		publish(t, []*webhook.Outbox{n1, n2}[i%2], ev)
	}
	waitFor(t, 10*time.Second, "a few deliveries by node 1", func() bool { return rc.count() >= 5 })

	// Node 1 dies: its database goes away under it.
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	_ = n1.Close()
	for _, ev := range all[half:] {
		publish(t, n2, ev)
	}
	waitDelivered(t, n2, "a", ep.ID, len(all))
	if owner := leaseOwner(t, st2, ep.ID); owner != "n2" {
		t.Fatalf("lease owner after the take-over: %q", owner)
	}

	// Every event arrived; a call's events in order; a repeat only of
	// the request in flight when node 1 died, with the same id and body.
	first := map[string][]byte{}
	last := map[string]int{}
	repeats := 0
	for _, h := range rc.all() {
		id := h.Header.Get("webhook-id")
		if body, seen := first[id]; seen {
			repeats++
			if string(body) != string(h.Body) {
				t.Fatalf("%s repeated with another body", id)
			}
			continue
		}
		first[id] = h.Body
		i := strings.LastIndex(id, "_")
		call := strings.TrimPrefix(id[:max(i, 0)], "evt_")
		n, err := strconv.Atoi(id[i+1:])
		if i < 0 || err != nil {
			t.Fatalf("unexpected id %q", id)
		}
		if prev, ok := last[call]; ok && n < prev {
			t.Fatalf("%s: event %d after %d", call, n, prev)
		}
		last[call] = n
	}
	if len(first) != len(all) || repeats > 1 {
		t.Fatalf("%d distinct events of %d delivered, %d repeats (at most the one in flight)", len(first), len(all), repeats)
	}
}

func leaseOwner(t *testing.T, st *sqlite.Store, id string) string {
	t.Helper()
	var owner string
	var until int64
	if err := st.Reader().QueryRowContext(context.Background(),
		`SELECT lease_owner, lease_until FROM webhook_endpoints WHERE id = ?`, id).Scan(&owner, &until); err != nil {
		t.Fatal(err)
	}
	if time.Unix(0, until).Before(time.Now()) {
		return ""
	}
	return owner
}

// openNode is an outbox on a store shared with other nodes, with short
// poll and lease times.
func openNode(t *testing.T, st *sqlite.Store, name string) *webhook.Outbox {
	t.Helper()
	o := webhook.Options{Log: testLogger(), Limits: testLimits, AllowPrivate: loopbackOnly, Resolver: fakeDNS{},
		Poll: 20 * time.Millisecond, LeaseTTL: 400 * time.Millisecond, Chunk: 4}
	ob, err := webhook.Open(context.Background(), st.SharedWebhooks(name), o)
	if err != nil {
		t.Fatalf("webhook.Open: %v", err)
	}
	t.Cleanup(func() { _ = ob.Close() })
	return ob
}

// An endpoint created or deleted on one node is followed by the other
// within its poll interval: the other's events reach it, then stop being
// stored for it.
func TestNodesFollowEndpointChanges(t *testing.T) {
	e := newEnv(t)
	rc := &receiver{}
	u := serve(t, rc)
	n1, n2 := openNode(t, e.store, "n1"), openNode(t, e.openStore(), "n2")
	start(t, n1)
	start(t, n2)
	ep := create(t, n1, "a", webhook.Config{URL: u, Events: []string{"*"}})
	i := 0
	waitFor(t, 5*time.Second, "an event published on node 2 to arrive", func() bool {
		i++
		publish(t, n2, callEvent("a", "call_x", i, cti.EventCallUpdated))
		return rc.count() > 0
	})
	if err := n1.DeleteEndpoint(context.Background(), "a", ep.ID); err != nil {
		t.Fatal(err)
	}
	// Once node 2 has dropped the endpoint, its events are not stored:
	// the queue no longer grows (the endpoint's rows went with it).
	waitFor(t, 5*time.Second, "node 2 to drop the endpoint", func() bool {
		before := rc.count()
		publish(t, n2, callEvent("a", "call_y", i, cti.EventCallUpdated))
		i++
		time.Sleep(50 * time.Millisecond) // two poll intervals: a delivery would have happened
		return rc.count() == before
	})
}
