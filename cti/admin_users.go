package cti

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Password policy: long enough to resist guessing even though argon2id
// makes each guess slow, and not trivially derived from the login.
const (
	MinPasswordLength = 12
	maxPasswordLength = 256
	// generatedPasswordLength is what admins and CSV imports get when
	// they give none (about 119 bits).
	generatedPasswordLength = 20
)

var (
	usernameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	extensionRE = regexp.MustCompile(`^[0-9]{2,6}$`)
)

// maxLabelRunes bounds a label (a team, a skill, an away reason).
const maxLabelRunes = 64

// validLabel reports whether s is a label: a letter or digit of any
// script, then letters, digits, spaces or . _ / -, up to maxLabelRunes
// runes in all. Not a regexp: [\p{L}\p{N}…]{0,63} compiles to 63 copies
// of two Unicode tables, 1.4 MiB of heap held for the process's life.
func validLabel(s string) bool {
	n := 0
	for i, r := range s {
		n++
		switch {
		case n > maxLabelRunes:
			return false
		case unicode.IsLetter(r) || unicode.IsNumber(r):
		case i > 0 && strings.ContainsRune(" ._/-", r):
		default:
			return false // invalid UTF-8 is utf8.RuneError, neither
		}
	}
	return n > 0
}

// CheckPassword applies the password policy.
func CheckPassword(pw, username string) error {
	var f fieldErrors
	checkPassword(&f, "password", pw, username)
	return f.err()
}

func checkPassword(f *fieldErrors, field, pw, username string) {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLength:
		f.add(field, "must be at least %d characters", MinPasswordLength)
	case len(pw) > maxPasswordLength:
		f.add(field, "must be at most %d bytes", maxPasswordLength)
	case strings.Count(pw, pw[:1]) == len(pw):
		f.add(field, "must not repeat one character")
	case username != "" && strings.Contains(strings.ToLower(pw), strings.ToLower(username)):
		f.add(field, "must not contain the username")
	}
}

// UserInput is a user to create (admin API, CSV import, command line).
type UserInput struct {
	Username    string
	DisplayName string
	Extension   string
	Role        Role
	Teams       []string
	Skills      []Skill
	// Password is checked against the policy; empty: one is generated
	// and returned once.
	Password   string
	Disabled   bool
	SuperAdmin bool
}

// CreatedUser is a new user and, when it was generated, the password —
// shown exactly once; only its hash is stored.
type CreatedUser struct {
	User
	Password string
}

// UserPatch changes some fields of a user; nil fields stay.
type UserPatch struct {
	Username    *string
	DisplayName *string
	Extension   *string
	Role        *Role
	Teams       *[]string
	Skills      *[]Skill
	Disabled    *bool
}

// validateUser checks a user as it would be stored.
func validateUser(f *fieldErrors, u *User) {
	if !usernameRE.MatchString(u.Username) {
		f.add("username", "1–64 letters, digits or . _ @ + -, starting with a letter or digit")
	}
	if utf8.RuneCountInString(u.DisplayName) > 128 {
		f.add("displayName", "must be at most 128 characters")
	}
	if !validRole(u.Role) {
		f.add("role", "must be admin, supervisor, agent or api")
	}
	switch {
	case u.Extension != "" && !extensionRE.MatchString(u.Extension):
		f.add("extension", "must be 2–6 digits")
	case u.Extension == "" && u.Role == RoleAgent:
		f.add("extension", "agents need an extension")
	case u.Extension != "" && u.Role == RoleAPI:
		f.add("extension", "technical (api) users take no calls and have no extension")
	}
	if len(u.Teams) > 20 {
		f.add("teams", "at most 20 teams")
	}
	for _, t := range u.Teams {
		if !validLabel(t) {
			f.add("teams", "team %q: 1–64 letters, digits, spaces or . _ / -", t)
			break
		}
	}
	if len(u.Skills) > 50 {
		f.add("skills", "at most 50 skills")
	}
	seen := map[string]bool{}
	for _, sk := range u.Skills {
		switch {
		case !validLabel(sk.Name):
			f.add("skills", "skill %q: 1–64 letters, digits, spaces or . _ / -", sk.Name)
		case sk.Level < 1 || sk.Level > 100:
			f.add("skills", "skill %q: level must be 1–100", sk.Name)
		case seen[strings.ToLower(sk.Name)]:
			f.add("skills", "skill %q is listed twice", sk.Name)
		}
		seen[strings.ToLower(sk.Name)] = true
	}
}

func validRole(r Role) bool {
	return slices.Contains([]Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAPI}, r)
}

