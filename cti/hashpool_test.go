package cti

import (
	"context"
	"errors"
	"sync"
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
