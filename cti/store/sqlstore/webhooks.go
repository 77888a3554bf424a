package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

var _ webhook.Store = (*WebhookStore)(nil)

// WebhookStore persists the webhook outbox in the store's database (tables
// of migration 0003). It shares the store's single writer connection, so
// outbox transactions queue behind other writes instead of fighting for
// the file lock.
//
// The statements of the delivery path are prepared once per connection
// and kept: parsing SQL costs more than running these small statements.
type WebhookStore struct {
	s *Store

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// Webhooks returns the outbox persistence of this store. Call it once and
// keep the result: it holds prepared statements, released when the store
// closes.
func (s *Store) Webhooks() *WebhookStore { return &WebhookStore{s: s, stmts: map[string]*sql.Stmt{}} }

// stmt returns q prepared on db, preparing it on first use.
func (w *WebhookStore) stmt(ctx context.Context, db *DB, q string) (*sql.Stmt, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if st := w.stmts[q]; st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	w.stmts[q] = st
	return st, nil
}

// begin starts a write transaction with the statements qs prepared for it.
// They are prepared before the transaction starts: the writer pool has a
// single connection, which the transaction then holds.
func (w *WebhookStore) begin(ctx context.Context, qs ...string) (*Tx, []*sql.Stmt, error) {
	stmts := make([]*sql.Stmt, len(qs))
	for i, q := range qs {
		st, err := w.stmt(ctx, w.s.writer, q)
		if err != nil {
			return nil, nil, err
		}
		stmts[i] = st
	}
	tx, err := w.s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	for i, st := range stmts {
		stmts[i] = tx.StmtContext(ctx, st)
	}
	return tx, stmts, nil
}

const (
	insertDelivery = `INSERT INTO webhook_deliveries
		(endpoint_id, tenant_id, event_id, event_type, call_id, occurred_at, status, next_at, created_at, data)
		VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`
	updateDelivery = `UPDATE webhook_deliveries
		SET status = ?, attempts = ?, next_at = ?, last_at = ?, last_code = ?, last_error = ?,
			delivered_at = CASE WHEN ?1 = 'delivered' THEN ?4 ELSE delivered_at END
		WHERE seq = ? AND endpoint_id = ? AND attempts = ? AND status IN ('pending', 'failed')`
	updateEndpointState = `UPDATE webhook_endpoints SET paused_until = ?, failures = ? WHERE id = ?`
)

// nanos stores a time as unix nanoseconds, the zero time as 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

const endpointColumns = `id, tenant_id, config, secret, paused_until, failures, created_at, updated_at`

// The signing secret and the receiver's credentials must be recoverable
// (every request is signed and authenticated with them), so they are
// stored encrypted with the store's secret key (secretbox.go), bound to
// the tenant.

func (w *WebhookStore) scanEndpoint(r rowScanner) (*webhook.Endpoint, error) {
	var ep webhook.Endpoint
	var cfg string
	var paused, created, updated int64
	if err := r.Scan(&ep.ID, &ep.TenantID, &cfg, &ep.Secret, &paused, &ep.State.Failures, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(cfg), &ep.Config); err != nil {
		return nil, fmt.Errorf("decode webhook config of %s: %w", ep.ID, err)
	}
	var err error
	a := &ep.Config.Auth
	if ep.Secret, err = w.s.openSecret(ep.TenantID, ep.Secret); err == nil {
		if a.Password, err = w.s.openSecret(ep.TenantID, a.Password); err == nil {
			a.Value, err = w.s.openSecret(ep.TenantID, a.Value)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("webhook endpoint %s: %w", ep.ID, err)
	}
	ep.State.PausedUntil = fromNanos(paused)
	ep.CreatedAt, ep.UpdatedAt = fromNanos(created), fromNanos(updated)
	return &ep, nil
}

// sealedConfig is an endpoint's configuration as stored: credentials
// encrypted.
func (w *WebhookStore) sealedConfig(ep *webhook.Endpoint) (string, error) {
	cfg := ep.Config
	cfg.Auth.Password = w.s.sealSecret(ep.TenantID, cfg.Auth.Password)
	cfg.Auth.Value = w.s.sealSecret(ep.TenantID, cfg.Auth.Value)
	b, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("store: encode webhook config: %w", err)
	}
	return string(b), nil
}

// CreateEndpoint inserts ep; its tenant must exist.
func (w *WebhookStore) CreateEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	cfg, err := w.sealedConfig(ep)
	if err != nil {
		return err
	}
	_, err = w.s.writer.ExecContext(ctx, `INSERT INTO webhook_endpoints (`+endpointColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ep.ID, ep.TenantID, cfg, w.s.sealSecret(ep.TenantID, ep.Secret), nanos(ep.State.PausedUntil), ep.State.Failures,
		nanos(ep.CreatedAt), nanos(ep.UpdatedAt))
	if err != nil {
		return classify(err, "webhook endpoint", "tenant")
	}
	return nil
}

