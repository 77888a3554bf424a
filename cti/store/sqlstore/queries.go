package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// CreateTenant inserts t. The caller chooses the ID (a slug such as "demo")
// because it appears in logins and URLs.
func (s *Store) CreateTenant(ctx context.Context, t *cti.Tenant) error {
	if t == nil || t.ID == "" {
		return cti.Errorf(cti.KindInvalid, "tenant id is required")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	_, err := s.writer.ExecContext(ctx,
		`INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)`,
		t.ID, t.Name, formatTime(t.CreatedAt))
	if err != nil {
		return classify(err, "tenant", "")
	}
	return nil
}

// GetTenant returns the tenant with the given ID.
func (s *Store) GetTenant(ctx context.Context, id string) (*cti.Tenant, error) {
	row := s.reader.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants WHERE id = ?`, id)
	t, err := scanTenant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "tenant %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get tenant: %w", err)
	}
	return t, nil
}

// ListTenants returns all tenants ordered by ID.
func (s *Store) ListTenants(ctx context.Context) ([]cti.Tenant, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, name, created_at FROM tenants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list tenants: %w", err)
	}
	defer rows.Close()
	out := []cti.Tenant{}
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tenants: %w", err)
		}
		out = append(out, *t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tenants: %w", err)
	}
	return out, nil
}

func scanTenant(r rowScanner) (*cti.Tenant, error) {
	var t cti.Tenant
	var created string
	if err := r.Scan(&t.ID, &t.Name, &created); err != nil {
		return nil, err
	}
	var err error
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	return &t, nil
}

func validRole(r cti.Role) bool {
	switch r {
	case cti.RoleAdmin, cti.RoleSupervisor, cti.RoleAgent, cti.RoleAPI:
		return true
	}
	return false
}

// CreateUser inserts u, filling in ID and CreatedAt when left empty. A missing
// tenant yields KindNotFound; a taken username or extension KindConflict.
func (s *Store) CreateUser(ctx context.Context, u *cti.User) error {
	switch {
	case u == nil:
		return cti.Errorf(cti.KindInvalid, "user is required")
	case u.TenantID == "":
		return cti.Errorf(cti.KindInvalid, "user tenant is required")
	case u.Username == "":
		return cti.Errorf(cti.KindInvalid, "username is required")
	case !validRole(u.Role):
		return cti.Errorf(cti.KindInvalid, "unknown role %q", u.Role)
	}
	if u.ID == "" {
		u.ID = newID("usr_")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now().UTC()
	}
	u.UpdatedAt = u.CreatedAt
	teams, skills, err := encodeTeamsSkills(u)
	if err != nil {
		return err
	}
	_, err = s.writer.ExecContext(ctx, `INSERT INTO users
		(id, tenant_id, username, display_name, extension, role, password_hash, created_at,
		 teams, skills, disabled_at, super_admin, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.TenantID, u.Username, u.DisplayName, u.Extension, string(u.Role),
		u.PasswordHash, formatTime(u.CreatedAt), teams, skills, disabledAt(u), u.SuperAdmin, formatTime(u.UpdatedAt))
	if err != nil {
		return classify(err, "user", "tenant")
	}
	return nil
}

const userColumns = `id, tenant_id, username, display_name, extension, role, password_hash, created_at,
	teams, skills, super_admin, updated_at, token_epoch, disabled_at`

func scanUser(r rowScanner) (*cti.User, error) {
	var u cti.User
	var role, created, teams, skills, updated string
	var disabled sql.NullString
	if err := r.Scan(&u.ID, &u.TenantID, &u.Username, &u.DisplayName, &u.Extension,
		&role, &u.PasswordHash, &created, &teams, &skills, &u.SuperAdmin, &updated, &u.TokenEpoch, &disabled); err != nil {
		return nil, err
	}
	u.Role = cti.Role(role)
	var err error
	if u.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	u.UpdatedAt = u.CreatedAt
	if updated != "" {
		if u.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, err
		}
	}
	if err := decodeTeamsSkills(&u, teams, skills); err != nil {
		return nil, err
	}
	if isDisabled(disabled) {
		if u.DisabledAt, err = parseTime(disabled.String); err != nil {
			return nil, err
		}
	}
	return &u, nil
}

// isDisabled reads the disabled_at column: set and not empty.
func isDisabled(disabledAt sql.NullString) bool { return disabledAt.Valid && disabledAt.String != "" }

func (s *Store) getUser(ctx context.Context, op, where string, args ...any) (*cti.User, error) {
	row := s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, args...)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "user not found")
	}
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return u, nil
}

