package webhook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.StateCommitter = (*Outbox)(nil)

// StoresEventState marks the outbox as a cti.StateSink: Publish stores an
// event's State in the event's transaction.
func (*Outbox) StoresEventState() {}

// Defaults for Options fields left zero.
const (
	DefaultRetention = 7 * 24 * time.Hour
	DefaultChunk     = 100
	pruneEvery       = time.Hour
	// maxGroup bounds how many Publish calls share one transaction.
	maxGroup = 1000
)

// Options configures an Outbox. Zero values take the documented defaults.
type Options struct {
	Log *slog.Logger
	// Client sends the requests. Default: NewHTTPClient with
	// AllowPrivate and Resolver: no redirects, public addresses only.
	Client *http.Client
	// AllowPrivate lists non-public ranges webhooks may nevertheless
	// reach (on-premises CRMs; test receivers on loopback). It is process
	// configuration, never a tenant's. Default none.
	AllowPrivate []netip.Prefix
	// Resolver looks up webhook hosts, at creation and for delivery.
	// Default net.DefaultResolver.
	Resolver Resolver
	// Limits bound endpoint configurations. Default DefaultLimits.
	Limits Limits
	// Retention is how long delivered deliveries stay visible. Default 7
	// days. Parked ones stay until redelivered or their endpoint is
	// deleted.
	Retention time.Duration
	// Chunk is how many deliveries a worker takes from the queue at once
	// when the endpoint does not batch. Each outcome is written as soon
	// as it is known, so a crash re-sends only the request in flight.
	// Default 100.
	Chunk int
	// UserAgent of the requests. Default "ringbridge-webhooks/1".
	UserAgent string
	// Poll, for a store that several nodes share (see nodes.go), is how
	// often workers look at their queues and the outbox reloads the
	// endpoints, besides being nudged by this node. Default 0: one node.
	Poll time.Duration
	// LeaseTTL is how long a node's claim on an endpoint lasts unrenewed,
	// with a shared store. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// Outbox is the webhook outbox: the cti.EventSink that stores events, the
// endpoint configuration, and the workers that deliver.
type Outbox struct {
	store Store
	opts  Options
	log   *slog.Logger

	mu        sync.RWMutex
	endpoints map[string]*Endpoint   // by id; values are never mutated
	byTenant  map[string][]*Endpoint // ordered by id
	workers   map[string]*worker
	running   bool // between Start and Close
	closed    bool
	// edits counts this node's endpoint changes, so a reload read before
	// one of them committed is not applied over it.
	edits uint64

	ctx    context.Context // parent of the workers; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	gc groupCommit
}

// Open loads the configured endpoints. Publish works as soon as Open
// returns; deliveries start with Start.
func Open(ctx context.Context, store Store, opts Options) (*Outbox, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	if opts.Client == nil {
		opts.Client = NewHTTPClient(AddrPolicy{AllowPrivate: opts.AllowPrivate}, opts.Resolver)
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = DefaultLimits
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Chunk <= 0 {
		opts.Chunk = DefaultChunk
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "ringbridge-webhooks/1"
	}
	eps, err := store.ListEndpoints(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("webhook: load endpoints: %w", err)
	}
	o := &Outbox{
		store:     store,
		opts:      opts,
		log:       opts.Log,
		endpoints: map[string]*Endpoint{},
		workers:   map[string]*worker{},
		gc:        groupCommit{token: make(chan struct{}, 1)},
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	for i := range eps {
		o.endpoints[eps[i].ID] = &eps[i]
	}
	o.reindex()
	return o, nil
}

// reindex rebuilds byTenant; o.mu must be held for writing.
func (o *Outbox) reindex() {
	o.byTenant = map[string][]*Endpoint{}
	for _, ep := range o.endpoints {
		o.byTenant[ep.TenantID] = append(o.byTenant[ep.TenantID], ep)
	}
	for _, eps := range o.byTenant {
		slices.SortFunc(eps, func(a, b *Endpoint) int { return strings.Compare(a.ID, b.ID) })
	}
}

// Start starts one delivery worker per endpoint and the pruning of old
// deliveries. It may be called once.
func (o *Outbox) Start() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.running || o.closed {
		return errors.New("webhook: outbox already started or closed")
	}
	o.running = true
	for _, ep := range o.endpoints {
		o.startWorker(ep)
	}
	o.wg.Go(o.pruneLoop)
	if o.opts.Poll > 0 {
		o.wg.Go(o.reloadLoop)
	}
	return nil
}

// Close stops the workers, abandoning requests in flight (they will be
// sent again: at least once), and waits for them. Undelivered deliveries
// stay in the store. Publish keeps working after Close.
func (o *Outbox) Close() error {
	o.mu.Lock()
	o.running = false
	o.closed = true
	o.workers = map[string]*worker{}
	o.mu.Unlock()
	o.cancel()
	o.wg.Wait()
	return nil
}

// startWorker runs a worker for ep; o.mu must be held for writing.
func (o *Outbox) startWorker(ep *Endpoint) {
	w := newWorker(o, ep)
	o.workers[ep.ID] = w
	ctx, cancel := context.WithCancel(o.ctx)
	w.cancel = cancel
	o.wg.Go(func() {
		defer close(w.done)
		w.run(ctx)
	})
}

func (o *Outbox) pruneLoop() {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		o.prune()
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Outbox) prune() {
	now := time.Now()
	n, err := o.store.Prune(o.ctx, now.Add(-o.opts.Retention), now.Add(-dayWindow-time.Hour))
	switch {
	case err != nil && o.ctx.Err() == nil:
		o.log.Warn("webhook prune failed", "err", err)
	case n > 0:
		o.log.Debug("webhook deliveries pruned", "rows", n)
	}
}

// wakeLocked nudges an endpoint's worker; o.mu must be held.
func (o *Outbox) wakeLocked(id string) {
	if w := o.workers[id]; w != nil {
		w.nudge()
	}
}

// Publish implements cti.EventSink: it stores the event with one delivery
// per endpoint of the tenant that subscribes to its type, in one
// transaction, and returns. An event no endpoint wants is not stored. An
// empty ID gets a fresh "evt_…" one and a zero Time the current time.
// Publishing an event again (a caller retrying after an error) may deliver
// it twice, with the same id, as any at-least-once delivery may.
func (o *Outbox) Publish(ctx context.Context, ev cti.Event) error {
	if ev.TenantID == "" {
		return cti.Errorf(cti.KindInvalid, "webhook: event has no tenant")
	}
	if !o.wanted(ev) && ev.State == nil {
		return nil
	}
	if ev.ID == "" {
		ev.ID = newID("evt_")
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	data := []byte("{}")
	if ev.Data != nil {
		var err error
		if data, err = json.Marshal(ev.Data); err != nil {
			return fmt.Errorf("webhook: encode %s data: %w", ev.Type, err)
		}
	}
	req := &pubReq{
		ev: StoredEvent{
			ID: ev.ID, TenantID: ev.TenantID, Type: ev.Type, CallID: ev.CallID,
			Time: ev.Time.UTC(), Data: data,
		},
		state: ev.State,
		done:  make(chan error, 1),
	}
	return o.gc.publish(ctx, req, o.commit)
}

// StoreState implements cti.StateCommitter: it stores state that has no
// event in the next group commit, with whatever events and state other
// goroutines are publishing at the same moment, and returns once it is
// durable.
func (o *Outbox) StoreState(ctx context.Context, st *cti.EventState) error {
	if st == nil {
		return nil
	}
	return o.gc.publish(ctx, &pubReq{state: st, done: make(chan error, 1)}, o.commit)
}

// wanted reports whether any endpoint of the event's tenant subscribes to
// its type.
func (o *Outbox) wanted(ev cti.Event) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, ep := range o.byTenant[ev.TenantID] {
		if ep.Config.wants(ev.Type) {
			return true
		}
	}
	return false
}

// commit stores one group of published events; it runs with the group
// commit token held.
func (o *Outbox) commit(reqs []*pubReq) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	batch := make([]NewDeliveries, 0, len(reqs))
	var touched []string
	for _, r := range reqs {
		nd := NewDeliveries{Event: r.ev, State: r.state}
		for _, ep := range o.byTenant[r.ev.TenantID] {
			if ep.Config.wants(r.ev.Type) {
				nd.EndpointIDs = append(nd.EndpointIDs, ep.ID)
			}
		}
		if len(nd.EndpointIDs) > 0 || nd.State != nil {
			batch = append(batch, nd)
			touched = append(touched, nd.EndpointIDs...)
		}
	}
	var err error
	if len(batch) > 0 {
		// The endpoint cache stays read-locked through the transaction so
		// that an endpoint cannot be deleted between matching and insert.
		err = o.store.Enqueue(context.Background(), batch, time.Now())
		if err != nil {
			err = fmt.Errorf("webhook: store events: %w", err)
		}
	}
	for _, r := range reqs {
		r.done <- err
	}
	if err == nil {
		for _, id := range touched {
			o.wakeLocked(id)
		}
	}
}

// pubReq is one Publish waiting for its commit.
type pubReq struct {
	ev    StoredEvent
	state *cti.EventState // stored in the same transaction
	done  chan error      // buffered: the committer never blocks on it
}

// groupCommit lets concurrent Publish calls share transactions. Whoever
// holds the token commits everything queued; the others wait for their
// result or for the token, whichever comes first. No goroutine is needed,
// and an abandoned request is either withdrawn or committed, never lost.
type groupCommit struct {
	token chan struct{} // capacity 1: holding it means committing
	mu    sync.Mutex
	queue []*pubReq
	// committing is how many requests the token's holder is committing.
	committing int
}

// Waiting returns how many publications (events and state) are waiting
// for their commit, those being committed included: what the next commits
// will share.
func (o *Outbox) Waiting() int {
	o.gc.mu.Lock()
	defer o.gc.mu.Unlock()
	return len(o.gc.queue) + o.gc.committing
}

func (g *groupCommit) publish(ctx context.Context, req *pubReq, commit func([]*pubReq)) error {
	g.mu.Lock()
	g.queue = append(g.queue, req)
	g.mu.Unlock()
	for {
		select {
		case err := <-req.done:
			return err
		case g.token <- struct{}{}:
			g.mu.Lock()
			n := min(len(g.queue), maxGroup)
			batch := slices.Clone(g.queue[:n])
			g.queue = slices.Delete(g.queue, 0, n)
			g.committing = n
			g.mu.Unlock()
			if len(batch) > 0 {
				commit(batch)
			}
			g.mu.Lock()
			g.committing = 0
			g.mu.Unlock()
			<-g.token
		case <-ctx.Done():
			g.mu.Lock()
			i := slices.Index(g.queue, req)
			if i >= 0 {
				g.queue = slices.Delete(g.queue, i, i+1)
			}
			g.mu.Unlock()
			if i >= 0 {
				return fmt.Errorf("webhook: publish: %w", ctx.Err())
			}
			// Already taken by a committer: its outcome follows shortly.
			return <-req.done
		}
	}
}

// newEndpointID returns a fresh endpoint id.
func newEndpointID() string { return newID("whk_") }

// newID returns prefix, 12 hex digits of Unix milliseconds and 16 random
// hex digits: unique, and sortable by creation time (the format of cti's
// event ids; ulid would bring database/sql into the domain layer).
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return fmt.Sprintf("%s%012x%s", prefix, time.Now().UnixMilli(), hex.EncodeToString(b[:]))
}

