package cti

import (
	"testing"
	"time"
)

// A watcher that does not read is cut once it is a buffer behind, and
// nobody else waits for it: a reading watcher gets every delta in order.
func TestSlowWatcherIsCut(t *testing.T) {
	s := New(Config{}, nil, nil, nil)
	defer s.Close()
	slow := &Watch{svc: s, tenant: "t", ch: make(chan Delta, watchBuffer), done: make(chan struct{})}
	fast := &Watch{svc: s, tenant: "t", ch: make(chan Delta, watchBuffer), done: make(chan struct{})}
	s.watchers.by = map[string]map[*Watch]bool{"t": {slow: true, fast: true}}
	got := make(chan uint64, 2*watchBuffer)
	go func() {
		for d := range fast.ch {
			got <- d.Seq
		}
	}()
	for range watchBuffer + 10 {
		s.emit("t", Delta{Queue: &QueueView{Name: "q"}}, nil)
		time.Sleep(50 * time.Microsecond) // let the fast one keep up
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("the slow watcher was not cut")
	}
	select {
	case <-fast.Done():
		t.Fatal("the reading watcher was cut")
	default:
	}
	for want := uint64(1); want <= watchBuffer+10; want++ {
		select {
		case seq := <-got:
			if seq != want {
				t.Fatalf("delta %d, want %d", seq, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("delta %d never arrived", want)
		}
	}
	close(fast.ch)
}
