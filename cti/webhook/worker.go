package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

const (
	// scanPage is how many queue rows one query reads.
	scanPage = 256
	// maxScan bounds the rows one pick looks at; beyond it the worker
	// looks again a second later.
	maxScan = 50_000
	// errorBackoff is the pause after a store error.
	errorBackoff = time.Second
	// maxResponse is how much of a response body is read (and so how much
	// a receiver can make us read); the connection is reused below it.
	maxResponse = 64 << 10
	// reasonNoResponse and reasonRefusedAddr are the only texts a network
	// failure leaves in LastError (besides "timeout"-free HTTP statuses).
	reasonNoResponse  = "no response from the receiver (connection failed or timed out)"
	reasonRefusedAddr = "target address is not public and not allow-listed for webhooks"
	// downAfter consecutive failures mark the endpoint as down.
	downAfter = 2
)

// worker delivers one endpoint's queue. Everything but the channels and
// atomics is owned by the run goroutine.
type worker struct {
	o         *Outbox
	id        string
	next      atomic.Pointer[Endpoint] // configuration to apply
	wake      chan struct{}            // new deliveries; capacity 1
	poke      chan struct{}            // configuration or redelivery; capacity 1
	resetting atomic.Bool
	cancel    context.CancelFunc
	done      chan struct{}
	log       *slog.Logger

	ep       *Endpoint
	url      *url.URL // ep's, parsed once
	urlErr   error
	set      settings
	fields   *fieldTree
	sig      signer
	sigErr   error
	reqs     *requestLog
	state    EndpointState
	dirty    bool // state differs from the stored one
	reqsTook bool // reqs loaded from the store
	lease    leaseState
}

func newWorker(o *Outbox, ep *Endpoint) *worker {
	w := &worker{
		o:     o,
		id:    ep.ID,
		wake:  make(chan struct{}, 1),
		poke:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		log:   o.log.With("webhook", ep.ID, "tenant", ep.TenantID),
		state: ep.State,
	}
	w.next.Store(ep)
	return w
}

// nudge tells the worker that deliveries were added to its queue.
func (w *worker) nudge() { signal(w.wake) }

// update hands the worker a new configuration. A changed configuration
// (say, corrected credentials) deserves a fresh try, so the endpoint's
// consecutive failures are forgotten too.
func (w *worker) update(ep *Endpoint) {
	w.next.Store(ep)
	w.resetting.Store(true)
	signal(w.poke)
}

