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

const contactColumns = `id, tenant_id, name, company, tier, notes, url, fields, created_at, updated_at`

// CreateContact inserts c and its numbers in one transaction.
func (s *Store) CreateContact(ctx context.Context, c *cti.Contact) error {
	if c == nil || c.TenantID == "" {
		return cti.Errorf(cti.KindInvalid, "contact tenant is required")
	}
	if c.ID == "" {
		c.ID = newID("ct_")
	}
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	fields, err := marshalFields(c.Fields)
	if err != nil {
		return err
	}
	return s.inWriteTx(ctx, "create contact", func(tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO contacts (`+contactColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, c.TenantID, c.Name, c.Company, c.Tier, c.Notes, c.URL, fields,
			formatTime(c.CreatedAt), formatTime(c.UpdatedAt))
		if err != nil {
			return classify(err, "contact", "tenant")
		}
		return insertNumbers(ctx, tx, c)
	})
}

// UpdateContact replaces the contact's fields and numbers.
func (s *Store) UpdateContact(ctx context.Context, c *cti.Contact) error {
	if c == nil || c.TenantID == "" || c.ID == "" {
		return cti.Errorf(cti.KindInvalid, "contact tenant and id are required")
	}
	c.UpdatedAt = time.Now().UTC()
	fields, err := marshalFields(c.Fields)
	if err != nil {
		return err
	}
	return s.inWriteTx(ctx, "update contact", func(tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE contacts SET name = ?, company = ?, tier = ?, notes = ?,
			url = ?, fields = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			c.Name, c.Company, c.Tier, c.Notes, c.URL, fields, formatTime(c.UpdatedAt), c.TenantID, c.ID)
		if err != nil {
			return classify(err, "contact", "tenant")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return cti.Errorf(cti.KindNotFound, "contact %s not found", c.ID)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM contact_numbers WHERE tenant_id = ? AND contact_id = ?`,
			c.TenantID, c.ID); err != nil {
			return err
		}
		return insertNumbers(ctx, tx, c)
	})
}

func insertNumbers(ctx context.Context, tx *Tx, c *cti.Contact) error {
	for _, n := range c.Numbers {
		if _, err := tx.ExecContext(ctx, `INSERT INTO contact_numbers (tenant_id, contact_id, number)
			VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, c.TenantID, c.ID, n); err != nil {
			return classify(err, "contact number", "contact")
		}
	}
	return nil
}

// DeleteContact removes a contact; its numbers go with it (cascade).
func (s *Store) DeleteContact(ctx context.Context, tenantID, id string) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err != nil {
		return fmt.Errorf("store: delete contact: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return cti.Errorf(cti.KindNotFound, "contact %s not found", id)
	}
	return nil
}

// GetContact returns one contact with its numbers.
func (s *Store) GetContact(ctx context.Context, tenantID, id string) (*cti.Contact, error) {
	c, err := scanContact(s.reader.QueryRowContext(ctx,
		`SELECT `+contactColumns+` FROM contacts WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "contact %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get contact: %w", err)
	}
	if err := s.loadNumbers(ctx, tenantID, []*cti.Contact{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// FindContactByNumber is the screen-pop lookup: one indexed probe of
// contact_numbers, newest update first.
func (s *Store) FindContactByNumber(ctx context.Context, tenantID, e164 string) (*cti.Contact, error) {
	c, err := scanContact(s.reader.QueryRowContext(ctx, `SELECT c.id, c.tenant_id, c.name, c.company, c.tier,
		c.notes, c.url, c.fields, c.created_at, c.updated_at
		FROM contact_numbers n JOIN contacts c ON c.tenant_id = n.tenant_id AND c.id = n.contact_id
		WHERE n.tenant_id = ? AND n.number = ? ORDER BY c.updated_at DESC, c.id DESC LIMIT 1`, tenantID, e164))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no contact with number %s", e164)
	}
	if err != nil {
		return nil, fmt.Errorf("store: find contact by number: %w", err)
	}
	if err := s.loadNumbers(ctx, tenantID, []*cti.Contact{c}); err != nil {
		return nil, err
	}
	return c, nil
}

// ListContacts returns a page ordered by name (case-insensitively), then id.
func (s *Store) ListContacts(ctx context.Context, tenantID string, page cti.Page) ([]cti.Contact, string, error) {
	page = page.Normalized()
	cur, err := decodeCursor(page.Cursor, 2)
	if err != nil {
		return nil, "", err
	}
	q := `SELECT ` + contactColumns + ` FROM contacts WHERE tenant_id = ?`
	args := []any{tenantID}
	if cur != nil {
		q += ` AND (name > ? OR (name = ? AND id > ?))`
		args = append(args, cur[0], cur[0], cur[1])
	}
	q += ` ORDER BY name, id LIMIT ?`
	args = append(args, page.Limit+1)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list contacts: %w", err)
	}
	defer rows.Close()
	var list []*cti.Contact
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return nil, "", fmt.Errorf("store: list contacts: %w", err)
		}
		list = append(list, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list contacts: %w", err)
	}
	next := ""
	if len(list) > page.Limit {
		list = list[:page.Limit]
		last := list[len(list)-1]
		next = encodeCursor(last.Name, last.ID)
	}
	if err := s.loadNumbers(ctx, tenantID, list); err != nil {
		return nil, "", err
	}
	out := make([]cti.Contact, len(list))
	for i, c := range list {
		out[i] = *c
	}
	return out, next, nil
}

// loadNumbers fills in the numbers of contacts of one tenant.
func (s *Store) loadNumbers(ctx context.Context, tenantID string, cs []*cti.Contact) error {
	if len(cs) == 0 {
		return nil
	}
	byID := make(map[string]*cti.Contact, len(cs))
	ids := make([]any, 0, len(cs)+1)
	ids = append(ids, tenantID)
	for _, c := range cs {
		byID[c.ID] = c
		c.Numbers = []string{}
		ids = append(ids, c.ID)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT contact_id, number FROM contact_numbers
		WHERE tenant_id = ? AND contact_id IN (?`+strings.Repeat(",?", len(cs)-1)+`) ORDER BY contact_id, number`, ids...)
	if err != nil {
		return fmt.Errorf("store: load contact numbers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, n string
		if err := rows.Scan(&id, &n); err != nil {
			return fmt.Errorf("store: load contact numbers: %w", err)
		}
		if c := byID[id]; c != nil {
			c.Numbers = append(c.Numbers, n)
		}
	}
	return rows.Err()
}

func scanContact(r rowScanner) (*cti.Contact, error) {
	var c cti.Contact
	var fields, created, updated string
	if err := r.Scan(&c.ID, &c.TenantID, &c.Name, &c.Company, &c.Tier, &c.Notes, &c.URL,
		&fields, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(fields), &c.Fields); err != nil {
		return nil, fmt.Errorf("contact %s fields: %w", c.ID, err)
	}
	var err error
	if c.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &c, nil
}

func marshalFields(f map[string]string) (string, error) {
	if f == nil {
		f = map[string]string{}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("store: contact fields: %w", err)
	}
	return string(b), nil
}

// inWriteTx runs fn in a write transaction.
func (s *Store) inWriteTx(ctx context.Context, op string, fn func(*Tx) error) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", op, err)
	}
	if err = fn(tx); err != nil {
		_ = tx.Rollback()
		var de *cti.Error
		if errors.As(err, &de) {
			return err
		}
		return fmt.Errorf("store: %s: %w", op, err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", op, err)
	}
	return nil
}
