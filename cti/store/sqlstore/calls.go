package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// SaveCallRecord inserts or replaces a finished call's record.
func (s *Store) SaveCallRecord(ctx context.Context, r *cti.CallRecord) error {
	return saveCallRecord(ctx, s.writer, r)
}

func saveCallRecord(ctx context.Context, db execer, r *cti.CallRecord) error {
	if r == nil || r.ID == "" || r.TenantID == "" {
		return cti.Errorf(cti.KindInvalid, "call record id and tenant are required")
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: call record: %w", err)
	}
	ended := ""
	if !r.EndedAt.IsZero() {
		ended = formatTime(r.EndedAt)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO calls (id, tenant_id, direction, from_number, to_number,
		route, started_at, ended_at, end_reason, disposition, record, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET direction = excluded.direction, from_number = excluded.from_number,
		to_number = excluded.to_number, route = excluded.route, started_at = excluded.started_at,
		ended_at = excluded.ended_at, end_reason = excluded.end_reason, disposition = excluded.disposition,
		record = excluded.record, updated_at = excluded.updated_at
		WHERE calls.tenant_id = excluded.tenant_id`,
		r.ID, r.TenantID, string(r.Direction), r.From, r.To, r.Route, formatTime(r.StartedAt), ended,
		string(r.EndReason), r.Disposition, string(body), formatTime(time.Now()))
	if err != nil {
		return classify(err, "call record", "tenant")
	}
	return saveCallQuality(ctx, db, r)
}

// saveCallQuality rewrites the rows of the record's per-leg quality.
func saveCallQuality(ctx context.Context, db execer, r *cti.CallRecord) error {
	if _, err := db.ExecContext(ctx, `DELETE FROM call_quality WHERE tenant_id = ? AND call_id = ?`, r.TenantID, r.ID); err != nil {
		return fmt.Errorf("sqlite: call quality: %w", err)
	}
	for _, q := range r.Quality {
		if _, err := db.ExecContext(ctx, `INSERT INTO call_quality (tenant_id, call_id, leg_kind, extension, sip_call_id,
			samples, poor_samples, level, mos_avg, mos_min, loss_pct_avg, loss_pct_max, jitter_ms_avg, rtt_ms_avg)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`,
			r.TenantID, r.ID, string(q.Kind), q.Extension, q.SIPCallID, q.Samples, q.PoorSamples, string(q.Level),
			q.MOSAvg, q.MOSMin, q.LossPercentAvg, q.LossPercentMax, q.JitterMsAvg, q.RTTMsAvg); err != nil {
			return fmt.Errorf("sqlite: call quality: %w", err)
		}
	}
	return nil
}

// GetCallRecord returns a tenant's call record.
func (s *Store) GetCallRecord(ctx context.Context, tenantID, id string) (*cti.CallRecord, error) {
	return getCallRecord(ctx, s.reader, tenantID, id, "")
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// getCallRecord reads a record; lock is the dialect's row lock when the
// caller's transaction is about to write it back.
func getCallRecord(ctx context.Context, db queryRower, tenantID, id, lock string) (*cti.CallRecord, error) {
	var body string
	err := db.QueryRowContext(ctx, `SELECT record FROM calls WHERE tenant_id = ? AND id = ?`+lock, tenantID, id).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no call %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get call record: %w", err)
	}
	return decodeCallRecord(body)
}

func decodeCallRecord(body string) (*cti.CallRecord, error) {
	var r cti.CallRecord
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("store: decode call record: %w", err)
	}
	return &r, nil
}

// ListCallRecords returns a page of a tenant's records started within the
// filter's range, newest first.
func (s *Store) ListCallRecords(ctx context.Context, tenantID string, f cti.CallFilter, page cti.Page) ([]cti.CallRecord, string, error) {
	page = page.Normalized()
	cur, err := decodeCursor(page.Cursor, 2)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT started_at, id, record FROM calls WHERE tenant_id = ?`
	args := []any{tenantID}
	if !f.From.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, formatTime(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND started_at < ?`
		args = append(args, formatTime(f.To))
	}
	if cur != nil {
		q += ` AND (started_at < ? OR (started_at = ? AND id < ?))`
		args = append(args, cur[0], cur[0], cur[1])
	}
	q += ` ORDER BY started_at DESC, id DESC LIMIT ?`
	args = append(args, page.Limit+1)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list call records: %w", err)
	}
	defer rows.Close()
	out := []cti.CallRecord{}
	var lastStarted, lastID string
	for rows.Next() {
		if len(out) == page.Limit {
			// The extra row only says there is a next page.
			return out, encodeCursor(lastStarted, lastID), rows.Close()
		}
		var started, id, body string
		if err := rows.Scan(&started, &id, &body); err != nil {
			return nil, "", fmt.Errorf("store: list call records: %w", err)
		}
		r, err := decodeCallRecord(body)
		if err != nil {
			return nil, "", err
		}
		out = append(out, *r)
		lastStarted, lastID = started, id
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list call records: %w", err)
	}
	return out, "", nil
}

// UpdateCallRecord applies a disposition/notes/tags update in one
// transaction and returns the new record.
func (s *Store) UpdateCallRecord(ctx context.Context, tenantID, id string, u cti.CallUpdate) (*cti.CallRecord, error) {
	var out *cti.CallRecord
	err := s.inWriteTx(ctx, "update call record", func(tx *Tx) error {
		r, err := getCallRecord(ctx, tx, tenantID, id, s.d.ForUpdate)
		if err != nil {
			return err
		}
		u.Apply(r)
		body, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET disposition = ?, record = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ?`, r.Disposition, string(body), formatTime(time.Now()), tenantID, id); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}