// UpdateEndpoint replaces the configuration of ep (not its secret or state).
func (w *WebhookStore) UpdateEndpoint(ctx context.Context, ep *webhook.Endpoint) error {
	cfg, err := w.sealedConfig(ep)
	if err != nil {
		return err
	}
	res, err := w.s.writer.ExecContext(ctx, `UPDATE webhook_endpoints SET config = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`, cfg, nanos(ep.UpdatedAt), ep.TenantID, ep.ID)
	if err != nil {
		return fmt.Errorf("store: update webhook endpoint: %w", err)
	}
	return mustAffect(res, "webhook endpoint", ep.ID)
}

func mustAffect(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if n == 0 {
		return cti.Errorf(cti.KindNotFound, "%s %q not found", what, id)
	}
	return nil
}

// DeleteEndpoint deletes the endpoint with its deliveries and request log.
func (w *WebhookStore) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	res, err := w.s.writer.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: delete webhook endpoint: %w", err)
	}
	return mustAffect(res, "webhook endpoint", id)
}

// GetEndpoint returns one endpoint of the tenant.
func (w *WebhookStore) GetEndpoint(ctx context.Context, tenantID, id string) (*webhook.Endpoint, error) {
	ep, err := w.scanEndpoint(w.s.reader.QueryRowContext(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "webhook endpoint %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get webhook endpoint: %w", err)
	}
	return ep, nil
}