// resetHealth forgets consecutive failures (after a redelivery).
func (w *worker) resetHealth() {
	w.resetting.Store(true)
	signal(w.poke)
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// stop cancels the worker and waits for it.
func (w *worker) stop() {
	w.cancel()
	<-w.done
}

// apply switches to the latest configuration.
func (w *worker) apply(ctx context.Context) {
	ep := w.next.Load()
	if ep == w.ep {
		return
	}
	limitsChanged := w.ep == nil || w.ep.Config.RateLimit != ep.Config.RateLimit
	w.ep = ep
	var err error
	if w.set, err = ep.Config.parse(); err != nil {
		w.log.Error("webhook configuration unusable", "err", err)
	}
	w.fields = compileFields(ep.Config.Fields)
	w.url, w.urlErr = url.Parse(ep.Config.URL)
	w.sig, w.sigErr = newSigner(ep.Secret)
	if limitsChanged {
		w.reqs = newRequestLog(ep.Config.RateLimit)
		w.reqsTook = false
	}
	if w.reqs.limited() && !w.reqsTook {
		now := time.Now()
		times, err := w.o.store.Requests(ctx, w.id, now.Add(-w.reqs.span()), w.reqs.keep())
		if err != nil {
			// Better late than over the limit: retry on the next loop.
			w.log.Warn("webhook request log unreadable", "err", err)
			w.ep = nil
			return
		}
		for _, t := range times {
			w.reqs.add(t)
		}
		w.reqsTook = true
	}
}

func (w *worker) run(ctx context.Context) {
	defer w.releaseLease()
	for ctx.Err() == nil {
		w.apply(ctx)
		if w.ep == nil {
			w.sleep(ctx, time.Now().Add(errorBackoff), false)
			continue
		}
		if w.resetting.Swap(false) && w.state.Failures != 0 {
			w.state.Failures = 0
			w.dirty = true
		}
		now := time.Now()
		if ok, retryAt := w.holdLease(ctx, now); !ok {
			w.sleep(ctx, retryAt, false)
			continue
		}
		if now.Before(w.state.PausedUntil) {
			w.flushState(ctx)
			w.sleep(ctx, w.state.PausedUntil, false)
			continue
		}
		items, wakeAt, err := w.pick(ctx, now)
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("webhook queue unreadable", "err", err)
			}
			w.sleep(ctx, now.Add(errorBackoff), false)
			continue
		}
		if len(items) == 0 {
			w.flushState(ctx)
			// While the endpoint is down and a retry is scheduled, new
			// deliveries cannot be sent (only due retries probe it), so
			// they need not wake us: in a long outage each wake-up would
			// rescan a long queue.
			w.sleep(ctx, wakeAt, w.state.Failures < downAfter || wakeAt.IsZero())
			continue
		}
		if !w.deliver(ctx, items) {
			w.sleep(ctx, time.Now().Add(errorBackoff), false)
		}
	}
}

// sleep waits until t (forever when t is zero), a poke, cancellation, and
// when onPublish is set, new deliveries.
func (w *worker) sleep(ctx context.Context, t time.Time, onPublish bool) {
	t = w.pollCap(t)
	var timer <-chan time.Time
	if !t.IsZero() {
		tm := time.NewTimer(time.Until(t))
		defer tm.Stop()
		timer = tm.C
	}
	var wake <-chan struct{}
	if onPublish {
		wake = w.wake
	}
	select {
	case <-ctx.Done():
	case <-w.poke:
	case <-wake:
	case <-timer:
	}
}

// sleepUntil waits until t or cancellation, ignoring nudges.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}

// pick returns the deliveries to send now, in order, and otherwise when
// to look again (zero: when nudged).
//
// It walks the queue in publication order. A delivery is taken when it is
// due, unless an earlier delivery of the same call was not taken: that
// call is then blocked for the rest of the walk, which is what keeps a
// call's events in order. While the endpoint is down (consecutive
// failures), only failed deliveries that are due are taken: they probe the
// receiver on their retry schedule while everything else waits without
// spending attempts.
func (w *worker) pick(ctx context.Context, now time.Time) ([]QueueItem, time.Time, error) {
	want := w.o.opts.Chunk
	if w.ep.Config.BatchSize > 1 {
		want = w.ep.Config.BatchSize
	}
	down := w.state.Failures >= downAfter
	items, wakeAt, sawFailed, truncated, err := w.scan(ctx, now, want, down)
	if err == nil && down && len(items) == 0 && !sawFailed {
		// Nothing left to probe with (all parked or redelivered): the
		// oldest due delivery becomes the probe.
		items, wakeAt, _, truncated, err = w.scan(ctx, now, 1, false)
	}
	if truncated && len(items) == 0 && (wakeAt.IsZero() || wakeAt.After(now.Add(errorBackoff))) {
		wakeAt = now.Add(errorBackoff)
	}
	return items, wakeAt, err
}

