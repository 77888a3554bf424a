package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// statusBounds turns a query's period into nanoseconds, open ends
// becoming the extremes.
func statusBounds(q cti.StatusQuery) (from, to int64) {
	from, to = 0, math.MaxInt64
	if !q.From.IsZero() {
		from = nanos(q.From)
	}
	if !q.To.IsZero() {
		to = nanos(q.To)
	}
	return from, to
}

// extensionsArg is q.Extensions as a JSON array for the dialect's
// JSONText, and whether it narrows at all (nil: no; an empty list narrows
// to nobody). The array is always valid JSON: a database may expand it
// even when the flag says it is not needed.
func extensionsArg(q cti.StatusQuery) (string, int) {
	if q.Extensions == nil {
		return "[]", 0
	}
	b, _ := json.Marshal(q.Extensions) // a []string always marshals
	return string(b), 1
}

// TimeInStatus sums interval lengths clipped to the period, per agent,
// status and reason; current intervals end at now.
func (s *Store) TimeInStatus(ctx context.Context, tenantID string, q cti.StatusQuery, now time.Time) ([]cti.StatusTime, error) {
	from, to := statusBounds(q)
	exts, narrow := extensionsArg(q)
	rows, err := s.reader.QueryContext(ctx, `SELECT extension, MAX(user_id), MAX(username), status, reason,
			CAST(SUM(`+s.d.Least+`(COALESCE(ended_at, ?4), ?3) - `+s.d.Greatest+`(started_at, ?2)) AS BIGINT)
		FROM agent_status_intervals
		WHERE tenant_id = ?1 AND started_at < ?3 AND COALESCE(ended_at, ?4) > ?2
			AND (?5 = '' OR extension = ?5) AND (?6 = '' OR status = ?6)
			AND (?8 = 0 OR extension IN (SELECT value FROM `+s.d.JSONText("?7")+`))
		GROUP BY extension, status, reason
		ORDER BY extension, status, reason`,
		tenantID, from, to, nanos(now), q.Extension, string(q.Status), exts, narrow)
	if err != nil {
		return nil, fmt.Errorf("store: time in status: %w", err)
	}
	defer rows.Close()
	var out []cti.StatusTime
	for rows.Next() {
		var t cti.StatusTime
		var status string
		var ns int64
		if err := rows.Scan(&t.Extension, &t.UserID, &t.Username, &status, &t.Reason, &ns); err != nil {
			return nil, fmt.Errorf("store: time in status: %w", err)
		}
		t.Status = cti.AgentStatus(status)
		t.Seconds = math.Round(float64(ns)/1e6) / 1e3
		out = append(out, t)
	}
	return out, rows.Err()
}

// StatusHistory lists intervals overlapping the period, newest first; the
// cursor is the last row's id.
func (s *Store) StatusHistory(ctx context.Context, tenantID string, q cti.StatusQuery, page cti.Page) ([]cti.StatusInterval, string, error) {
	page = page.Normalized()
	before := int64(math.MaxInt64)
	if page.Cursor != "" {
		n, err := strconv.ParseInt(page.Cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, "", cti.Errorf(cti.KindInvalid, "cursor: not one this API issued")
		}
		before = n
	}
	from, to := statusBounds(q)
	exts, narrow := extensionsArg(q)
	rows, err := s.reader.QueryContext(ctx, `SELECT id, extension, user_id, username, status, reason, started_at, COALESCE(ended_at, 0)
		FROM agent_status_intervals
		WHERE tenant_id = ?1 AND started_at < ?3 AND (ended_at IS NULL OR ended_at > ?2)
			AND (?4 = '' OR extension = ?4) AND (?5 = '' OR status = ?5) AND id < ?6
			AND (?9 = 0 OR extension IN (SELECT value FROM `+s.d.JSONText("?8")+`))
		ORDER BY id DESC LIMIT ?7`,
		tenantID, from, to, q.Extension, string(q.Status), before, page.Limit+1, exts, narrow)
	if err != nil {
		return nil, "", fmt.Errorf("store: status history: %w", err)
	}
	defer rows.Close()
	var out []cti.StatusInterval
	var ids []int64
	for rows.Next() {
		var iv cti.StatusInterval
		var id, started, ended int64
		var status string
		if err := rows.Scan(&id, &iv.Extension, &iv.UserID, &iv.Username, &status, &iv.Reason, &started, &ended); err != nil {
			return nil, "", fmt.Errorf("store: status history: %w", err)
		}
		iv.Status = cti.AgentStatus(status)
		iv.StartedAt = fromNanos(started)
		if ended != 0 {
			iv.EndedAt = fromNanos(ended)
		}
		out = append(out, iv)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: status history: %w", err)
	}
	next := ""
	if len(out) > page.Limit {
		out = out[:page.Limit]
		next = strconv.FormatInt(ids[page.Limit-1], 10)
	}
	return out, next, nil
}
