package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// SaveRecording registers a finished recording.
func (s *Store) SaveRecording(ctx context.Context, r *cti.RecordingMeta) error {
	if r == nil || r.ID == "" || r.TenantID == "" || r.Path == "" {
		return cti.Errorf(cti.KindInvalid, "recording id, tenant and path are required")
	}
	storage := r.Storage
	if storage == "" {
		storage = cti.StorageLocal
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO recordings (id, tenant_id, call_id, path, duration_ms, size_bytes,
		created_at, storage, object_key, upload_pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.TenantID, r.CallID, r.Path, int64(math.Round(r.DurationSeconds*1000)), r.SizeBytes, formatTime(r.CreatedAt),
		storage, r.Key, boolInt(r.UploadPending))
	if err != nil {
		return classify(err, "recording", "tenant")
	}
	return nil
}

const recordingColumns = `id, tenant_id, call_id, path, duration_ms, size_bytes, created_at, storage, object_key, upload_pending, upload_attempts`

func scanRecording(row interface{ Scan(...any) error }) (*cti.RecordingMeta, error) {
	var r cti.RecordingMeta
	var ms, pending int64
	var created string
	if err := row.Scan(&r.ID, &r.TenantID, &r.CallID, &r.Path, &ms, &r.SizeBytes, &created, &r.Storage, &r.Key, &pending, &r.UploadAttempts); err != nil {
		return nil, err
	}
	r.UploadPending = pending != 0
	r.DurationSeconds = float64(ms) / 1000
	var err error
	if r.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	return &r, nil
}

// GetRecording returns a tenant's recording (not one deleted by retention).
func (s *Store) GetRecording(ctx context.Context, tenantID, id string) (*cti.RecordingMeta, error) {
	r, err := scanRecording(s.reader.QueryRowContext(ctx, `SELECT `+recordingColumns+`
		FROM recordings WHERE tenant_id = ? AND id = ? AND deleted_at = ''`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no recording %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get recording: %w", err)
	}
	return r, nil
}

func (s *Store) listRecordings(ctx context.Context, what, where string, args ...any) ([]cti.RecordingMeta, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	var out []cti.RecordingMeta
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// PendingRecordingUploads returns recordings due for upload, oldest first.
func (s *Store) PendingRecordingUploads(ctx context.Context, now time.Time, limit int) ([]cti.RecordingMeta, error) {
	return s.listRecordings(ctx, "pending uploads", `upload_pending = 1 AND deleted_at = '' AND next_upload_at <= ?
		ORDER BY created_at, id LIMIT ?`, formatTime(now), limit)
}

// RecordingStored notes where a recording's file now is.
func (s *Store) RecordingStored(ctx context.Context, tenantID, id, storage string) error {
	return s.updateRecording(ctx, `UPDATE recordings SET storage = ?, upload_pending = 0 WHERE tenant_id = ? AND id = ?`,
		storage, tenantID, id)
}

// RecordingUploadFailed counts an attempt and sets the next, doubling
// the wait per attempt (base: next - now) up to an hour.
func (s *Store) RecordingUploadFailed(ctx context.Context, tenantID, id string, next time.Time) error {
	var attempts int
	if err := s.reader.QueryRowContext(ctx, `SELECT upload_attempts FROM recordings WHERE tenant_id = ? AND id = ?`,
		tenantID, id).Scan(&attempts); err != nil {
		return fmt.Errorf("sqlite: recording upload failed: %w", err)
	}
	wait := time.Until(next) << min(attempts, 10)
	wait = min(wait, time.Hour)
	return s.updateRecording(ctx, `UPDATE recordings SET upload_attempts = upload_attempts + 1, next_upload_at = ?
		WHERE tenant_id = ? AND id = ?`, formatTime(time.Now().Add(wait)), tenantID, id)
}

// ExpiredRecordings returns a tenant's live recordings created before before.
func (s *Store) ExpiredRecordings(ctx context.Context, tenantID string, before time.Time, limit int) ([]cti.RecordingMeta, error) {
	return s.listRecordings(ctx, "expired recordings", `tenant_id = ? AND deleted_at = '' AND created_at < ?
		ORDER BY created_at, id LIMIT ?`, tenantID, formatTime(before), limit)
}

// MarkRecordingDeleted notes a recording's file was deleted.
func (s *Store) MarkRecordingDeleted(ctx context.Context, tenantID, id string, at time.Time) error {
	return s.updateRecording(ctx, `UPDATE recordings SET deleted_at = ?, upload_pending = 0 WHERE tenant_id = ? AND id = ?`,
		formatTime(at), tenantID, id)
}

func (s *Store) updateRecording(ctx context.Context, q string, args ...any) error {
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("sqlite: update recording: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "no recording %v", args[len(args)-1])
	}
	return nil
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

// boolInt stores a flag as 0 or 1: the column is an integer in both
// databases (PostgreSQL does not take a bool for it).
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
