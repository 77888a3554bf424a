package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
)

// The administration tables of 0010_admin.sql: cti.AdminStore.

type skillJSON struct {
	Name  string `json:"name"`
	Level int    `json:"level"`
}

// encodeTeamsSkills also turns nil lists into empty ones, so a user
// reads back exactly as written.
func encodeTeamsSkills(u *cti.User) (string, string, error) {
	if u.Teams == nil {
		u.Teams = []string{}
	}
	if u.Skills == nil {
		u.Skills = []cti.Skill{}
	}
	teams := u.Teams
	skills := make([]skillJSON, len(u.Skills))
	for i, s := range u.Skills {
		skills[i] = skillJSON(s)
	}
	tb, err := json.Marshal(teams)
	if err != nil {
		return "", "", fmt.Errorf("store: encode teams: %w", err)
	}
	sb, err := json.Marshal(skills)
	if err != nil {
		return "", "", fmt.Errorf("store: encode skills: %w", err)
	}
	return string(tb), string(sb), nil
}

func decodeTeamsSkills(u *cti.User, teams, skills string) error {
	var err error
	if u.Teams, err = decodeTeams(u.ID, teams); err != nil {
		return err
	}
	u.Skills = []cti.Skill{}
	var sk []skillJSON
	if err := json.Unmarshal([]byte(skills), &sk); err != nil {
		return fmt.Errorf("decode skills of %s: %w", u.ID, err)
	}
	for _, s := range sk {
		u.Skills = append(u.Skills, cti.Skill(s))
	}
	return nil
}

// decodeTeams reads a user's teams column (a JSON array of strings);
// an empty list is not nil.
func decodeTeams(userID, teams string) ([]string, error) {
	if teams == "[]" {
		return []string{}, nil
	}
	out := []string{}
	if err := json.Unmarshal([]byte(teams), &out); err != nil {
		return nil, fmt.Errorf("decode teams of %s: %w", userID, err)
	}
	return out, nil
}

// UpdateTenant renames a tenant.
func (s *Store) UpdateTenant(ctx context.Context, t *cti.Tenant) error {
	return s.execOne(ctx, "tenant", `UPDATE tenants SET name = ? WHERE id = ?`, t.Name, t.ID)
}

// tenantTables are the tables whose rows a tenant owns, children first so
// foreign keys hold at every step. The audit log is not among them.
var tenantTables = []string{"refresh_tokens", "api_keys", "contact_numbers", "contacts", "numbers",
	"tenant_settings", "recording_policies", "recordings", "calls", "webhook_endpoints", "users"}

// DeleteTenant removes a tenant and every row it owns in one transaction.
func (s *Store) DeleteTenant(ctx context.Context, id string) (err error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete tenant: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, t := range tenantTables {
		if _, err = tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE tenant_id = ?`, id); err != nil {
			return fmt.Errorf("store: delete tenant: %s: %w", t, err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("store: delete tenant: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		err = cti.Errorf(cti.KindNotFound, "tenant %q not found", id)
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("store: delete tenant: commit: %w", err)
	}
	return nil
}

// UpdateUser writes every mutable field of u.
func (s *Store) UpdateUser(ctx context.Context, u *cti.User) error {
	u.UpdatedAt = time.Now().UTC()
	teams, skills, err := encodeTeamsSkills(u)
	if err != nil {
		return err
	}
	return s.execOne(ctx, "user", `UPDATE users SET username = ?, display_name = ?, extension = ?, role = ?,
		password_hash = ?, teams = ?, skills = ?, disabled_at = ?, super_admin = ?, updated_at = ?
		WHERE tenant_id = ? AND id = ?`,
		u.Username, u.DisplayName, u.Extension, string(u.Role), u.PasswordHash, teams, skills,
		disabledAt(u), u.SuperAdmin, formatTime(u.UpdatedAt), u.TenantID, u.ID)
}

// disabledAt is the disabled_at column's value: NULL while enabled.
func disabledAt(u *cti.User) any {
	if !u.Disabled() {
		return nil
	}
	return formatTime(u.DisabledAt)
}

// DeleteUser removes a user; tokens and keys go with it (cascade).
func (s *Store) DeleteUser(ctx context.Context, tenantID, userID string) error {
	return s.execOne(ctx, "user", `DELETE FROM users WHERE tenant_id = ? AND id = ?`, tenantID, userID)
}

// DeleteUserRefreshTokens drops every refresh token of a user.
func (s *Store) DeleteUserRefreshTokens(ctx context.Context, tenantID, userID string) (int64, error) {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE tenant_id = ? AND user_id = ?`, tenantID, userID)
	if err != nil {
		return 0, fmt.Errorf("store: delete refresh tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: delete refresh tokens: %w", err)
	}
	return n, nil
}