// GetUser returns the user with the given ID within the tenant.
func (s *Store) GetUser(ctx context.Context, tenantID, userID string) (*cti.User, error) {
	return s.getUser(ctx, "get user", `tenant_id = ? AND id = ?`, tenantID, userID)
}

// FindUserByLogin matches login against username (case-insensitively) or
// extension. Should one user's username equal another's extension, the
// username wins, so a login that worked yesterday cannot be captured by
// someone later being given that extension.
func (s *Store) FindUserByLogin(ctx context.Context, tenantID, login string) (*cti.User, error) {
	if login == "" {
		return nil, cti.Errorf(cti.KindNotFound, "user not found")
	}
	return s.getUser(ctx, "find user by login",
		`tenant_id = ?1 AND (username = ?2 OR (extension <> '' AND extension = ?2))
		ORDER BY username = ?2 DESC LIMIT 1`, tenantID, login)
}

// GetUserByExtension returns the user owning ext within the tenant.
func (s *Store) GetUserByExtension(ctx context.Context, tenantID, ext string) (*cti.User, error) {
	if ext == "" {
		// Many users have no extension; "" must not match any of them.
		return nil, cti.Errorf(cti.KindNotFound, "user not found")
	}
	return s.getUser(ctx, "get user by extension", `tenant_id = ? AND extension = ?`, tenantID, ext)
}

// ListUsers returns the tenant's users ordered by username; an unknown tenant
// simply has none.
func (s *Store) ListUsers(ctx context.Context, tenantID string) ([]cti.User, error) {
	return s.queryUsers(ctx, "list users",
		`SELECT `+userColumns+` FROM users WHERE tenant_id = ? ORDER BY username, id`, tenantID)
}

// queryUsers returns the users query returns (selecting userColumns);
// op names the operation in errors.
func (s *Store) queryUsers(ctx context.Context, op string, query string, args ...any) ([]cti.User, error) {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	defer rows.Close()
	out := []cti.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: %s: %w", op, err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", op, err)
	}
	return out, nil
}

// GetUsersAccess returns what the access check needs of those of the
// tenant's users with the given IDs that exist, reading them in chunks
// (bound parameters are limited). Only those columns: it runs for every
// open agent session about once a second, and the whole row (password
// hash, skills, times, each decoded) was 2.8 KiB of garbage per user.
func (s *Store) GetUsersAccess(ctx context.Context, tenantID string, ids []string) ([]cti.UserAccess, error) {
	out := make([]cti.UserAccess, 0, len(ids))
	args := make([]any, 0, min(len(ids), getUsersChunk)+1)
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), getUsersChunk)]
		ids = ids[len(chunk):]
		args = append(args[:0], tenantID)
		for _, id := range chunk {
			args = append(args, id)
		}
		var err error
		if out, err = s.queryUsersAccess(ctx, out, `SELECT id, username, extension, role, teams, super_admin, token_epoch, disabled_at
			FROM users WHERE tenant_id = ? AND id IN (?`+
			strings.Repeat(",?", len(chunk)-1)+`)`, args...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) queryUsersAccess(ctx context.Context, out []cti.UserAccess, query string, args ...any) ([]cti.UserAccess, error) {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: get users' access: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a cti.UserAccess
		var role, teams string
		var disabled sql.NullString
		if err := rows.Scan(&a.ID, &a.Username, &a.Extension, &role, &teams, &a.SuperAdmin, &a.TokenEpoch, &disabled); err != nil {
			return nil, fmt.Errorf("store: get users' access: %w", err)
		}
		a.Role, a.Disabled = cti.Role(role), isDisabled(disabled)
		if a.Teams, err = decodeTeams(a.ID, teams); err != nil {
			return nil, fmt.Errorf("store: get users' access: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: get users' access: %w", err)
	}
	return out, nil
}

// getUsersChunk is how many IDs one query of GetUsersAccess names.
const getUsersChunk = 500