func (w *worker) scan(ctx context.Context, now time.Time, want int, down bool) (taken []QueueItem, wakeAt time.Time, sawFailed, truncated bool, err error) {
	blocked := map[string]bool{}
	var after int64
	// The first page is sized to what is wanted: usually the head of the
	// queue is all due.
	limit := min(want+8, scanPage)
	for scanned := 0; ; limit = scanPage {
		page, err := w.o.store.Queue(ctx, w.id, after, limit)
		if err != nil {
			return nil, time.Time{}, false, false, err
		}
		for _, it := range page {
			after = it.Seq
			if it.CallID != "" && blocked[it.CallID] {
				continue
			}
			due := !it.NextAt.After(now)
			probe := !down || it.Status == StatusFailed
			if probe && it.Status == StatusFailed {
				sawFailed = true
			}
			if due && probe {
				taken = append(taken, it)
				if len(taken) == want {
					return taken, time.Time{}, sawFailed, false, nil
				}
				continue
			}
			if it.CallID != "" {
				blocked[it.CallID] = true
			}
			if probe && (wakeAt.IsZero() || it.NextAt.Before(wakeAt)) {
				wakeAt = it.NextAt
			}
		}
		scanned += len(page)
		if len(page) < limit {
			return taken, wakeAt, sawFailed, false, nil
		}
		if scanned >= maxScan {
			return taken, wakeAt, sawFailed, true, nil
		}
	}
}

// outcome is what one request came to.
type outcome int

const (
	outcomeDelivered  outcome = iota
	outcomeFailed             // counts as an attempt
	outcomeThrottled          // 429/503 with Retry-After: wait, no attempt spent
	outcomeUnsendable         // cannot be sent at all: park at once
	outcomeAborted            // cancelled: nothing to record
)

type sendResult struct {
	outcome    outcome
	code       int
	err        string
	retryAfter time.Duration
}

// deliver sends the picked deliveries, one request each or one batch, and
// records each outcome as soon as it is known, before the next request
// (or any wait for a rate limit): a crash re-sends at most the request in
// flight, and the API never shows a delivered event as pending for longer
// than one commit. It reports false after a store error.
func (w *worker) deliver(ctx context.Context, items []QueueItem) bool {
	seqs := make([]int64, len(items))
	for i, it := range items {
		seqs[i] = it.Seq
	}
	events, err := w.o.store.Payloads(ctx, w.id, seqs)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook events unreadable", "err", err)
		}
		return false
	}
	record := func(its []QueueItem, r sendResult, at time.Time) bool {
		results := make([]Result, 0, len(its))
		for _, it := range its {
			results = append(results, w.result(it, r, at))
		}
		w.noteHealth(r, at)
		return w.recordResults(ctx, results)
	}
	if w.ep.Config.BatchSize > 1 {
		evs := make([]*StoredEvent, 0, len(items))
		var missing []QueueItem
		var present []QueueItem
		for _, it := range items {
			if ev := events[it.Seq]; ev != nil {
				evs = append(evs, ev)
				present = append(present, it)
			} else {
				missing = append(missing, it)
			}
		}
		if len(missing) > 0 && !record(missing, sendResult{outcome: outcomeUnsendable, err: "event data missing from the outbox"}, time.Now()) {
			return false
		}
		if len(evs) > 0 {
			r := w.send(ctx, evs, true)
			if r.outcome != outcomeAborted {
				return record(present, r, time.Now())
			}
		}
		return true
	}
	for _, it := range items {
		ev := events[it.Seq]
		var r sendResult
		if ev == nil {
			r = sendResult{outcome: outcomeUnsendable, err: "event data missing from the outbox"}
		} else {
			r = w.send(ctx, []*StoredEvent{ev}, false)
		}
		if r.outcome == outcomeAborted {
			break
		}
		if !record([]QueueItem{it}, r, time.Now()) {
			return false
		}
		if r.outcome == outcomeFailed || r.outcome == outcomeThrottled {
			// Later items may be of the same call; pick again.
			break
		}
	}
	return true
}

// recordResults writes outcomes (and the endpoint state when it changed),
// even when the worker is being cancelled: what was sent should not be
// sent again.
func (w *worker) recordResults(ctx context.Context, results []Result) bool {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var state *EndpointState
	if w.dirty {
		state = &w.state
	}
	if len(results) == 0 && state == nil {
		return true
	}
	if err := w.o.store.RecordResults(fctx, w.id, results, state); err != nil {
		w.log.Warn("webhook results not recorded; deliveries will be sent again", "err", err)
		return false
	}
	w.dirty = false
	return true
}

