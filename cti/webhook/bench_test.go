package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// BenchmarkOutboxThroughput measures end to end: b.N events published as
// fast as the publishers can (each Publish durable before it returns:
// SQLite WAL, synchronous=FULL) until the receiver, a local HTTP server
// answering 204 at once, has every one of them. events/s is b.N over that
// time; publish/s is the rate of the Publish calls alone.
func BenchmarkOutboxThroughput(b *testing.B) {
	for _, bc := range []struct {
		batch, publishers int
	}{
		{1, 1}, {1, 16}, {50, 1}, {50, 16},
	} {
		b.Run(fmt.Sprintf("batch=%d/publishers=%d", bc.batch, bc.publishers), func(b *testing.B) {
			benchOutbox(b, bc.batch, bc.publishers)
		})
	}
}

func benchOutbox(b *testing.B, batch, publishers int) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rb.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateTenant(ctx, &cti.Tenant{ID: "a", Name: "a"}); err != nil {
		b.Fatal(err)
	}
	var received atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	target := int64(b.N)
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := int64(1)
		if batch > 1 {
			n = int64(bytes.Count(body, []byte(`"id":`)))
		}
		if received.Add(n) >= target {
			once.Do(func() { close(done) })
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer crm.Close()
	ob, err := webhook.Open(ctx, store.Webhooks(), webhook.Options{Log: testLogger(), AllowPrivate: loopbackOnly})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	if _, err := ob.CreateEndpoint(ctx, "a", webhook.Config{URL: crm.URL, Events: []string{"*"}, BatchSize: batch}); err != nil {
		b.Fatal(err)
	}
	if err := ob.Start(); err != nil {
		b.Fatal(err)
	}
	data := map[string]any{
		"call": map[string]any{"id": "call_x", "from": "+15550001001", "to": "+15550002002", "direction": "inbound",
			"startedAt": "2026-03-01T12:00:00Z", "answeredAt": "2026-03-01T12:00:04Z", "endedAt": "2026-03-01T12:03:10Z",
			"durationSec": 186, "disposition": "resolved"},
		"agents": []any{map[string]any{"ext": "1001", "name": "Alice", "talkSec": 186}},
	}

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for p := range publishers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				ev := cti.Event{Type: cti.EventCallEnded, TenantID: "a", CallID: fmt.Sprintf("call_%d_%d", p, i%50), Data: data}
				if err := ob.Publish(ctx, ev); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	published := time.Since(start)
	select {
	case <-done:
	case <-time.After(5*time.Minute + time.Duration(b.N)*time.Millisecond):
		b.Fatalf("only %d of %d events delivered", received.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/published.Seconds(), "publish/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDurablePublish measures the write-ahead path alone: producers
// publishing concurrently, each Publish returning once its event is
// committed (SQLite WAL, synchronous=FULL: the WAL is synced at every
// commit, and concurrent producers share commits). It reports durable
// events per second and the publish-to-durable latency p50/p99.
func BenchmarkDurablePublish(b *testing.B) {
	for _, producers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			benchDurable(b, producers)
		})
	}
}

func benchDurable(b *testing.B, producers int) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rb.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	if err := store.CreateTenant(ctx, &cti.Tenant{ID: "a", Name: "a"}); err != nil {
		b.Fatal(err)
	}
	ob, err := webhook.Open(ctx, store.Webhooks(), webhook.Options{Log: testLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	// Not started: nothing is delivered, so only durability is timed.
	if _, err := ob.CreateEndpoint(ctx, "a", webhook.Config{URL: "https://crm.example.com/hook", Events: []string{"*"}}); err != nil {
		b.Fatal(err)
	}
	data := map[string]any{"id": "call_x", "from": "+15550001001", "to": "+15550002002", "notes": "resolved"}
	lat := make([][]time.Duration, producers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for p := range producers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				ev := cti.Event{Type: cti.EventCallUpdated, TenantID: "a", CallID: fmt.Sprintf("call_%d", p), Data: data}
				if err := ob.Publish(ctx, ev); err != nil {
					b.Error(err)
					return
				}
				lat[p] = append(lat[p], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "durable-events/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
