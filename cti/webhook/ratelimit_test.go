package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlite"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

// These tests run under testing/synctest: the clock is fake and advances
// only when every goroutine of the test is blocked, so minutes and days
// pass instantly and exactly. The receiver is a real http.Server reached
// over an in-memory network (real sockets would block the fake clock).

// bubbleStore opens a store inside the bubble (its goroutines must belong
// to it) with tenant "a".
func bubbleStore(t *testing.T, path string, seed bool) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	if seed {
		if err := s.CreateTenant(context.Background(), &cti.Tenant{ID: "a", Name: "a"}); err != nil {
			t.Fatalf("CreateTenant: %v", err)
		}
	}
	return s
}

func bubbleOutbox(t *testing.T, s *sqlite.Store, client *http.Client) *webhook.Outbox {
	t.Helper()
	ob, err := webhook.Open(context.Background(), s.Webhooks(),
		webhook.Options{Log: testLogger(), Limits: testLimits, Client: client, Resolver: fakeDNS{}})
	if err != nil {
		t.Fatalf("webhook.Open: %v", err)
	}
	return ob
}

// maxInWindow is the largest number of hits within any window of length
// w (a hit exactly w after another is outside its window).
func maxInWindow(hits []hit, w time.Duration) int {
	best := 0
	for i := range hits {
		n := 0
		for j := i; j < len(hits) && hits[j].At.Sub(hits[i].At) < w; j++ {
			n++
		}
		best = max(best, n)
	}
	return best
}

func TestRateLimitPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{}
		client, stop := servePipe(rc)
		defer stop()
		s := bubbleStore(t, filepath.Join(t.TempDir(), "rb.db"), true)
		defer s.Close()
		ob := bubbleOutbox(t, s, client)
		defer ob.Close()

		const perMinute, events = 3, 20
		ep := create(t, ob, "a", webhook.Config{URL: "http://crm.test/hook", Events: []string{"*"},
			RateLimit: webhook.RateLimit{PerMinute: perMinute}})
		start(t, ob)
		t0 := time.Now()
		for i := range events {
			publish(t, ob, callEvent("a", fmt.Sprintf("call_%d", i%4), i, cti.EventCallUpdated))
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()

		hits := rc.all()
		if len(hits) != events {
			t.Fatalf("%d requests in 10 minutes, want %d", len(hits), events)
		}
		if n := maxInWindow(hits, time.Minute); n > perMinute {
			t.Fatalf("%d requests within one minute, limit %d", n, perMinute)
		}
		// The limit is a ceiling, not a pace: a full minute's budget goes
		// out at once, then one more minute (plus the second of margin)
		// per batch of three.
		if hits[perMinute-1].At != t0 {
			t.Errorf("the first %d requests were not sent at once", perMinute)
		}
		if last, want := hits[events-1].At.Sub(t0), 6*(time.Minute+time.Second); last != want {
			t.Errorf("last request at +%s, want +%s", last, want)
		}
		if c := counts(t, ob, "a", ep.ID); c[webhook.StatusDelivered] != events {
			t.Fatalf("counts %v", c)
		}
	})
}

// The day's budget survives a restart: it is derived from the requests
// recorded in the database, not from memory.
func TestRateLimitPerDayAcrossRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{}
		client, stop := servePipe(rc)
		defer stop()
		path := filepath.Join(t.TempDir(), "rb.db")
		s := bubbleStore(t, path, true)
		ob := bubbleOutbox(t, s, client)

		const perDay, events = 4, 7
		ep := create(t, ob, "a", webhook.Config{URL: "http://crm.test/hook", Events: []string{"*"},
			RateLimit: webhook.RateLimit{PerMinute: 100, PerDay: perDay}})
		start(t, ob)
		t0 := time.Now()
		for i := range events {
			publish(t, ob, callEvent("a", "call_1", i, cti.EventCallEnded))
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := rc.count(); n != perDay {
			t.Fatalf("%d requests in the first hour, want the day's %d", n, perDay)
		}

		// Restart: a new outbox and store on the same file.
		_ = ob.Close()
		_ = s.Close()
		s = bubbleStore(t, path, false)
		defer s.Close()
		ob = bubbleOutbox(t, s, client)
		defer ob.Close()
		start(t, ob)
		time.Sleep(22 * time.Hour) // now t0+23h
		synctest.Wait()
		if n := rc.count(); n != perDay {
			t.Fatalf("%d requests by +23h: the restart reset the day's budget", n)
		}
		time.Sleep(2 * time.Hour) // now t0+25h
		synctest.Wait()
		hits := rc.all()
		if len(hits) != events {
			t.Fatalf("%d requests after a day, want %d", len(hits), events)
		}
		if n := maxInWindow(hits, 24*time.Hour); n > perDay {
			t.Fatalf("%d requests within 24h, limit %d", n, perDay)
		}
		if d := hits[perDay].At.Sub(t0); d < 24*time.Hour {
			t.Fatalf("request %d at +%s, inside the first day", perDay+1, d)
		}
		if c := counts(t, ob, "a", ep.ID); c[webhook.StatusDelivered] != events {
			t.Fatalf("counts %v", c)
		}
	})
}

// A Retry-After given as an HTTP date is honoured to the second.
func TestRetryAfterHTTPDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{}
		rc.setRespond(func(n int, _ *hit, w http.ResponseWriter, _ *http.Request) int {
			if n == 0 {
				w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
				return http.StatusServiceUnavailable
			}
			return 200
		})
		client, stop := servePipe(rc)
		defer stop()
		s := bubbleStore(t, filepath.Join(t.TempDir(), "rb.db"), true)
		defer s.Close()
		ob := bubbleOutbox(t, s, client)
		defer ob.Close()
		create(t, ob, "a", webhook.Config{URL: "http://crm.test/hook", Events: []string{"*"}})
		start(t, ob)
		t0 := time.Now()
		publish(t, ob, callEvent("a", "call_1", 1, cti.EventCallEnded), callEvent("a", "call_2", 1, cti.EventCallEnded))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		hits := rc.all()
		if len(hits) != 3 {
			t.Fatalf("%d requests, want 3", len(hits))
		}
		// HTTP dates have whole seconds; fake time starts on one.
		if d := hits[1].At.Sub(t0); d != 90*time.Second {
			t.Fatalf("resumed at +%s, want +90s", d)
		}
	})
}
