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

// Trunks (0011_trunks.sql): cti.TrunkStore. The password is sealed with
// the secret key like the tenants' CRM credentials; "trunk:<id>" is the
// additional data.

const trunkColumns = `id, name, address, transport, allow_from, username, password, domain, register, caller_id, in_dialog_target, early_media, created_at, updated_at`

func (s *Store) scanTrunk(r rowScanner) (*cti.Trunk, error) {
	var t cti.Trunk
	var allow, pw, created, updated string
	if err := r.Scan(&t.ID, &t.Name, &t.Address, &t.Transport, &allow, &t.Username, &pw, &t.Domain, &t.Register,
		&t.CallerID, &t.InDialogTarget, &t.EarlyMedia, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if err = json.Unmarshal([]byte(allow), &t.AllowFrom); err != nil {
		return nil, fmt.Errorf("decode allow_from of trunk %s: %w", t.ID, err)
	}
	if t.Password, err = s.openSecret("trunk:"+t.ID, pw); err != nil {
		return nil, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if t.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &t, nil
}

// ListTrunks returns every trunk, oldest (the outbound one) first.
func (s *Store) ListTrunks(ctx context.Context) ([]cti.Trunk, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+trunkColumns+` FROM trunks ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list trunks: %w", err)
	}
	defer rows.Close()
	out := []cti.Trunk{}
	for rows.Next() {
		t, err := s.scanTrunk(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list trunks: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list trunks: %w", err)
	}
	return out, nil
}

// GetTrunk returns one trunk.
func (s *Store) GetTrunk(ctx context.Context, id string) (*cti.Trunk, error) {
	t, err := s.scanTrunk(s.reader.QueryRowContext(ctx, `SELECT `+trunkColumns+` FROM trunks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "trunk not found")
	}
	if err != nil {
		return nil, fmt.Errorf("store: get trunk: %w", err)
	}
	return t, nil
}

func (s *Store) trunkArgs(t *cti.Trunk) ([]any, error) {
	allow := t.AllowFrom
	if allow == nil {
		allow = []string{}
	}
	b, err := json.Marshal(allow)
	if err != nil {
		return nil, fmt.Errorf("store: encode allow_from: %w", err)
	}
	return []any{t.Name, t.Address, t.Transport, string(b), t.Username, s.sealSecret("trunk:"+t.ID, t.Password),
		t.Domain, t.Register, t.CallerID, orDefault(t.InDialogTarget, "auto"), orDefault(t.EarlyMedia, "oneway"), formatTime(t.UpdatedAt)}, nil
}

// CreateTrunk inserts t (ID and times filled in unless set).
func (s *Store) CreateTrunk(ctx context.Context, t *cti.Trunk) error {
	if t.ID == "" {
		t.ID = newID("trk_")
	}
	now := time.Now().UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	t.UpdatedAt = now
	args, err := s.trunkArgs(t)
	if err != nil {
		return err
	}
	_, err = s.writer.ExecContext(ctx, `INSERT INTO trunks (name, address, transport, allow_from, username, password, domain,
		register, caller_id, in_dialog_target, early_media, updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		append(args, t.ID, formatTime(t.CreatedAt))...)
	if err != nil {
		return classify(err, "trunk "+t.Name, "")
	}
	return nil
}

// UpdateTrunk replaces a trunk's fields.
func (s *Store) UpdateTrunk(ctx context.Context, t *cti.Trunk) error {
	t.UpdatedAt = time.Now().UTC()
	args, err := s.trunkArgs(t)
	if err != nil {
		return err
	}
	return s.execOne(ctx, "trunk", `UPDATE trunks SET name = ?, address = ?, transport = ?, allow_from = ?, username = ?,
		password = ?, domain = ?, register = ?, caller_id = ?, in_dialog_target = ?, early_media = ?, updated_at = ? WHERE id = ?`, append(args, t.ID)...)
}

// DeleteTrunk removes a trunk.
func (s *Store) DeleteTrunk(ctx context.Context, id string) error {
	return s.execOne(ctx, "trunk", `DELETE FROM trunks WHERE id = ?`, id)
}

// orDefault stores a default explicitly, so a row says what applies.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
