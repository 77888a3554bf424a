package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/webhook"
)

var _ webhook.Leaser = (*SharedWebhookStore)(nil)

// SharedWebhookStore is the outbox of a database that several nodes
// share: a WebhookStore whose endpoints are leased to one node at a time
// (webhook.Leaser).
type SharedWebhookStore struct {
	*WebhookStore
	node string
}

// SharedWebhooks returns the outbox persistence for the node named node,
// which must be unique among the nodes running at once.
func (s *Store) SharedWebhooks(node string) *SharedWebhookStore {
	return &SharedWebhookStore{WebhookStore: s.Webhooks(), node: node}
}

// Enqueue stores the batch, leaving out endpoints another node deleted
// and this one still publishes to (until its next reload).
func (w *SharedWebhookStore) Enqueue(ctx context.Context, batch []webhook.NewDeliveries, now time.Time) error {
	return w.enqueue(ctx, batch, now, true)
}

// Lease claims the endpoint's row for this node when it is free, expired
// or already this node's. A row another transaction holds at that moment
// is skipped rather than waited for (Dialect.SkipLocked): that node is
// renewing its lease.
func (w *SharedWebhookStore) Lease(ctx context.Context, endpointID string, now, until time.Time) (bool, time.Time, error) {
	var got int64
	err := w.s.writer.QueryRowContext(ctx, `UPDATE webhook_endpoints SET lease_owner = ?1, lease_until = ?2
		WHERE id = (SELECT id FROM webhook_endpoints
			WHERE id = ?3 AND (lease_owner = ?1 OR lease_until <= ?4)`+w.s.d.SkipLocked+`)
		RETURNING lease_until`, w.node, nanos(until), endpointID, nanos(now)).Scan(&got)
	if err == nil {
		return true, fromNanos(got), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, fmt.Errorf("store: webhook lease: %w", err)
	}
	err = w.s.reader.QueryRowContext(ctx, `SELECT lease_until FROM webhook_endpoints WHERE id = ?`, endpointID).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, time.Time{}, cti.Errorf(cti.KindNotFound, "webhook endpoint %q not found", endpointID)
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("store: webhook lease: %w", err)
	}
	return false, fromNanos(got), nil
}

// Release ends this node's lease on the endpoint, if it holds it.
func (w *SharedWebhookStore) Release(ctx context.Context, endpointID string) error {
	if _, err := w.s.writer.ExecContext(ctx, `UPDATE webhook_endpoints SET lease_owner = '', lease_until = 0
		WHERE id = ? AND lease_owner = ?`, endpointID, w.node); err != nil {
		return fmt.Errorf("store: release webhook lease: %w", err)
	}
	return nil
}