// CreateRefreshToken stores t, filling in ID and CreatedAt when left empty.
// The user must belong to t.TenantID, otherwise KindNotFound.
func (s *Store) CreateRefreshToken(ctx context.Context, t *cti.RefreshToken) error {
	switch {
	case t == nil:
		return cti.Errorf(cti.KindInvalid, "refresh token is required")
	case t.TenantID == "" || t.UserID == "":
		return cti.Errorf(cti.KindInvalid, "refresh token tenant and user are required")
	case t.Hash == "":
		return cti.Errorf(cti.KindInvalid, "refresh token hash is required")
	case t.ExpiresAt.IsZero():
		return cti.Errorf(cti.KindInvalid, "refresh token expiry is required")
	}
	if t.ID == "" {
		t.ID = newID("rtk_")
	}
	if t.FamilyID == "" {
		t.FamilyID = t.ID
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	_, err := s.writer.ExecContext(ctx, `INSERT INTO refresh_tokens
		(id, tenant_id, user_id, family_id, hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.TenantID, t.UserID, t.FamilyID, t.Hash, formatTime(t.ExpiresAt), formatTime(t.CreatedAt))
	if err != nil {
		return classify(err, "refresh token", "user")
	}
	return nil
}

// ConsumeRefreshToken marks the token used and returns it. The row stays
// until it expires so that a second presentation is recognised as a
// replay, which deletes the token's whole family. An expired token is
// reported as NotFound, so callers cannot tell "expired" from "never
// existed" and need no extra branch.
func (s *Store) ConsumeRefreshToken(ctx context.Context, tenantID, hash string) (tok *cti.RefreshToken, err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: consume refresh token: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	var t cti.RefreshToken
	var expires, created string
	var used sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT id, tenant_id, user_id, family_id, hash, expires_at, created_at, used_at
		FROM refresh_tokens WHERE tenant_id = ? AND hash = ?`+s.d.ForUpdate, tenantID, hash).
		Scan(&t.ID, &t.TenantID, &t.UserID, &t.FamilyID, &t.Hash, &expires, &created, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "refresh token not found")
	}
	if err != nil {
		return nil, fmt.Errorf("store: consume refresh token: %w", err)
	}
	if t.ExpiresAt, err = parseTime(expires); err != nil {
		return nil, fmt.Errorf("store: consume refresh token: %w", err)
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return nil, fmt.Errorf("store: consume refresh token: %w", err)
	}
	now := time.Now()
	switch {
	case used.Valid:
		// A replay: whoever holds the family's newest token may be the
		// thief, so nobody keeps it.
		if _, err = tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE tenant_id = ? AND family_id = ?`,
			t.TenantID, t.FamilyID); err != nil {
			return nil, fmt.Errorf("store: revoke refresh family: %w", err)
		}
	case !now.Before(t.ExpiresAt):
		if _, err = tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE id = ?`, t.ID); err != nil {
			return nil, fmt.Errorf("store: delete expired refresh token: %w", err)
		}
	default:
		if _, err = tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE id = ?`, formatTime(now), t.ID); err != nil {
			return nil, fmt.Errorf("store: consume refresh token: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: consume refresh token: commit: %w", err)
	}
	switch {
	case used.Valid:
		return nil, &cti.Error{Kind: cti.KindNotFound, Message: "refresh token not found", Err: cti.ErrRefreshTokenReused}
	case !now.Before(t.ExpiresAt):
		return nil, cti.Errorf(cti.KindNotFound, "refresh token not found")
	}
	return &t, nil
}

// RevokeRefreshFamily deletes the family of the token with the given hash.
func (s *Store) RevokeRefreshFamily(ctx context.Context, tenantID, hash string) error {
	_, err := s.writer.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE tenant_id = ?1 AND family_id =
		(SELECT family_id FROM refresh_tokens WHERE tenant_id = ?1 AND hash = ?2)`, tenantID, hash)
	if err != nil {
		return fmt.Errorf("store: revoke refresh family: %w", err)
	}
	return nil
}

// RevokeUserTokens bumps the user's token epoch and deletes the user's
// refresh tokens in one transaction. An unknown user is KindNotFound.
func (s *Store) RevokeUserTokens(ctx context.Context, tenantID, userID string) (epoch int64, err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: revoke user tokens: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	err = tx.QueryRowContext(ctx, `UPDATE users SET token_epoch = token_epoch + 1
		WHERE tenant_id = ? AND id = ? RETURNING token_epoch`, tenantID, userID).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, cti.Errorf(cti.KindNotFound, "user not found")
	}
	if err != nil {
		return 0, fmt.Errorf("store: revoke user tokens: %w", err)
	}
	if _, err = tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE tenant_id = ? AND user_id = ?`, tenantID, userID); err != nil {
		return 0, fmt.Errorf("store: revoke user tokens: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: revoke user tokens: commit: %w", err)
	}
	return epoch, nil
}

// DeleteExpiredRefreshTokens removes tokens that expired before now, for a
// periodic janitor; tokens that are never presented again (and used ones,
// kept for replay detection) would otherwise accumulate forever.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at <= ?`, formatTime(now))
	if err != nil {
		return 0, fmt.Errorf("store: delete expired refresh tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete expired refresh tokens: %w", err)
	}
	return n, nil
}