// flushState writes the endpoint state when it changed.
func (w *worker) flushState(ctx context.Context) {
	if !w.dirty {
		return
	}
	if err := w.o.store.RecordResults(ctx, w.id, nil, &w.state); err != nil {
		if ctx.Err() == nil {
			w.log.Warn("webhook state not recorded", "err", err)
		}
		return
	}
	w.dirty = false
}

// result turns an outcome into the delivery's new row.
func (w *worker) result(it QueueItem, r sendResult, at time.Time) Result {
	res := Result{
		Seq: it.Seq, PrevAttempts: it.Attempts, At: at, Code: r.code, Error: r.err,
		Status: it.Status, Attempts: it.Attempts, NextAt: it.NextAt,
	}
	switch r.outcome {
	case outcomeDelivered:
		res.Status = StatusDelivered
		res.Attempts++
	case outcomeFailed:
		res.Attempts++
		if res.Attempts > w.set.retries {
			res.Status = StatusParked
		} else {
			res.Status = StatusFailed
			res.NextAt = at.Add(w.set.retryDelay(res.Attempts))
		}
	case outcomeUnsendable:
		res.Attempts++
		res.Status = StatusParked
	case outcomeThrottled:
		// Waiting for the receiver is not a failure of the delivery.
	}
	return res
}

// noteHealth updates the endpoint state after a request.
func (w *worker) noteHealth(r sendResult, at time.Time) {
	switch r.outcome {
	case outcomeDelivered:
		if w.state.Failures != 0 {
			w.state.Failures = 0
			w.dirty = true
		}
	case outcomeFailed:
		w.state.Failures++
		w.dirty = true
		if w.state.Failures == downAfter {
			w.log.Warn("webhook endpoint failing; probing with retries only", "code", r.code, "err", r.err)
		}
	case outcomeThrottled:
		w.state.PausedUntil = at.Add(r.retryAfter)
		w.dirty = true
		w.log.Info("webhook endpoint throttled us", "code", r.code, "retry_after", r.retryAfter)
	}
}

// send makes one request for evs (a batch when batch is set) within the
// rate limits.
func (w *worker) send(ctx context.Context, evs []*StoredEvent, batch bool) sendResult {
	if w.sigErr != nil {
		return sendResult{outcome: outcomeUnsendable, err: "endpoint secret unusable: " + w.sigErr.Error()}
	}
	req, err := w.request(evs, batch)
	if err != nil {
		return sendResult{outcome: outcomeUnsendable, err: err.Error()}
	}
	if !w.admit(ctx) {
		return sendResult{outcome: outcomeAborted}
	}
	// The signature's timestamp is the attempt's, taken after any wait.
	ts := time.Now().Unix()
	req.header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.header.Set("webhook-signature", w.sig.sign(req.id, ts, req.signed))

	rctx, cancel := context.WithTimeout(ctx, w.set.timeout)
	defer cancel()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(rctx, req.method, req.url, body)
	if err != nil {
		return sendResult{outcome: outcomeUnsendable, err: "build request: " + err.Error()}
	}
	hreq.Header = req.header
	resp, err := w.o.opts.Client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil {
			return sendResult{outcome: outcomeAborted}
		}
		// The tenant sees one generic reason for every network failure:
		// refused, reset, timed out or unresolvable look alike, so
		// deliveries cannot map which ports of a host are open. The
		// operator's log has the detail.
		w.log.Info("webhook delivery failed", "err", err)
		if errors.Is(err, errRefusedAddr) {
			return sendResult{outcome: outcomeFailed, err: reasonRefusedAddr}
		}
		return sendResult{outcome: outcomeFailed, err: reasonNoResponse}
	}
	// Read (bounded) so the connection can be reused; the body is never
	// stored or shown: it may hold whatever the receiver's network has.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return sendResult{outcome: outcomeDelivered, code: code}
	case ctx.Err() != nil:
		return sendResult{outcome: outcomeAborted}
	}
	r := sendResult{outcome: outcomeFailed, code: code, err: fmt.Sprintf("HTTP %d", code)}
	if code >= 300 && code < 400 {
		r.err = fmt.Sprintf("HTTP %d: redirects are not followed; configure the final URL", code)
	}
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		switch {
		case ok:
			r.outcome, r.retryAfter = outcomeThrottled, ra
		case code == http.StatusTooManyRequests:
			// Throttled without saying for how long: wait the first
			// retry interval (or a minute).
			r.outcome, r.retryAfter = outcomeThrottled, w.set.retryDelay(1)
			if r.retryAfter <= 0 {
				r.retryAfter = time.Minute
			}
		}
	}
	return r
}

