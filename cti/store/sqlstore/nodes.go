package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.NodeLossStore = (*Store)(nil)

// LostNodes lists the other nodes that left live calls or signed-in
// agents and whose heartbeat is older than before (or missing).
func (s *Store) LostNodes(ctx context.Context, before time.Time) ([]string, error) {
	cut := formatTime(before)
	rows, err := s.reader.QueryContext(ctx, `SELECT node FROM (
			SELECT node FROM live_calls WHERE node <> '' AND node <> ?1
			UNION SELECT node FROM agent_presence WHERE node <> '' AND node <> ?1 AND status <> 'offline'
		) n
		WHERE NOT EXISTS (SELECT 1 FROM node_heartbeats h WHERE h.node = n.node AND h.at >= ?2)
		ORDER BY node`, s.node, cut)
	if err != nil {
		return nil, fmt.Errorf("store: lost nodes: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: lost nodes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// AdoptLiveCalls makes this node the owner of node's live calls, unless
// node's heartbeat is at or after before, and returns them. The UPDATE
// takes each row once: of nodes adopting at the same time, the first
// moves it and the others no longer find it (PostgreSQL re-checks the
// WHERE on the locked row; SQLite has one writer).
func (s *Store) AdoptLiveCalls(ctx context.Context, node string, before time.Time) ([]cti.LiveCall, error) {
	rows, err := s.writer.QueryContext(ctx, `UPDATE live_calls SET node = ?1
		WHERE node = ?2 AND NOT EXISTS (SELECT 1 FROM node_heartbeats h WHERE h.node = ?2 AND h.at >= ?3)
		RETURNING record, recording_id, seen_at`, s.node, node, formatTime(before))
	if err != nil {
		return nil, fmt.Errorf("store: adopt live calls: %w", err)
	}
	return scanLiveCalls(rows, "adopt live calls")
}

// AdoptPresence makes this node the writer of the statuses node left
// signed in (unless node's heartbeat is at or after before), and returns
// them, each to one adopting node.
func (s *Store) AdoptPresence(ctx context.Context, node string, before time.Time) ([]cti.AgentStatusChange, error) {
	rows, err := s.writer.QueryContext(ctx, `UPDATE agent_presence SET node = ?1
		WHERE node = ?2 AND status <> 'offline'
		AND NOT EXISTS (SELECT 1 FROM node_heartbeats h WHERE h.node = ?2 AND h.at >= ?3)
		RETURNING change`, s.node, node, formatTime(before))
	if err != nil {
		return nil, fmt.Errorf("store: adopt presence: %w", err)
	}
	defer rows.Close()
	var out []cti.AgentStatusChange
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("store: adopt presence: %w", err)
		}
		var ch cti.AgentStatusChange
		if err := json.Unmarshal([]byte(body), &ch); err != nil {
			return nil, fmt.Errorf("store: decode presence: %w", err)
		}
		out = append(out, ch)
	}
	return out, rows.Err()
}