// ListEndpoints returns the tenant's endpoints (every endpoint for "").
func (w *WebhookStore) ListEndpoints(ctx context.Context, tenantID string) ([]webhook.Endpoint, error) {
	q := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id`
	args := []any{tenantID}
	if tenantID == "" {
		q, args = `SELECT `+endpointColumns+` FROM webhook_endpoints ORDER BY id`, nil
	}
	rows, err := w.s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list webhook endpoints: %w", err)
	}
	defer rows.Close()
	out := []webhook.Endpoint{}
	for rows.Next() {
		ep, err := w.scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list webhook endpoints: %w", err)
		}
		out = append(out, *ep)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list webhook endpoints: %w", err)
	}
	return out, nil
}

// Enqueue stores one delivery per event and endpoint in one transaction.
func (w *WebhookStore) Enqueue(ctx context.Context, batch []webhook.NewDeliveries, now time.Time) error {
	return w.enqueue(ctx, batch, now, false)
}

// enqueue is Enqueue; with onlyExisting, deliveries to endpoints no
// longer in the database (deleted by another node that this one has not
// heard of yet) are left out instead of failing the whole batch.
func (w *WebhookStore) enqueue(ctx context.Context, batch []webhook.NewDeliveries, now time.Time, onlyExisting bool) (err error) {
	tx, stmts, err := w.begin(ctx, insertDelivery)
	if err != nil {
		return fmt.Errorf("store: enqueue: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var exists map[string]bool
	if onlyExisting {
		if exists, err = existingEndpoints(ctx, tx, batch); err != nil {
			return err
		}
	}
	at := nanos(now)
	for _, nd := range batch {
		if err := applyEventState(ctx, tx, w.s.node, nd.State); err != nil {
			return err
		}
		ev := &nd.Event
		for _, epID := range nd.EndpointIDs {
			if exists != nil && !exists[epID] {
				continue
			}
			if _, err := stmts[0].ExecContext(ctx, epID, ev.TenantID, ev.ID, string(ev.Type), ev.CallID,
				nanos(ev.Time), at, at, []byte(ev.Data)); err != nil {
				return classify(err, "webhook delivery", "webhook endpoint")
			}
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: enqueue: commit: %w", err)
	}
	return nil
}

// existingEndpoints returns which of the batch's endpoints exist.
func existingEndpoints(ctx context.Context, tx *Tx, batch []webhook.NewDeliveries) (map[string]bool, error) {
	var ids []any
	for _, nd := range batch {
		for _, id := range nd.EndpointIDs {
			ids = append(ids, id)
		}
	}
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM webhook_endpoints WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, ids...)
	if err != nil {
		return nil, fmt.Errorf("store: enqueue: endpoints: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: enqueue: endpoints: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// Queue returns an endpoint's undelivered deliveries after a sequence
// number, in order.
func (w *WebhookStore) Queue(ctx context.Context, endpointID string, after int64, limit int) ([]webhook.QueueItem, error) {
	st, err := w.stmt(ctx, w.s.reader, `SELECT seq, event_id, call_id, status, attempts, next_at
		FROM webhook_deliveries
		WHERE endpoint_id = ? AND status IN ('pending', 'failed') AND seq > ?
		ORDER BY seq LIMIT ?`)
	if err != nil {
		return nil, fmt.Errorf("store: webhook queue: %w", err)
	}
	rows, err := st.QueryContext(ctx, endpointID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: webhook queue: %w", err)
	}
	defer rows.Close()
	var out []webhook.QueueItem
	for rows.Next() {
		var it webhook.QueueItem
		var status string
		var next int64
		if err := rows.Scan(&it.Seq, &it.EventID, &it.CallID, &status, &it.Attempts, &next); err != nil {
			return nil, fmt.Errorf("store: webhook queue: %w", err)
		}
		it.Status, it.NextAt = webhook.Status(status), fromNanos(next)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: webhook queue: %w", err)
	}
	return out, nil
}

// Payloads loads the events of an endpoint's deliveries.
func (w *WebhookStore) Payloads(ctx context.Context, endpointID string, seqs []int64) (map[int64]*webhook.StoredEvent, error) {
	// One statement for any number of rows: the sequence numbers travel as
	// one JSON array.
	list, err := json.Marshal(seqs)
	if err != nil {
		return nil, fmt.Errorf("store: webhook payloads: %w", err)
	}
	st, err := w.stmt(ctx, w.s.reader, `SELECT seq, event_id, tenant_id, event_type, call_id, occurred_at, data
		FROM webhook_deliveries
		WHERE seq IN (SELECT CAST(value AS BIGINT) FROM `+w.s.d.JSONText("?")+`) AND endpoint_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("store: webhook payloads: %w", err)
	}
	rows, err := st.QueryContext(ctx, string(list), endpointID)
	if err != nil {
		return nil, fmt.Errorf("store: webhook payloads: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]*webhook.StoredEvent, len(seqs))
	for rows.Next() {
		var seq, at int64
		var ev webhook.StoredEvent
		var typ string
		if err := rows.Scan(&seq, &ev.ID, &ev.TenantID, &typ, &ev.CallID, &at, &ev.Data); err != nil {
			return nil, fmt.Errorf("store: webhook payloads: %w", err)
		}
		ev.Type, ev.Time = cti.EventType(typ), fromNanos(at)
		out[seq] = &ev
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: webhook payloads: %w", err)
	}
	return out, nil
}

// RecordResults writes attempt outcomes and the endpoint state in one
// transaction.
func (w *WebhookStore) RecordResults(ctx context.Context, endpointID string, results []webhook.Result, state *webhook.EndpointState) (err error) {
	tx, stmts, err := w.begin(ctx, updateDelivery, updateEndpointState)
	if err != nil {
		return fmt.Errorf("store: record webhook results: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if len(results) > 0 {
		stmt := stmts[0]
		for _, r := range results {
			if _, err := stmt.ExecContext(ctx, string(r.Status), r.Attempts, nanos(r.NextAt), nanos(r.At),
				r.Code, r.Error, r.Seq, endpointID, r.PrevAttempts); err != nil {
				return fmt.Errorf("store: record webhook result: %w", err)
			}
		}
	}
	if state != nil {
		if _, err := stmts[1].ExecContext(ctx, nanos(state.PausedUntil), state.Failures, endpointID); err != nil {
			return fmt.Errorf("store: record webhook endpoint state: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: record webhook results: commit: %w", err)
	}
	return nil
}

// RecordRequest notes one request to a rate-limited endpoint.
func (w *WebhookStore) RecordRequest(ctx context.Context, endpointID string, at time.Time) error {
	if _, err := w.s.writer.ExecContext(ctx, `INSERT INTO webhook_requests (endpoint_id, sent_at) VALUES (?, ?)`,
		endpointID, nanos(at)); err != nil {
		return fmt.Errorf("store: record webhook request: %w", err)
	}
	return nil
}

// Requests returns the latest request times since a moment, oldest first.
func (w *WebhookStore) Requests(ctx context.Context, endpointID string, since time.Time, limit int) ([]time.Time, error) {
	rows, err := w.s.reader.QueryContext(ctx, `SELECT sent_at FROM webhook_requests
		WHERE endpoint_id = ? AND sent_at >= ? ORDER BY sent_at DESC LIMIT ?`, endpointID, nanos(since), limit)
	if err != nil {
		return nil, fmt.Errorf("store: webhook requests: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: webhook requests: %w", err)
		}
		out = append(out, fromNanos(n))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: webhook requests: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

const deliveryColumns = `seq, tenant_id, endpoint_id, event_id, event_type, call_id, status, attempts,
	next_at, last_at, last_code, last_error, delivered_at, created_at`

func scanDelivery(r rowScanner) (*webhook.Delivery, error) {
	var d webhook.Delivery
	var typ, status string
	var next, last, delivered, created int64
	if err := r.Scan(&d.Seq, &d.TenantID, &d.EndpointID, &d.EventID, &typ, &d.CallID, &status, &d.Attempts,
		&next, &last, &d.LastStatusCode, &d.LastError, &delivered, &created); err != nil {
		return nil, err
	}
	d.EventType, d.Status = cti.EventType(typ), webhook.Status(status)
	if d.Status == webhook.StatusPending || d.Status == webhook.StatusFailed {
		d.NextAttemptAt = fromNanos(next)
	}
	d.LastAttemptAt, d.DeliveredAt, d.CreatedAt = fromNanos(last), fromNanos(delivered), fromNanos(created)
	return &d, nil
}

// statusIndex is the WHERE term that lets SQLite use the partial index
// holding rows of status s: an index is only used when the query repeats
// its condition.
func statusIndex(s webhook.Status) string {
	if s == webhook.StatusPending || s == webhook.StatusFailed {
		return `status IN ('pending', 'failed')`
	}
	return `status IN ('delivered', 'parked')`
}

// Deliveries lists an endpoint's deliveries, newest first.
func (w *WebhookStore) Deliveries(ctx context.Context, tenantID, endpointID string, q webhook.DeliveryQuery) ([]webhook.Delivery, error) {
	before := q.Before
	if before <= 0 {
		before = math.MaxInt64
	}
	var query string
	var args []any
	if q.Status != "" {
		query = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries
			WHERE endpoint_id = ? AND ` + statusIndex(q.Status) + ` AND status = ? AND seq < ? AND tenant_id = ?
			ORDER BY seq DESC LIMIT ?`
		args = []any{endpointID, string(q.Status), before, tenantID, q.Limit}
	} else {
		// The newest of the queue and of each status of the other index
		// (each read in index order, without sorting), merged.
		query = `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE seq IN (
				SELECT seq FROM (SELECT seq FROM webhook_deliveries
					WHERE endpoint_id = ?1 AND status IN ('pending', 'failed') AND seq < ?2 ORDER BY seq DESC LIMIT ?3) AS queued
				UNION ALL
				SELECT seq FROM (SELECT seq FROM webhook_deliveries
					WHERE endpoint_id = ?1 AND status IN ('delivered', 'parked') AND status = 'delivered' AND seq < ?2
					ORDER BY seq DESC LIMIT ?3) AS delivered
				UNION ALL
				SELECT seq FROM (SELECT seq FROM webhook_deliveries
					WHERE endpoint_id = ?1 AND status IN ('delivered', 'parked') AND status = 'parked' AND seq < ?2
					ORDER BY seq DESC LIMIT ?3) AS parked)
			AND tenant_id = ?4 ORDER BY seq DESC LIMIT ?3`
		args = []any{endpointID, before, q.Limit, tenantID}
	}
	rows, err := w.s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	defer rows.Close()
	out := []webhook.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
		}
		out = append(out, *d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	return out, nil
}

// GetDelivery returns one delivery of the tenant.
func (w *WebhookStore) GetDelivery(ctx context.Context, tenantID string, seq int64) (*webhook.Delivery, error) {
	d, err := scanDelivery(w.s.reader.QueryRowContext(ctx,
		`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE tenant_id = ? AND seq = ?`, tenantID, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "delivery %q not found", webhook.DeliveryID(seq))
	}
	if err != nil {
		return nil, fmt.Errorf("store: get webhook delivery: %w", err)
	}
	return d, nil
}

// CountDeliveries counts an endpoint's deliveries by status.
func (w *WebhookStore) CountDeliveries(ctx context.Context, tenantID, endpointID string) (map[webhook.Status]int, error) {
	out := map[webhook.Status]int{}
	for _, idx := range []string{statusIndex(webhook.StatusPending), statusIndex(webhook.StatusParked)} {
		rows, err := w.s.reader.QueryContext(ctx, `SELECT status, count(*) FROM webhook_deliveries
			WHERE endpoint_id = ? AND `+idx+` AND tenant_id = ? GROUP BY status`, endpointID, tenantID)
		if err != nil {
			return nil, fmt.Errorf("store: count webhook deliveries: %w", err)
		}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: count webhook deliveries: %w", err)
			}
			out[webhook.Status(s)] = n
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: count webhook deliveries: %w", err)
		}
	}
	return out, nil
}

// Redeliver makes one delivery pending and due at now.
func (w *WebhookStore) Redeliver(ctx context.Context, tenantID string, seq int64, now time.Time) (*webhook.Delivery, error) {
	d, err := scanDelivery(w.s.writer.QueryRowContext(ctx, `UPDATE webhook_deliveries
		SET status = 'pending', attempts = 0, next_at = ?
		WHERE tenant_id = ? AND seq = ?
		RETURNING `+deliveryColumns, nanos(now), tenantID, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "delivery %q not found", webhook.DeliveryID(seq))
	}
	if err != nil {
		return nil, fmt.Errorf("store: redeliver webhook: %w", err)
	}
	return d, nil
}

// RedeliverAll makes an endpoint's deliveries in a status pending.
func (w *WebhookStore) RedeliverAll(ctx context.Context, tenantID, endpointID string, status webhook.Status, now time.Time) (int, error) {
	res, err := w.s.writer.ExecContext(ctx, `UPDATE webhook_deliveries
		SET status = 'pending', attempts = 0, next_at = ?
		WHERE endpoint_id = ? AND `+statusIndex(status)+` AND status = ? AND tenant_id = ?`,
		nanos(now), endpointID, string(status), tenantID)
	if err != nil {
		return 0, fmt.Errorf("store: redeliver webhooks: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: redeliver webhooks: %w", err)
	}
	return int(n), nil
}

// pruneChunk bounds the rows one pruning statement deletes, so that the
// single writer is never held for long.
const pruneChunk = 5000

// Prune deletes old delivered deliveries and old request records. The
// rows to delete are found on the reader pool, which WAL lets run beside
// the writer, and deleted by sequence number in small transactions.
func (w *WebhookStore) Prune(ctx context.Context, deliveredBefore, requestsBefore time.Time) (int64, error) {
	var total int64
	var after int64
	for {
		seqs, err := w.prunable(ctx, after, nanos(deliveredBefore))
		if err != nil {
			return total, err
		}
		if len(seqs) == 0 {
			break
		}
		list, _ := json.Marshal(seqs) // []int64 always marshals
		res, err := w.s.writer.ExecContext(ctx, `DELETE FROM webhook_deliveries
			WHERE seq IN (SELECT CAST(value AS BIGINT) FROM `+w.s.d.JSONText("?")+`) AND status = 'delivered'`, string(list))
		if err != nil {
			return total, fmt.Errorf("store: prune webhook deliveries: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		after = seqs[len(seqs)-1]
		if len(seqs) < pruneChunk {
			break
		}
	}
	for {
		rowid := w.s.d.RowID
		res, err := w.s.writer.ExecContext(ctx, `DELETE FROM webhook_requests WHERE `+rowid+` IN (
			SELECT `+rowid+` FROM webhook_requests WHERE sent_at < ? LIMIT `+strconv.Itoa(pruneChunk)+`)`, nanos(requestsBefore))
		if err != nil {
			return total, fmt.Errorf("store: prune webhook requests: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < pruneChunk {
			return total, nil
		}
	}
}

// prunable returns up to pruneChunk delivered deliveries older than the
// cutoff, after a sequence number, in order.
func (w *WebhookStore) prunable(ctx context.Context, after, cutoff int64) ([]int64, error) {
	rows, err := w.s.reader.QueryContext(ctx, `SELECT seq FROM webhook_deliveries
		WHERE seq > ? AND status = 'delivered' AND delivered_at < ? ORDER BY seq LIMIT ?`, after, cutoff, pruneChunk)
	if err != nil {
		return nil, fmt.Errorf("store: prune webhook deliveries: %w", err)
	}
	defer rows.Close()
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			return nil, fmt.Errorf("store: prune webhook deliveries: %w", err)
		}
		seqs = append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: prune webhook deliveries: %w", err)
	}
	return seqs, nil
}

// SealSecrets encrypts the secrets of endpoints stored before a secret
// key was set (or by an older version); it runs once at start.
func (w *WebhookStore) SealSecrets(ctx context.Context) (int, error) {
	if w.s.aead == nil {
		return 0, nil
	}
	eps, err := w.ListEndpoints(ctx, "")
	if err != nil {
		return 0, err
	}
	n := 0
	for i := range eps {
		ep := &eps[i]
		var raw string
		if err := w.s.reader.QueryRowContext(ctx, `SELECT secret FROM webhook_endpoints WHERE id = ?`, ep.ID).Scan(&raw); err != nil {
			return n, fmt.Errorf("store: seal webhook secrets: %w", err)
		}
		if strings.HasPrefix(raw, secretPrefix) {
			continue
		}
		cfg, err := w.sealedConfig(ep)
		if err != nil {
			return n, err
		}
		if _, err := w.s.writer.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = ?, config = ? WHERE id = ?`,
			w.s.sealSecret(ep.TenantID, ep.Secret), cfg, ep.ID); err != nil {
			return n, fmt.Errorf("store: seal webhook secrets: %w", err)
		}
		n++
	}
	return n, nil
}
