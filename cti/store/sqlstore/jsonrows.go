package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Tables that keep a domain object as one JSON column (queues,
// forwarding) read it back through these two.

// jsonRow decodes the single JSON column of the one row query selects;
// notFound is the domain error when there is none.
func jsonRow[T any](ctx context.Context, db *DB, what string, notFound error, query string, args ...any) (*T, error) {
	var body string
	err := db.QueryRowContext(ctx, query, args...).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, fmt.Errorf("store: decode %s: %w", what, err)
	}
	return &v, nil
}

// jsonRows decodes the single JSON column of every row query selects.
func jsonRows[T any](ctx context.Context, db *DB, what, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		var v T
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return nil, fmt.Errorf("store: decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
