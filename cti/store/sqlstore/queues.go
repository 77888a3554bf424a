package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ringbridge/ringbridge/cti"
)

// CreateQueue stores a new queue; the name must be free in the tenant.
func (s *Store) CreateQueue(ctx context.Context, q *cti.QueueConfig) error {
	body, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("store: queue: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO queues (id, tenant_id, name, config, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, q.ID, q.TenantID, q.Name, string(body), formatTime(q.CreatedAt), formatTime(q.UpdatedAt)); err != nil {
		return classify(err, "queue "+q.Name, "tenant")
	}
	return nil
}

// UpdateQueue replaces a tenant's queue.
func (s *Store) UpdateQueue(ctx context.Context, q *cti.QueueConfig) error {
	body, err := json.Marshal(q)
	if err != nil {
		return fmt.Errorf("store: queue: %w", err)
	}
	res, err := s.writer.ExecContext(ctx, `UPDATE queues SET name = ?, config = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		q.Name, string(body), formatTime(q.UpdatedAt), q.TenantID, q.ID)
	if err != nil {
		return classify(err, "queue "+q.Name, "tenant")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "no queue %s", q.ID)
	}
	return nil
}

// DeleteQueue deletes a tenant's queue.
func (s *Store) DeleteQueue(ctx context.Context, tenantID, id string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM queues WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: delete queue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "no queue %s", id)
	}
	return nil
}

// GetQueue returns a tenant's queue by id.
func (s *Store) GetQueue(ctx context.Context, tenantID, id string) (*cti.QueueConfig, error) {
	return s.queueWhere(ctx, `tenant_id = ? AND id = ?`, tenantID, id)
}

// QueueByName returns a tenant's queue by name.
func (s *Store) QueueByName(ctx context.Context, tenantID, name string) (*cti.QueueConfig, error) {
	return s.queueWhere(ctx, `tenant_id = ? AND name = ?`, tenantID, name)
}

func (s *Store) queueWhere(ctx context.Context, where, tenantID, key string) (*cti.QueueConfig, error) {
	return jsonRow[cti.QueueConfig](ctx, s.reader, "queue", cti.Errorf(cti.KindNotFound, "no queue %s", key),
		`SELECT config FROM queues WHERE `+where, tenantID, key)
}

// ListQueues returns a tenant's queues by name.
func (s *Store) ListQueues(ctx context.Context, tenantID string) ([]cti.QueueConfig, error) {
	return jsonRows[cti.QueueConfig](ctx, s.reader, "queues", `SELECT config FROM queues WHERE tenant_id = ? ORDER BY name`, tenantID)
}