// cleanTeams trims, drops empties and duplicates, keeping order.
func cleanTeams(in []string) []string {
	out := []string{}
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// newUser validates in and returns the user to store (password hashed)
// and the password to show when one was generated.
func (s *Service) newUser(ctx context.Context, tenantID string, in UserInput) (*User, string, error) {
	u := &User{TenantID: tenantID, Username: strings.TrimSpace(in.Username), DisplayName: strings.TrimSpace(in.DisplayName),
		Extension: strings.TrimSpace(in.Extension), Role: in.Role, Teams: cleanTeams(in.Teams), Skills: in.Skills,
		SuperAdmin: in.SuperAdmin && in.Role == RoleAdmin}
	if in.Disabled {
		u.DisabledAt = time.Now().UTC()
	}
	if u.Skills == nil {
		u.Skills = []Skill{}
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	var f fieldErrors
	validateUser(&f, u)
	pw, generated := in.Password, ""
	if pw == "" {
		pw = GeneratePassword(generatedPasswordLength)
		generated = pw
	} else {
		checkPassword(&f, "password", pw, u.Username)
	}
	if err := f.err(); err != nil {
		return nil, "", err
	}
	hash, err := s.hashes.Hash(ctx, pw)
	if err != nil {
		return nil, "", err
	}
	u.PasswordHash = hash
	return u, generated, nil
}

// CreateUser adds a user to the admin's tenant.
func (s *Service) CreateUser(ctx context.Context, p Principal, in UserInput) (*CreatedUser, error) {
	if err := p.require(rolesAdmin, "create users"); err != nil {
		return nil, err
	}
	if in.SuperAdmin && !p.SuperAdmin {
		return nil, Errorf(KindForbidden, "only a super-admin may create super-admins")
	}
	u, pw, err := s.newUser(ctx, p.TenantID, in)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.audit(ctx, p, p.TenantID, "user.create", u.ID, map[string]any{"username": u.Username,
		"role": u.Role, "extension": u.Extension, "generatedPassword": pw != ""})
	return &CreatedUser{User: *u, Password: pw}, nil
}

// GetUser returns a user of the principal's tenant: admins see everyone,
// supervisors the users sharing a team with them, everyone else only
// themselves. Others are indistinguishable from users that do not exist.
func (s *Service) GetUser(ctx context.Context, p Principal, id string) (*User, error) {
	if p.TenantID == "" {
		return nil, Errorf(KindUnauthorized, "not signed in")
	}
	u, err := s.store.GetUser(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	switch {
	case p.Role == RoleAdmin, p.UserID == u.ID:
	case p.Role == RoleSupervisor && sharesTeam(p.Teams, u.Teams):
	default:
		return nil, Errorf(KindNotFound, "user not found")
	}
	return u, nil
}

// ListUsers returns a page of the tenant's users: all of them for admins,
// those sharing a team for supervisors.
func (s *Service) ListUsers(ctx context.Context, p Principal, f UserFilter) ([]User, string, error) {
	if err := p.require([]Role{RoleAdmin, RoleSupervisor}, "list users"); err != nil {
		return nil, "", err
	}
	if p.Role == RoleSupervisor {
		f.Teams = append([]string{}, p.Teams...) // no teams: sees nobody
	}
	if f.Role != "" && !validRole(f.Role) {
		return nil, "", &Error{Kind: KindInvalid, Message: "role: unknown role", Fields: []FieldError{{"role", "must be admin, supervisor, agent or api"}}}
	}
	f.Limit = pageLimit(f.Limit)
	return s.store.ListUsersPage(ctx, p.TenantID, f)
}

// UpdateUser changes a user of the admin's tenant. A change of role,
// extension or the disabled flag ends the user's open sessions, so the
// softphone signs in again under the new terms (or cannot).
func (s *Service) UpdateUser(ctx context.Context, p Principal, id string, ch UserPatch) (*User, error) {
	if err := p.require(rolesAdmin, "change users"); err != nil {
		return nil, err
	}
	u, err := s.store.GetUser(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if u.SuperAdmin && !p.SuperAdmin {
		return nil, Errorf(KindForbidden, "only a super-admin may change a super-admin")
	}
	before := *u
	changed := []string{}
	set := func(name string, apply func()) {
		changed = append(changed, name)
		apply()
	}
	if ch.Username != nil {
		set("username", func() { u.Username = strings.TrimSpace(*ch.Username) })
	}
	if ch.DisplayName != nil {
		set("displayName", func() { u.DisplayName = strings.TrimSpace(*ch.DisplayName) })
	}
	if ch.Extension != nil {
		set("extension", func() { u.Extension = strings.TrimSpace(*ch.Extension) })
	}
	if ch.Role != nil {
		set("role", func() { u.Role = *ch.Role })
	}
	if ch.Teams != nil {
		set("teams", func() { u.Teams = cleanTeams(*ch.Teams) })
	}
	if ch.Skills != nil {
		set("skills", func() { u.Skills = append([]Skill{}, *ch.Skills...) })
	}
	if ch.Disabled != nil {
		set("disabled", func() {
			switch {
			case !*ch.Disabled:
				u.DisabledAt = time.Time{}
			case !before.Disabled():
				u.DisabledAt = time.Now().UTC()
			}
		})
	}
	if u.ID == p.UserID && (u.Disabled() || u.Role != RoleAdmin) {
		return nil, Errorf(KindConflict, "you cannot disable yourself or drop your own admin role")
	}
	u.SuperAdmin = u.SuperAdmin && u.Role == RoleAdmin
	var f fieldErrors
	validateUser(&f, u)
	if err := f.err(); err != nil {
		return nil, err
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	// Teams and the super-admin flag are read from the cached user on
	// every request (Authorize): dropping the entry applies them at once.
	s.access.forget(agentKey{u.TenantID, u.ID})
	s.setSkills(u) // the next queued call sees them
	details := map[string]any{"changed": changed}
	if u.Disabled() != before.Disabled() || u.Role != before.Role || u.Extension != before.Extension {
		reason := ErrSessionStale.Message
		if u.Disabled() {
			reason = ErrUserDisabled.Message
		}
		n, err := s.revokeUser(ctx, u.TenantID, u.ID, reason)
		if err != nil {
			// The access check refuses the old tokens anyway (it compares
			// disabled, role and extension); only the epoch bump failed.
			s.log.Error("revoking sessions after a user change", "tenant", u.TenantID, "user", u.ID, "err", err)
		}
		details["sessionsEnded"] = n
	}
	action := "user.update"
	if ch.Disabled != nil && u.Disabled() != before.Disabled() {
		action = map[bool]string{true: "user.disable", false: "user.enable"}[u.Disabled()]
	}
	s.audit(ctx, p, p.TenantID, action, u.ID, details)
	return u, nil
}

// SetUserDisabled disables (or enables again) a user; a disabled user's
// requests and websockets stop working at once.
func (s *Service) SetUserDisabled(ctx context.Context, p Principal, id string, disabled bool) (*User, error) {
	return s.UpdateUser(ctx, p, id, UserPatch{Disabled: &disabled})
}

// DeleteUser removes a user of the admin's tenant, with their refresh
// tokens and API keys; their open sessions end at once.
func (s *Service) DeleteUser(ctx context.Context, p Principal, id string) error {
	if err := p.require(rolesAdmin, "delete users"); err != nil {
		return err
	}
	if id == p.UserID {
		return Errorf(KindConflict, "you cannot delete yourself")
	}
	u, err := s.store.GetUser(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if u.SuperAdmin && !p.SuperAdmin {
		return Errorf(KindForbidden, "only a super-admin may delete a super-admin")
	}
	if err := s.store.DeleteUser(ctx, p.TenantID, id); err != nil {
		return err
	}
	// Its refresh tokens went with the row; its access tokens now fail
	// the access check (no such user).
	n := s.endUserAccess(p.TenantID, id, ErrUserGone.Message)
	s.audit(ctx, p, p.TenantID, "user.delete", id, map[string]any{"username": u.Username, "sessionsEnded": n})
	return nil
}

// ResetPassword sets a user's password (generated when pw is empty and
// returned once) and ends their sessions.
func (s *Service) ResetPassword(ctx context.Context, p Principal, id, pw string) (string, error) {
	if err := p.require(rolesAdmin, "reset passwords"); err != nil {
		return "", err
	}
	u, err := s.store.GetUser(ctx, p.TenantID, id)
	if err != nil {
		return "", err
	}
	if u.SuperAdmin && !p.SuperAdmin {
		return "", Errorf(KindForbidden, "only a super-admin may reset a super-admin's password")
	}
	generated := ""
	if pw == "" {
		pw = GeneratePassword(generatedPasswordLength)
		generated = pw
	} else if err := CheckPassword(pw, u.Username); err != nil {
		return "", err
	}
	if u.PasswordHash, err = s.hashes.Hash(ctx, pw); err != nil {
		return "", err
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return "", err
	}
	n, err := s.revokeUser(ctx, u.TenantID, u.ID, ErrRevoked.Message)
	if err != nil {
		return "", fmt.Errorf("password reset, but signing the user out failed: %w", err)
	}
	s.audit(ctx, p, p.TenantID, "user.password_reset", u.ID, map[string]any{"generated": generated != "", "sessionsEnded": n})
	return generated, nil
}