// execOne runs a write that must touch exactly one row: none is NotFound.
func (s *Store) execOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.writer.ExecContext(ctx, q, args...)
	if err != nil {
		return classify(err, what, "tenant")
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: write %s: %w", what, err)
	} else if n == 0 {
		return cti.Errorf(cti.KindNotFound, "%s not found", what)
	}
	return nil
}

// ListUsersPage pages through users by (username, id).
func (s *Store) ListUsersPage(ctx context.Context, tenantID string, f cti.UserFilter) ([]cti.User, string, error) {
	if f.Teams != nil && len(f.Teams) == 0 {
		return []cti.User{}, "", nil
	}
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if f.Role != "" {
		where, args = append(where, "role = ?"), append(args, string(f.Role))
	}
	if f.Team != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM "+s.d.JSONText("users.teams")+" WHERE value = ?)"), append(args, f.Team)
	}
	if f.Teams != nil {
		where = append(where, "EXISTS (SELECT 1 FROM "+s.d.JSONText("users.teams")+" WHERE value IN (?"+strings.Repeat(",?", len(f.Teams)-1)+"))")
		for _, t := range f.Teams {
			args = append(args, t)
		}
	}
	if f.Skill != "" {
		where = append(where, "EXISTS (SELECT 1 FROM "+s.d.JSONText("users.skills")+" WHERE lower("+s.d.JSONField("value", "name")+") = lower(?))")
		args = append(args, f.Skill)
	}
	if f.Query != "" {
		q := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Query) + "%"
		like := s.d.ILike
		where = append(where, `(username `+like+` ? ESCAPE '\' OR display_name `+like+` ? ESCAPE '\' OR extension `+like+` ? ESCAPE '\')`)
		args = append(args, q, q, q)
	}
	if f.Disabled != nil {
		if *f.Disabled {
			where = append(where, "disabled_at IS NOT NULL")
		} else {
			where = append(where, "disabled_at IS NULL")
		}
	}
	cur, err := decodeCursor(f.Cursor, 2)
	if err != nil {
		return nil, "", err
	}
	if cur != nil {
		where, args = append(where, "(username, id) > (?, ?)"), append(args, cur[0], cur[1])
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	out, err := s.queryUsers(ctx, "list users", `SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY username, id LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		last := out[limit-1]
		next = encodeCursor(last.Username, last.ID)
	}
	return out, next, nil
}

const numberColumns = `id, tenant_id, number, route, extension, target, label, created_at, updated_at`

func scanNumber(r rowScanner) (*cti.Number, error) {
	var n cti.Number
	var route, created, updated string
	if err := r.Scan(&n.ID, &n.TenantID, &n.Number, &route, &n.Extension, &n.Target, &n.Label, &created, &updated); err != nil {
		return nil, err
	}
	n.Route = cti.RouteKind(route)
	var err error
	if n.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if n.UpdatedAt, err = parseTime(updated); err != nil {
		return nil, err
	}
	return &n, nil
}

func numberKey(n string) string { return strings.TrimPrefix(n, "+") }

// CreateNumber inserts n; a number taken by any tenant is a Conflict.
func (s *Store) CreateNumber(ctx context.Context, n *cti.Number) error {
	if n.ID == "" {
		n.ID = newID("num_")
	}
	now := time.Now().UTC()
	n.CreatedAt, n.UpdatedAt = now, now
	_, err := s.writer.ExecContext(ctx, `INSERT INTO numbers (`+numberColumns+`, number_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.TenantID, n.Number, string(n.Route), n.Extension, n.Target, n.Label, formatTime(now), formatTime(now), numberKey(n.Number))
	if err != nil {
		return classify(err, "number "+n.Number, "tenant")
	}
	return nil
}

func (s *Store) getNumber(ctx context.Context, where string, args ...any) (*cti.Number, error) {
	n, err := scanNumber(s.reader.QueryRowContext(ctx, `SELECT `+numberColumns+` FROM numbers WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "number not found")
	}
	if err != nil {
		return nil, fmt.Errorf("store: get number: %w", err)
	}
	return n, nil
}

// GetNumber returns a number of the tenant.
func (s *Store) GetNumber(ctx context.Context, tenantID, id string) (*cti.Number, error) {
	return s.getNumber(ctx, `tenant_id = ? AND id = ?`, tenantID, id)
}

// FindNumber finds a called number in any tenant.
func (s *Store) FindNumber(ctx context.Context, number string) (*cti.Number, error) {
	return s.getNumber(ctx, `number_key = ?`, numberKey(number))
}

// ListNumbers returns the tenant's numbers in number order.
func (s *Store) ListNumbers(ctx context.Context, tenantID string) ([]cti.Number, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+numberColumns+` FROM numbers WHERE tenant_id = ? ORDER BY number_key`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list numbers: %w", err)
	}
	defer rows.Close()
	out := []cti.Number{}
	for rows.Next() {
		n, err := scanNumber(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list numbers: %w", err)
		}
		out = append(out, *n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list numbers: %w", err)
	}
	return out, nil
}

// UpdateNumber replaces a number's fields.
func (s *Store) UpdateNumber(ctx context.Context, n *cti.Number) error {
	n.UpdatedAt = time.Now().UTC()
	return s.execOne(ctx, "number", `UPDATE numbers SET number = ?, number_key = ?, route = ?, extension = ?, target = ?,
		label = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
		n.Number, numberKey(n.Number), string(n.Route), n.Extension, n.Target, n.Label, formatTime(n.UpdatedAt), n.TenantID, n.ID)
}

// DeleteNumber removes a number of the tenant.
func (s *Store) DeleteNumber(ctx context.Context, tenantID, id string) error {
	return s.execOne(ctx, "number", `DELETE FROM numbers WHERE tenant_id = ? AND id = ?`, tenantID, id)
}

// settingsDoc is the stored form of cti.TenantSettings: explicit JSON
// names (so renaming a Go field cannot orphan stored data) and
// milliseconds for durations.
type settingsDoc struct {
	DefaultRegion     string   `json:"defaultRegion"`
	ScreenPop         string   `json:"screenPop"`
	LookupTimeoutMs   int64    `json:"lookupTimeoutMs"`
	RouteTimeoutMs    int64    `json:"routeTimeoutMs"`
	Record            bool     `json:"record"`
	RecordingDelivery string   `json:"recordingDelivery"`
	RecordingPolicy   string   `json:"recordingPolicy,omitempty"`
	RetentionDays     int      `json:"recordingRetentionDays,omitempty"`
	Analysis          bool     `json:"recordingAnalysis,omitempty"`
	CRM               crmDoc   `json:"crm"`
	AllowedOrigins    []string `json:"allowedOrigins"`
	WrapUpMs          int64    `json:"wrapUpMs"`
	AwayReasons       []string `json:"awayReasons"`
	DialRule          dialDoc  `json:"dialRule"`
	AnnounceMonitor   bool     `json:"announceMonitoring,omitempty"`
	CallWaiting       bool     `json:"callWaiting,omitempty"`
	TimeZone          string   `json:"timeZone,omitempty"`
}

type crmDoc struct {
	LookupURL    string `json:"lookupUrl"`
	LookupMethod string `json:"lookupMethod"`
	RoutingURL   string `json:"routingUrl"`
	QueryURL     string `json:"queryUrl,omitempty"`
	APIKey       string `json:"apiKey"`
	AuthHeader   string `json:"authHeader"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

type dialDoc struct {
	AllowPrefixes  []string `json:"allowPrefixes"`
	AllowCountries []string `json:"allowCountries"`
	MaxDigits      int      `json:"maxDigits"`
	AllowPremium   bool     `json:"allowPremium,omitempty"`
}

// GetSettings returns the tenant's stored settings.
func (s *Store) GetSettings(ctx context.Context, tenantID string) (*cti.TenantSettings, error) {
	var raw string
	err := s.reader.QueryRowContext(ctx, `SELECT settings FROM tenant_settings WHERE tenant_id = ?`, tenantID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cti.Errorf(cti.KindNotFound, "no settings stored for tenant %q", tenantID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: get settings: %w", err)
	}
	var d settingsDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return nil, fmt.Errorf("store: decode settings of %s: %w", tenantID, err)
	}
	if d.CRM.APIKey, err = s.openSecret(tenantID, d.CRM.APIKey); err != nil {
		return nil, err
	}
	if d.CRM.Password, err = s.openSecret(tenantID, d.CRM.Password); err != nil {
		return nil, err
	}
	return &cti.TenantSettings{
		DefaultRegion: d.DefaultRegion, ScreenPop: cti.ScreenPopMode(d.ScreenPop),
		LookupTimeout: time.Duration(d.LookupTimeoutMs) * time.Millisecond,
		RouteTimeout:  time.Duration(d.RouteTimeoutMs) * time.Millisecond,
		Record:        d.Record, RecordingDelivery: cti.RecordingDelivery(d.RecordingDelivery),
		RecordingPolicy: cti.RecordingPolicy(d.RecordingPolicy), RecordingRetentionDays: d.RetentionDays,
		RecordingAnalysis: d.Analysis,
		CRM:               cti.CRMSettings(d.CRM),
		AllowedOrigins:    d.AllowedOrigins, WrapUp: time.Duration(d.WrapUpMs) * time.Millisecond,
		AwayReasons: d.AwayReasons,
		DialRule:    cti.DialRule(d.DialRule), AnnounceMonitoring: d.AnnounceMonitor, CallWaiting: d.CallWaiting,
		TimeZone: d.TimeZone,
	}, nil
}

// PutSettings stores the tenant's settings whole.
func (s *Store) PutSettings(ctx context.Context, tenantID string, t cti.TenantSettings) error {
	d := settingsDoc{
		DefaultRegion: t.DefaultRegion, ScreenPop: string(t.ScreenPop),
		LookupTimeoutMs: t.LookupTimeout.Milliseconds(), RouteTimeoutMs: t.RouteTimeout.Milliseconds(),
		Record: t.Record, RecordingDelivery: string(t.RecordingDelivery), RecordingPolicy: string(t.RecordingPolicy),
		RetentionDays: t.RecordingRetentionDays, Analysis: t.RecordingAnalysis, CRM: crmDoc(t.CRM),
		AllowedOrigins: t.AllowedOrigins, WrapUpMs: t.WrapUp.Milliseconds(), AwayReasons: t.AwayReasons,
		DialRule: dialDoc(t.DialRule), AnnounceMonitor: t.AnnounceMonitoring, CallWaiting: t.CallWaiting,
		TimeZone: t.TimeZone,
	}
	d.CRM.APIKey, d.CRM.Password = s.sealSecret(tenantID, d.CRM.APIKey), s.sealSecret(tenantID, d.CRM.Password)
	b, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: encode settings: %w", err)
	}
	_, err = s.writer.ExecContext(ctx, `INSERT INTO tenant_settings (tenant_id, settings, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		tenantID, string(b), formatTime(time.Now()))
	if err != nil {
		return classify(err, "settings", "tenant")
	}
	return nil
}

// AppendAudit adds an entry; e.ID is set to "aud_<seq>".
func (s *Store) AppendAudit(ctx context.Context, e *cti.AuditEntry) error {
	b, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("store: encode audit details: %w", err)
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	var seq int64
	err = s.writer.QueryRowContext(ctx, `INSERT INTO audit_log (tenant_id, actor_id, actor_name, action, target, details, at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING seq`, e.TenantID, e.ActorID, e.ActorName, e.Action, e.Target, string(b), formatTime(e.At)).Scan(&seq)
	if err != nil {
		return fmt.Errorf("store: append audit: %w", err)
	}
	e.ID = "aud_" + strconv.FormatInt(seq, 10)
	return nil
}

// ListAudit pages through the tenant's audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, tenantID string, f cti.AuditFilter) ([]cti.AuditEntry, string, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if f.Target != "" {
		where, args = append(where, "target = ?"), append(args, f.Target)
	}
	cur, err := decodeCursor(f.Cursor, 1)
	if err != nil {
		return nil, "", err
	}
	if cur != nil {
		seq, err := strconv.ParseInt(cur[0], 10, 64)
		if err != nil {
			return nil, "", cti.Errorf(cti.KindInvalid, "malformed cursor")
		}
		where, args = append(where, "seq < ?"), append(args, seq)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, tenant_id, actor_id, actor_name, action, target, details, at
		FROM audit_log WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	out := []cti.AuditEntry{}
	seqs := []int64{}
	for rows.Next() {
		var e cti.AuditEntry
		var seq int64
		var details, at string
		if err := rows.Scan(&seq, &e.TenantID, &e.ActorID, &e.ActorName, &e.Action, &e.Target, &details, &at); err != nil {
			return nil, "", fmt.Errorf("store: list audit: %w", err)
		}
		e.ID = "aud_" + strconv.FormatInt(seq, 10)
		_ = json.Unmarshal([]byte(details), &e.Details)
		if e.At, err = parseTime(at); err != nil {
			return nil, "", fmt.Errorf("store: list audit: %w", err)
		}
		out, seqs = append(out, e), append(seqs, seq)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("store: list audit: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(strconv.FormatInt(seqs[limit-1], 10))
	}
	return out, next, nil
}
