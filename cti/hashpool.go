package cti

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Every argon2id computation allocates argonMemoryKiB (19 MiB) on purpose.
// Unbounded, parallel sign-ins for made-up users would grow the process by
// that much each (24 parallel requests took it from 35 MB to 660 MB), so
// all password work goes through one HashPool: at most Concurrency hashes
// run at once, at most Queue callers wait for a slot, and nobody waits
// longer than MaxWait or their context allows. Memory for hashing is thus
// bounded by Concurrency × 19 MiB (plus what the GC has not yet returned).

// Defaults for HashPool.
const (
	DefaultHashQueue   = 64
	DefaultHashMaxWait = 5 * time.Second
)

// DefaultHashConcurrency is GOMAXPROCS capped at 4: hashing is CPU-bound,
// so more slots than cores only add memory, not throughput.
func DefaultHashConcurrency() int { return max(1, min(4, runtime.GOMAXPROCS(0))) }

// ErrHashBusy refuses password work when the pool and its queue are full
// or the wait ran out; the edge answers 503 with Retry-After.
var ErrHashBusy = &Error{Kind: KindUnavailable, Message: "too many sign-ins in progress; try again shortly"}

// HashPool bounds concurrent password hashing.
//
// # Concurrency
//
// Safe for concurrent use; it holds no lock while hashing.
type HashPool struct {
	slots   chan struct{}
	waiting atomic.Int64
	queue   int64
	maxWait time.Duration

	// The 19 MiB each hash leaves behind is garbage at once, but the Go
	// heap grows to hold a few of them and the runtime returns that to
	// the OS only slowly (a 200-agent shift start left ~100 MiB of
	// resident idle heap for minutes). Once hashing has been idle for
	// releaseAfter, the memory is handed back in one go.
	releaseMu    sync.Mutex
	releaseTimer *time.Timer
	freeOS       func() // debug.FreeOSMemory; tests count the calls
}

// releaseAfter is how long the pool must be idle before the heap it grew
// is returned: long enough that a burst of sign-ins pays for it once.
const releaseAfter = time.Second

// NewHashPool returns a pool running at most concurrency hashes with up to
// queue callers waiting at most maxWait each. Zero values take the
// defaults; a negative queue means no caller waits.
func NewHashPool(concurrency, queue int, maxWait time.Duration) *HashPool {
	if concurrency <= 0 {
		concurrency = DefaultHashConcurrency()
	}
	switch {
	case queue == 0:
		queue = DefaultHashQueue
	case queue < 0:
		queue = 0
	}
	if maxWait <= 0 {
		maxWait = DefaultHashMaxWait
	}
	return &HashPool{slots: make(chan struct{}, concurrency), queue: int64(queue), maxWait: maxWait, freeOS: debug.FreeOSMemory}
}

// acquire takes a slot, or fails with ErrHashBusy (queue full, waited
// too long) or the context's error wrapped in ErrHashBusy.
func (p *HashPool) acquire(ctx context.Context) error {
	select {
	case p.slots <- struct{}{}:
		return nil
	default:
	}
	if p.waiting.Add(1) > p.queue {
		p.waiting.Add(-1)
		return ErrHashBusy
	}
	defer p.waiting.Add(-1)
	t := time.NewTimer(p.maxWait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrHashBusy
	case <-ctx.Done():
		return &Error{Kind: KindUnavailable, Message: ErrHashBusy.Message, Err: ctx.Err()}
	}
}

func (p *HashPool) release() {
	<-p.slots
	p.releaseMu.Lock()
	defer p.releaseMu.Unlock()
	if p.releaseTimer == nil {
		p.releaseTimer = time.AfterFunc(releaseAfter, p.freeIfIdle)
	} else {
		p.releaseTimer.Reset(releaseAfter)
	}
}

// freeIfIdle returns the freed heap to the OS unless hashing resumed (the
// next release re-arms the timer). FreeOSMemory is a full collection:
// some milliseconds of CPU once per burst of sign-ins.
func (p *HashPool) freeIfIdle() {
	if len(p.slots) > 0 {
		return
	}
	p.freeOS()
}

// Verify is VerifyPassword within the pool's bounds.
func (p *HashPool) Verify(ctx context.Context, phc, pw string) (bool, error) {
	if err := p.acquire(ctx); err != nil {
		return false, err
	}
	defer p.release()
	return VerifyPassword(phc, pw)
}

// Hash is HashPassword within the pool's bounds.
func (p *HashPool) Hash(ctx context.Context, pw string) (string, error) {
	if err := p.acquire(ctx); err != nil {
		return "", err
	}
	defer p.release()
	return HashPassword(pw)
}