// CreateEndpoint validates cfg and adds an endpoint to the tenant with a
// fresh signing secret, which the returned endpoint carries (the only time
// the API shows it).
func (o *Outbox) CreateEndpoint(ctx context.Context, tenantID string, cfg Config) (*Endpoint, error) {
	cfg.Normalize()
	if err := cfg.Validate(o.opts.Limits); err != nil {
		return nil, err
	}
	if err := o.checkTarget(ctx, cfg.URL); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	ep := &Endpoint{
		ID: newEndpointID(), TenantID: tenantID, Config: cfg, Secret: NewSecret(),
		CreatedAt: now, UpdatedAt: now,
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.byTenant[tenantID]) >= MaxEndpointsPerTenant {
		return nil, cti.Errorf(cti.KindConflict, "tenant already has %d webhook endpoints, the maximum", MaxEndpointsPerTenant)
	}
	if err := o.store.CreateEndpoint(ctx, ep); err != nil {
		return nil, err
	}
	o.endpoints[ep.ID] = ep
	o.edits++
	o.reindex()
	if o.running {
		o.startWorker(ep)
	}
	cp := *ep
	return &cp, nil
}

// UpdateEndpoint replaces an endpoint's configuration. Credentials left
// empty keep their stored value when the auth type and the user or key
// name stay the same, so a client can send back what GET returned. The
// queue, secret and delivery state are kept.
func (o *Outbox) UpdateEndpoint(ctx context.Context, tenantID, id string, cfg Config) (*Endpoint, error) {
	// Outside the lock: a DNS lookup must not stall Publish.
	if err := o.checkTarget(ctx, strings.TrimSpace(cfg.URL)); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := o.endpoints[id]
	if cur == nil || cur.TenantID != tenantID {
		return nil, errEndpointNotFound(id)
	}
	cfg.Normalize()
	keepCredentials(&cfg.Auth, &cur.Config.Auth)
	if err := cfg.Validate(o.opts.Limits); err != nil {
		return nil, err
	}
	ep := *cur
	ep.Config = cfg
	ep.UpdatedAt = time.Now().UTC()
	if err := o.store.UpdateEndpoint(ctx, &ep); err != nil {
		return nil, err
	}
	o.endpoints[id] = &ep
	o.edits++
	o.reindex()
	if w := o.workers[id]; w != nil {
		w.update(&ep)
	}
	cp := ep
	return &cp, nil
}

