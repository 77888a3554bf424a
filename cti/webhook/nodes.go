package webhook

import (
	"context"
	"time"
)

// Several ringbridge nodes may share one store (PostgreSQL,
// docs/scale-out.md). Each node runs a worker per endpoint, but only the
// node holding the endpoint's lease delivers its queue, so a call's
// events keep their order and the endpoint's rate limit and health are
// kept by one process. The lease is a claim on the endpoint's row (FOR
// UPDATE SKIP LOCKED, renewed while delivering); a node that dies loses
// it when it expires, and another node's worker takes the queue over
// where the store says it stands. A request in flight when its node died
// is sent again by the next holder: at least once, duplicates carrying
// the same webhook-id.
//
// Another node's publishes and endpoint changes do not nudge this node's
// workers, so with Options.Poll set the workers look at their queues, and
// the outbox at the endpoints, at least that often.

// Leaser is implemented by a Store shared by several nodes.
type Leaser interface {
	// Lease takes or renews, for this node, the lease on an endpoint's
	// queue until until. When another node holds it, held is false and
	// heldUntil says when that lease ends.
	Lease(ctx context.Context, endpointID string, now, until time.Time) (held bool, heldUntil time.Time, err error)
	// Release gives the lease up, if this node holds it.
	Release(ctx context.Context, endpointID string) error
}

// DefaultLeaseTTL is how long a lease lasts without renewal: the longest
// a dead node's endpoints wait for another node. Workers renew at half
// of it.
const DefaultLeaseTTL = 10 * time.Second

// leaseState is a worker's view of its lease; owned by the run goroutine.
type leaseState struct {
	held  bool
	until time.Time
}

// holdLease makes sure the worker may deliver: without a Leaser it always
// may; otherwise it renews or takes the lease and, when another node
// holds it, returns when to try again. Taking over a lease reloads the
// endpoint's health from the store: the previous holder kept it.
func (w *worker) holdLease(ctx context.Context, now time.Time) (ok bool, retryAt time.Time) {
	l, shared := w.o.store.(Leaser)
	if !shared {
		return true, time.Time{}
	}
	ttl := w.o.opts.LeaseTTL
	if w.lease.held && now.Before(w.lease.until.Add(-ttl/2)) {
		return true, time.Time{}
	}
	held, until, err := l.Lease(ctx, w.id, now, now.Add(ttl))
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook lease unavailable", "err", err)
		}
		w.lease.held = false
		return false, now.Add(errorBackoff)
	}
	if !held {
		w.lease.held = false
		if until.Before(now.Add(errorBackoff)) {
			until = now.Add(errorBackoff)
		}
		return false, until
	}
	if !w.lease.held {
		w.takeOver(ctx)
	}
	w.lease = leaseState{held: true, until: now.Add(ttl)}
	return true, time.Time{}
}

// takeOver adopts the endpoint's stored health and request log.
func (w *worker) takeOver(ctx context.Context) {
	if w.ep == nil {
		return
	}
	ep, err := w.o.store.GetEndpoint(ctx, w.ep.TenantID, w.id)
	if err != nil {
		w.log.Warn("webhook endpoint state unreadable", "err", err)
		return
	}
	w.state, w.dirty = ep.State, false
	w.reqsTook = false
	w.reqs = newRequestLog(w.ep.Config.RateLimit)
	w.apply(ctx)
}

// releaseLease gives the lease up when the worker stops, so another node
// need not wait for it to expire.
func (w *worker) releaseLease() {
	l, shared := w.o.store.(Leaser)
	if !shared || !w.lease.held {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.Release(ctx, w.id); err != nil {
		w.log.Debug("webhook lease not released", "err", err)
	}
	w.lease.held = false
}

// pollCap brings a wake-up time forward to the poll interval, when set.
func (w *worker) pollCap(t time.Time) time.Time {
	p := w.o.opts.Poll
	if p <= 0 {
		return t
	}
	if limit := time.Now().Add(p); t.IsZero() || t.After(limit) {
		return limit
	}
	return t
}

// reloadLoop follows endpoint changes other nodes make.
func (o *Outbox) reloadLoop() {
	t := time.NewTicker(o.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
		}
		o.mu.RLock()
		edits := o.edits
		o.mu.RUnlock()
		eps, err := o.store.ListEndpoints(o.ctx, "")
		if err != nil {
			if o.ctx.Err() == nil {
				o.log.Warn("webhook endpoints unreadable", "err", err)
			}
			continue
		}
		o.reconcile(eps, edits)
	}
}

// reconcile makes the endpoints and workers those of the store: new ones
// added and started, changed ones updated, deleted ones stopped. A list
// read before this node's latest change (edits) is stale: the next one
// will do.
func (o *Outbox) reconcile(eps []Endpoint, edits uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.running || o.edits != edits {
		return
	}
	seen := make(map[string]bool, len(eps))
	changed := false
	for i := range eps {
		ep := &eps[i]
		seen[ep.ID] = true
		cur := o.endpoints[ep.ID]
		switch {
		case cur == nil:
			o.endpoints[ep.ID] = ep
			o.startWorker(ep)
			changed = true
		case !cur.UpdatedAt.Equal(ep.UpdatedAt):
			ep.State = cur.State
			o.endpoints[ep.ID] = ep
			if w := o.workers[ep.ID]; w != nil {
				w.update(ep)
			}
			changed = true
		}
	}
	for id := range o.endpoints {
		if seen[id] {
			continue
		}
		if w := o.workers[id]; w != nil {
			w.stop()
			delete(o.workers, id)
		}
		delete(o.endpoints, id)
		changed = true
	}
	if changed {
		o.reindex()
	}
}
