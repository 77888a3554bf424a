package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// execer is what writes need: the writer pool or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ApplyEventState stores domain state that travels with an event, in one
// transaction.
func (s *Store) ApplyEventState(ctx context.Context, st *cti.EventState) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: apply event state: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = applyEventState(ctx, tx, s.node, st); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: apply event state: commit: %w", err)
	}
	return nil
}

// applyEventState stores st as node's (see Store.SetNode).
func applyEventState(ctx context.Context, db execer, node string, st *cti.EventState) error {
	if st == nil {
		return nil
	}
	if r := st.CallRecord; r != nil {
		if err := saveCallRecord(ctx, db, r); err != nil {
			return err
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM live_calls WHERE id = ?`, r.ID); err != nil {
			return fmt.Errorf("store: remove live call: %w", err)
		}
	}
	if lc := st.LiveCall; lc != nil {
		body, err := json.Marshal(&lc.Record)
		if err != nil {
			return fmt.Errorf("store: live call: %w", err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO live_calls (id, tenant_id, record, recording_id, started_at, seen_at, node)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET record = excluded.record, recording_id = excluded.recording_id,
			seen_at = excluded.seen_at, node = excluded.node WHERE live_calls.tenant_id = excluded.tenant_id`,
			lc.Record.ID, lc.Record.TenantID, string(body), lc.RecordingID,
			formatTime(lc.Record.StartedAt), formatTime(lc.SeenAt), node); err != nil {
			return fmt.Errorf("store: live call: %w", err)
		}
	}
	if p := st.Presence; p != nil {
		if err := applyPresence(ctx, db, node, p); err != nil {
			return err
		}
	}
	for _, p := range st.Agents {
		if err := applyPresence(ctx, db, node, p); err != nil {
			return err
		}
	}
	return nil
}

// applyPresence stores an agent's effective status: the current one
// (unless a later change is already stored) and its interval.
func applyPresence(ctx context.Context, db execer, node string, p *cti.AgentStatusChange) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store: presence: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO agent_presence (tenant_id, extension, status, change, changed_at, node)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, extension) DO UPDATE SET status = excluded.status,
		change = excluded.change, changed_at = excluded.changed_at, node = excluded.node
		WHERE excluded.changed_at >= agent_presence.changed_at`,
		p.TenantID, p.Extension, string(p.Status), string(body), formatTime(p.ChangedAt), node); err != nil {
		return fmt.Errorf("store: presence: %w", err)
	}
	at := nanos(p.ChangedAt)
	if _, err := db.ExecContext(ctx, `UPDATE agent_status_intervals SET ended_at = ?1
		WHERE tenant_id = ?2 AND extension = ?3 AND started_at <= ?1 AND (ended_at IS NULL OR ended_at > ?1)`,
		at, p.TenantID, p.Extension); err != nil {
		return fmt.Errorf("store: status interval: %w", err)
	}
	if p.Status == cti.StatusOffline {
		return nil
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO agent_status_intervals
		(tenant_id, extension, user_id, username, status, reason, started_at, ended_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, (SELECT MIN(started_at) FROM agent_status_intervals
			WHERE tenant_id = ?1 AND extension = ?2 AND started_at > ?7))`,
		p.TenantID, p.Extension, p.UserID, p.Username, string(p.Status), p.Reason, at); err != nil {
		return fmt.Errorf("store: status interval: %w", err)
	}
	return nil
}

// LiveCalls returns every call this node left live, oldest first.
func (s *Store) LiveCalls(ctx context.Context) ([]cti.LiveCall, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT record, recording_id, seen_at FROM live_calls
		WHERE node = ? ORDER BY started_at, id`, s.node)
	if err != nil {
		return nil, fmt.Errorf("store: live calls: %w", err)
	}
	return scanLiveCalls(rows, "live calls")
}

// scanLiveCalls reads rows of (record, recording_id, seen_at) and closes
// them.
func scanLiveCalls(rows *sql.Rows, what string) ([]cti.LiveCall, error) {
	defer rows.Close()
	var out []cti.LiveCall
	for rows.Next() {
		var body, recID, seen string
		if err := rows.Scan(&body, &recID, &seen); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		r, err := decodeCallRecord(body)
		if err != nil {
			return nil, err
		}
		at, err := parseTime(seen)
		if err != nil {
			return nil, err
		}
		out = append(out, cti.LiveCall{Record: *r, RecordingID: recID, SeenAt: at})
	}
	return out, rows.Err()
}

// TouchLiveCalls records that the node and the given calls were alive
// at at.
func (s *Store) TouchLiveCalls(ctx context.Context, ids []string, at time.Time) error {
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO node_heartbeats (node, at) VALUES (?, ?)
		ON CONFLICT (node) DO UPDATE SET at = excluded.at`, s.node, formatTime(at)); err != nil {
		return fmt.Errorf("store: heartbeat: %w", err)
	}
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, formatTime(at))
	for _, id := range ids {
		args = append(args, id)
	}
	q := `UPDATE live_calls SET seen_at = ? WHERE id IN (?` + strings.Repeat(",?", len(ids)-1) + `)`
	if _, err := s.writer.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("store: touch live calls: %w", err)
	}
	return nil
}

// Presence returns the last status of every agent not offline whose
// status this node wrote last.
func (s *Store) Presence(ctx context.Context) ([]cti.AgentStatusChange, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT change FROM agent_presence WHERE status != 'offline' AND node = ?
		ORDER BY tenant_id, extension`, s.node)
	if err != nil {
		return nil, fmt.Errorf("store: presence: %w", err)
	}
	defer rows.Close()
	var out []cti.AgentStatusChange
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("store: presence: %w", err)
		}
		var ch cti.AgentStatusChange
		if err := json.Unmarshal([]byte(body), &ch); err != nil {
			return nil, fmt.Errorf("store: decode presence: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}

// Heartbeat returns when this node last said it was alive (zero: never).
func (s *Store) Heartbeat(ctx context.Context) (time.Time, error) {
	var at string
	err := s.reader.QueryRowContext(ctx, `SELECT at FROM node_heartbeats WHERE node = ?`, s.node).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: heartbeat: %w", err)
	}
	return parseTime(at)
}