func keepCredentials(next, cur *Auth) {
	if next.Type != cur.Type {
		return
	}
	switch next.Type {
	case AuthBasic:
		if next.Password == "" && next.Username == cur.Username {
			next.Password = cur.Password
		}
	case AuthAPIKey:
		if next.Value == "" && next.Name == cur.Name && next.In == cur.In {
			next.Value = cur.Value
		}
	}
}

// DeleteEndpoint stops the endpoint's worker and deletes it with its
// queue: undelivered deliveries are dropped.
func (o *Outbox) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	cur := o.endpoints[id]
	if cur == nil || cur.TenantID != tenantID {
		return errEndpointNotFound(id)
	}
	if w := o.workers[id]; w != nil {
		w.stop()
		delete(o.workers, id)
	}
	if err := o.store.DeleteEndpoint(ctx, tenantID, id); err != nil {
		// The worker is gone but the endpoint is not: run it again.
		if o.running {
			o.startWorker(cur)
		}
		return err
	}
	delete(o.endpoints, id)
	o.edits++
	o.reindex()
	return nil
}

func errEndpointNotFound(id string) error {
	return cti.Errorf(cti.KindNotFound, "webhook endpoint %q not found", id)
}

// Endpoint returns one endpoint of the tenant with its current state.
func (o *Outbox) Endpoint(ctx context.Context, tenantID, id string) (*Endpoint, error) {
	return o.store.GetEndpoint(ctx, tenantID, id)
}

