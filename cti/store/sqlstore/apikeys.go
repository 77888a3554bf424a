package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

const apiKeyColumns = `id, tenant_id, user_id, name, hash, created_at, last_used_at`

// CreateAPIKey stores a key; its user must belong to its tenant.
func (s *Store) CreateAPIKey(ctx context.Context, k *cti.APIKey) error {
	switch {
	case k == nil || k.ID == "" || k.TenantID == "" || k.UserID == "":
		return cti.Errorf(cti.KindInvalid, "API key id, tenant and user are required")
	case k.Hash == "":
		return cti.Errorf(cti.KindInvalid, "API key hash is required")
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = time.Now().UTC()
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, '')`,
		k.ID, k.TenantID, k.UserID, k.Name, k.Hash, formatTime(k.CreatedAt))
	if err != nil {
		return classify(err, "API key", "user")
	}
	return nil
}

// GetAPIKey finds a key by id in any tenant (the key names its tenant).
func (s *Store) GetAPIKey(ctx context.Context, id string) (*cti.APIKey, error) {
	k, err := scanAPIKey(s.reader.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "API key not found")
	}
	if err != nil {
		return nil, fmt.Errorf("store: get API key: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns a tenant's keys, oldest first.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string) ([]cti.APIKey, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = ?
		ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list API keys: %w", err)
	}
	defer rows.Close()
	out := []cti.APIKey{}
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list API keys: %w", err)
		}
		out = append(out, *k)
	}
	return out, rows.Err()
}

// DeleteAPIKey revokes a key of the tenant.
func (s *Store) DeleteAPIKey(ctx context.Context, tenantID, id string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM api_keys WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: delete API key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "API key %s not found", id)
	}
	return nil
}

// TouchAPIKey records the key's last use.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, formatTime(at), id); err != nil {
		return fmt.Errorf("store: touch API key: %w", err)
	}
	return nil
}

func scanAPIKey(r rowScanner) (*cti.APIKey, error) {
	var k cti.APIKey
	var created, used string
	if err := r.Scan(&k.ID, &k.TenantID, &k.UserID, &k.Name, &k.Hash, &created, &used); err != nil {
		return nil, err
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if used != "" {
		if k.LastUsedAt, err = parseTime(used); err != nil {
			return nil, err
		}
	}
	return &k, nil
}