// admit waits until the rate limits allow a request and records it.
func (w *worker) admit(ctx context.Context) bool {
	if !w.reqs.limited() {
		return ctx.Err() == nil
	}
	for {
		now := time.Now()
		at := w.reqs.nextAllowed(now)
		if !at.After(now) {
			w.reqs.add(now)
			// Persisted before sending, so a restart cannot forget a
			// request that went out.
			if err := w.o.store.RecordRequest(ctx, w.id, now); err != nil && ctx.Err() == nil {
				w.log.Warn("webhook request not recorded for the rate limit", "err", err)
			}
			return ctx.Err() == nil
		}
		if !sleepUntil(ctx, at) {
			return false
		}
	}
}

// preparedRequest is a request before its per-attempt headers.
type preparedRequest struct {
	id     string // webhook-id
	method string
	url    string
	header http.Header
	body   []byte
	signed []byte // what the signature covers: the body, or for GET the raw query
}

func (w *worker) request(evs []*StoredEvent, batch bool) (*preparedRequest, error) {
	cfg := &w.ep.Config
	if w.urlErr != nil {
		return nil, fmt.Errorf("endpoint URL: %w", w.urlErr)
	}
	u := *w.url
	var err error
	h := http.Header{}
	h.Set("User-Agent", w.o.opts.UserAgent)
	p := &preparedRequest{method: cfg.Method, header: h}
	if batch {
		p.id = batchID(evs)
	} else {
		p.id = evs[0].ID
	}
	h.Set("webhook-id", p.id)
	// The query is rebuilt only when something is added to it.
	var q url.Values
	query := func() url.Values {
		if q == nil {
			q = u.Query()
		}
		return q
	}
	switch cfg.Method {
	case MethodGET:
		params, err := getQuery(evs[0], w.fields)
		if err != nil {
			return nil, err
		}
		for k, vs := range params {
			query()[k] = vs
		}
	default:
		if p.body, err = postBody(evs, w.fields, batch); err != nil {
			return nil, err
		}
		p.signed = p.body
		h.Set("Content-Type", "application/json")
	}
	switch cfg.Auth.Type {
	case AuthBasic:
		r := http.Request{Header: h}
		r.SetBasicAuth(cfg.Auth.Username, cfg.Auth.Password)
	case AuthAPIKey:
		if cfg.Auth.In == KeyInQuery {
			query().Set(cfg.Auth.Name, cfg.Auth.Value)
		} else {
			h.Set(cfg.Auth.Name, cfg.Auth.Value)
		}
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	p.url = u.String()
	if cfg.Method == MethodGET {
		p.signed = []byte(u.RawQuery)
		if len(p.url) > MaxGETURL {
			return nil, fmt.Errorf("GET URL would be %d bytes, over the %d limit: select fewer fields or use POST", len(p.url), MaxGETURL)
		}
	}
	return p, nil
}