// Endpoints returns the tenant's endpoints.
func (o *Outbox) Endpoints(ctx context.Context, tenantID string) ([]Endpoint, error) {
	return o.store.ListEndpoints(ctx, tenantID)
}

// QueueCounts counts an endpoint's deliveries by status.
func (o *Outbox) QueueCounts(ctx context.Context, tenantID, id string) (map[Status]int, error) {
	return o.store.CountDeliveries(ctx, tenantID, id)
}

// MaxPage bounds DeliveryQuery.Limit.
const MaxPage = 500

// Deliveries lists an endpoint's deliveries, newest first.
func (o *Outbox) Deliveries(ctx context.Context, tenantID, endpointID string, q DeliveryQuery) ([]Delivery, error) {
	if q.Status != "" && !q.Status.Valid() {
		return nil, cti.Errorf(cti.KindInvalid, "status: must be pending, failed, delivered or parked, not %q", q.Status)
	}
	if q.Limit <= 0 || q.Limit > MaxPage {
		q.Limit = min(max(q.Limit, 50), MaxPage)
	}
	if _, err := o.store.GetEndpoint(ctx, tenantID, endpointID); err != nil {
		return nil, err
	}
	return o.store.Deliveries(ctx, tenantID, endpointID, q)
}

// Redeliver sends one delivery again, whatever its status: it becomes
// pending, due now, with its attempts reset, and keeps its place in the
// endpoint's queue (so it goes before later events of its call). The
// endpoint's failure state is cleared so that it is tried at once.
func (o *Outbox) Redeliver(ctx context.Context, tenantID, deliveryID string) (*Delivery, error) {
	seq, ok := ParseDeliveryID(deliveryID)
	if !ok {
		return nil, cti.Errorf(cti.KindNotFound, "delivery %q not found", deliveryID)
	}
	d, err := o.store.Redeliver(ctx, tenantID, seq, time.Now())
	if err != nil {
		return nil, err
	}
	o.resetWorker(d.EndpointID)
	return d, nil
}

// RedeliverAll sends every delivery of an endpoint in status (parked or
// failed) again, as Redeliver does, and returns how many.
func (o *Outbox) RedeliverAll(ctx context.Context, tenantID, endpointID string, status Status) (int, error) {
	if status != StatusParked && status != StatusFailed {
		return 0, cti.Errorf(cti.KindInvalid, "status: bulk redelivery takes parked or failed, not %q", status)
	}
	if _, err := o.store.GetEndpoint(ctx, tenantID, endpointID); err != nil {
		return 0, err
	}
	n, err := o.store.RedeliverAll(ctx, tenantID, endpointID, status, time.Now())
	if err != nil {
		return 0, err
	}
	if n > 0 {
		o.resetWorker(endpointID)
	}
	return n, nil
}

func (o *Outbox) resetWorker(endpointID string) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if w := o.workers[endpointID]; w != nil {
		w.resetHealth()
	}
}

// checkTarget refuses an endpoint URL whose host is not public and not
// allow-listed (client.go).
func (o *Outbox) checkTarget(ctx context.Context, rawURL string) error {
	return AddrPolicy{AllowPrivate: o.opts.AllowPrivate}.CheckTarget(ctx, o.opts.Resolver, rawURL)
}
