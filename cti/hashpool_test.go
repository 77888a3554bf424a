package cti

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHashPoolBoundsConcurrencyAndQueue(t *testing.T) {
	p := NewHashPool(1, 1, time.Minute)
	// Hold the only slot, then fill the one-place queue.
	if err := p.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() { waiter <- p.acquire(context.Background()) }()
	deadline := time.Now().Add(5 * time.Second)
	for p.waiting.Load() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("waiter never queued")
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.acquire(t.Context()); !errors.Is(err, ErrHashBusy) || ErrorKind(err) != KindUnavailable {
		t.Fatalf("third caller: %v, want ErrHashBusy", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	p2 := NewHashPool(1, 5, time.Minute)
	_ = p2.acquire(t.Context())
	if err := p2.acquire(ctx); ErrorKind(err) != KindUnavailable || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	p.release()
	if err := <-waiter; err != nil {
		t.Fatalf("queued caller: %v", err)
	}
	p.release()

	// MaxWait bounds the wait even without a deadline on the context.
	p3 := NewHashPool(1, 5, 20*time.Millisecond)
	_ = p3.acquire(t.Context())
	if err := p3.acquire(context.Background()); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("wait past MaxWait: %v", err)
	}
}

func TestHashPoolVerifies(t *testing.T) {
	p := NewHashPool(2, 0, 0)
	h, err := p.Hash(t.Context(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "pw"
			if i%2 == 1 {
				pw = "wrong"
			}
			ok, err := p.Verify(context.Background(), h, pw)
			if err != nil || ok != (i%2 == 0) {
				t.Errorf("Verify(%q) = %v, %v", pw, ok, err)
			}
		}()
	}
	wg.Wait()
	if len(p.slots) != 0 || p.waiting.Load() != 0 {
		t.Fatalf("slots %d waiting %d after all returned", len(p.slots), p.waiting.Load())
	}
}

// A burst of hashes returns the heap once, after the pool went idle, and
// not while hashing continues.
func TestHashPoolReturnsHeapOnceIdle(t *testing.T) {
	p := NewHashPool(2, 8, time.Minute)
	var freed atomic.Int64
	p.freeOS = func() { freed.Add(1) }
	phc, err := p.Hash(t.Context(), "burst")
	if err != nil {
		t.Fatal(err)
	}
	// While a hash is running the timer's check leaves the heap alone.
	if err := p.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	p.freeIfIdle()
	if n := freed.Load(); n != 0 {
		t.Fatalf("heap returned %d times while hashing was in progress", n)
	}
	p.release()
	for range 3 {
		if ok, err := p.Verify(t.Context(), phc, "burst"); err != nil || !ok {
			t.Fatalf("verify: %v %v", ok, err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for freed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := freed.Load(); n != 1 {
		t.Fatalf("heap returned %d times after the burst, want 1 (the timer is re-armed by each hash)", n)
	}
}
