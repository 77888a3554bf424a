package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/ivr"
)

// SaveIVRFlow stores f as the flow's next version and makes it current.
func (s *Store) SaveIVRFlow(ctx context.Context, tenantID string, f *ivr.Flow, by string, at time.Time) (int, error) {
	doc, err := json.Marshal(f)
	if err != nil {
		return 0, fmt.Errorf("store: ivr flow: %w", err)
	}
	var version int
	err = s.inWriteTx(ctx, "save ivr flow", func(tx *Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM ivr_flow_versions WHERE tenant_id = ? AND flow_id = ?`,
			tenantID, f.ID).Scan(&version); err != nil {
			return err
		}
		version++
		if _, err := tx.ExecContext(ctx, `INSERT INTO ivr_flow_versions (tenant_id, flow_id, version, doc, created_at, created_by)
			VALUES (?, ?, ?, ?, ?, ?)`, tenantID, f.ID, version, string(doc), formatTime(at), by); err != nil {
			return classify(err, "ivr flow", "tenant")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO ivr_flows (tenant_id, flow_id, current_version, name, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, flow_id) DO UPDATE SET current_version = excluded.current_version, name = excluded.name, updated_at = excluded.updated_at`,
			tenantID, f.ID, version, f.Name, formatTime(at))
		return err
	})
	return version, err
}

const ivrVersionCols = `v.doc, v.version, v.version = f.current_version, v.created_at, v.created_by`

func scanIVRVersion(sc interface{ Scan(...any) error }) (*cti.IVRFlowVersion, error) {
	var doc, created string
	var fv cti.IVRFlowVersion
	if err := sc.Scan(&doc, &fv.Version, &fv.Current, &created, &fv.CreatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), &fv.Flow); err != nil {
		return nil, fmt.Errorf("store: ivr flow: %w", err)
	}
	t, err := parseTime(created)
	if err != nil {
		return nil, err
	}
	fv.CreatedAt = t
	return &fv, nil
}

// GetIVRFlow returns a version of a flow (0: the current one).
func (s *Store) GetIVRFlow(ctx context.Context, tenantID, id string, version int) (*cti.IVRFlowVersion, error) {
	fv, err := scanIVRVersion(s.reader.QueryRowContext(ctx, `SELECT `+ivrVersionCols+`
		FROM ivr_flow_versions v JOIN ivr_flows f ON f.tenant_id = v.tenant_id AND f.flow_id = v.flow_id
		WHERE v.tenant_id = ? AND v.flow_id = ? AND v.version = CASE WHEN ? = 0 THEN f.current_version ELSE ? END`,
		tenantID, id, version, version))
	if errors.Is(err, sql.ErrNoRows) {
		if version != 0 {
			return nil, cti.Errorf(cti.KindNotFound, "IVR flow %s has no version %d", id, version)
		}
		return nil, cti.Errorf(cti.KindNotFound, "no IVR flow %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: ivr flow: %w", err)
	}
	return fv, nil
}

func (s *Store) ivrVersions(ctx context.Context, where string, args ...any) ([]cti.IVRFlowVersion, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+ivrVersionCols+`
		FROM ivr_flow_versions v JOIN ivr_flows f ON f.tenant_id = v.tenant_id AND f.flow_id = v.flow_id
		WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: ivr flows: %w", err)
	}
	defer rows.Close()
	out := []cti.IVRFlowVersion{}
	for rows.Next() {
		fv, err := scanIVRVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: ivr flows: %w", err)
		}
		out = append(out, *fv)
	}
	return out, rows.Err()
}

// ListIVRFlows returns the current version of every flow of a tenant.
func (s *Store) ListIVRFlows(ctx context.Context, tenantID string) ([]cti.IVRFlowVersion, error) {
	return s.ivrVersions(ctx, `v.tenant_id = ? AND v.version = f.current_version ORDER BY v.flow_id`, tenantID)
}

// ListIVRFlowVersions returns every version of a flow, newest first.
func (s *Store) ListIVRFlowVersions(ctx context.Context, tenantID, id string) ([]cti.IVRFlowVersion, error) {
	return s.ivrVersions(ctx, `v.tenant_id = ? AND v.flow_id = ? ORDER BY v.version DESC`, tenantID, id)
}

// SetIVRFlowCurrent makes an existing version current.
func (s *Store) SetIVRFlowCurrent(ctx context.Context, tenantID, id string, version int) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE ivr_flows SET current_version = ?
		WHERE tenant_id = ? AND flow_id = ? AND EXISTS (SELECT 1 FROM ivr_flow_versions
			WHERE tenant_id = ? AND flow_id = ? AND version = ?)`, version, tenantID, id, tenantID, id, version)
	if err != nil {
		return fmt.Errorf("store: ivr rollback: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "IVR flow %s has no version %d", id, version)
	}
	return nil
}

// DeleteIVRFlow removes a flow and its versions.
func (s *Store) DeleteIVRFlow(ctx context.Context, tenantID, id string) error {
	return s.inWriteTx(ctx, "delete ivr flow", func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ivr_flows WHERE tenant_id = ? AND flow_id = ?`, tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cti.Errorf(cti.KindNotFound, "no IVR flow %s", id)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM ivr_flow_versions WHERE tenant_id = ? AND flow_id = ?`, tenantID, id)
		return err
	})
}
