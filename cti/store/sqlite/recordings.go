package sqlite

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
		return nil, fmt.Errorf("sqlite: get recording: %w", err)
	}
	r.DurationSeconds = float64(ms) / 1000
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	return &r, nil
}

// ListRecordingPolicies returns the tenant's rules by scope and target.
func (s *Store) ListRecordingPolicies(ctx context.Context, tenantID string) ([]cti.RecordingPolicyRule, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT scope, target, policy, updated_at FROM recording_policies
		WHERE tenant_id = ? ORDER BY scope, target`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list recording policies: %w", err)
	}
	defer rows.Close()
	var out []cti.RecordingPolicyRule
	for rows.Next() {
		var r cti.RecordingPolicyRule
		var updated string
		if err := rows.Scan(&r.Scope, &r.Target, &r.Policy, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: list recording policies: %w", err)
		}
		if r.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutRecordingPolicy inserts or replaces a rule.
func (s *Store) PutRecordingPolicy(ctx context.Context, tenantID string, r cti.RecordingPolicyRule) error {
	_, err := s.writer.ExecContext(ctx, `INSERT INTO recording_policies (tenant_id, scope, target, policy, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id, scope, target) DO UPDATE SET policy = excluded.policy,
		updated_at = excluded.updated_at`, tenantID, string(r.Scope), r.Target, string(r.Policy), formatTime(r.UpdatedAt))
	if err != nil {
		return classify(err, "recording policy", "tenant")
	}
	return nil
}

// DeleteRecordingPolicy removes a rule.
func (s *Store) DeleteRecordingPolicy(ctx context.Context, tenantID string, scope cti.RecordingScope, target string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM recording_policies WHERE tenant_id = ? AND scope = ? AND target = ?`,
		tenantID, string(scope), target)
	if err != nil {
		return fmt.Errorf("sqlite: delete recording policy: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "no recording policy for %s %q", scope, target)
	}
	return nil
}
