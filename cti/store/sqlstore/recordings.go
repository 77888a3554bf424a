package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/ringbridge/ringbridge/cti"
)

// SaveRecording registers a finished recording.
func (s *Store) SaveRecording(ctx context.Context, r *cti.RecordingMeta) error {
	if r == nil || r.ID == "" || r.TenantID == "" || r.Path == "" {
		return cti.Errorf(cti.KindInvalid, "recording id, tenant and path are required")
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO recordings (id, tenant_id, call_id, path, duration_ms, size_bytes, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.TenantID, r.CallID, r.Path, int64(math.Round(r.DurationSeconds*1000)), r.SizeBytes, formatTime(r.CreatedAt))
	if err != nil {
		return classify(err, "recording", "tenant")
	}
	return nil
}

// GetRecording returns a tenant's recording.
func (s *Store) GetRecording(ctx context.Context, tenantID, id string) (*cti.RecordingMeta, error) {
	r := cti.RecordingMeta{ID: id, TenantID: tenantID}
	var ms int64
	var created string
	err := s.reader.QueryRowContext(ctx, `SELECT call_id, path, duration_ms, size_bytes, created_at
		FROM recordings WHERE tenant_id = ? AND id = ?`, tenantID, id).Scan(&r.CallID, &r.Path, &ms, &r.SizeBytes, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no recording %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get recording: %w", err)
	}
	r.DurationSeconds = float64(ms) / 1000
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	return &r, nil
}
