package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ringbridge/ringbridge/cti"
)

// GetForwarding returns an extension's forwarding rules.
func (s *Store) GetForwarding(ctx context.Context, tenantID, ext string) (*cti.Forwarding, error) {
	return jsonRow[cti.Forwarding](ctx, s.reader, "forwarding", cti.Errorf(cti.KindNotFound, "no forwarding for %s", ext),
		`SELECT rules FROM forwarding WHERE tenant_id = ? AND extension = ?`, tenantID, ext)
}

// ListForwarding returns every forwarding of a tenant.
func (s *Store) ListForwarding(ctx context.Context, tenantID string) ([]cti.Forwarding, error) {
	return jsonRows[cti.Forwarding](ctx, s.reader, "forwarding", `SELECT rules FROM forwarding WHERE tenant_id = ? ORDER BY extension`, tenantID)
}

// SetForwarding replaces an extension's forwarding rules.
func (s *Store) SetForwarding(ctx context.Context, tenantID string, f *cti.Forwarding) error {
	body, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("store: forwarding: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO forwarding (tenant_id, extension, rules, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (tenant_id, extension) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
		tenantID, f.Extension, string(body), formatTime(f.UpdatedAt)); err != nil {
		return classify(err, "forwarding", "tenant")
	}
	return nil
}

// DeleteForwarding removes an extension's forwarding (no error when none).
func (s *Store) DeleteForwarding(ctx context.Context, tenantID, ext string) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM forwarding WHERE tenant_id = ? AND extension = ?`, tenantID, ext); err != nil {
		return fmt.Errorf("store: delete forwarding: %w", err)
	}
	return nil
}
