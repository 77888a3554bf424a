package cti

import (
	"context"
	"time"
)

// Role decides what a principal may do.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
	RoleAPI        Role = "api" // technical user for CRM integrations
)

// Tenant is one customer organisation; every query is scoped to one.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// User is a person or technical account of a tenant. Agents own an extension.
type User struct {
	ID           string
	TenantID     string
	Username     string
	DisplayName  string
	Extension    string // empty for users who take no calls
	Role         Role
	PasswordHash string // PHC-formatted argon2id; never leaves the store layer unhashed
	// Teams group users for supervisors: a supervisor sees the users
	// who share a team with them.
	Teams []string
	// Skills with levels (1–100), for queue routing.
	Skills []Skill
	// SuperAdmin may manage tenants (only meaningful with RoleAdmin).
	SuperAdmin bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// TokenEpoch is copied into every access token issued to the user;
	// RevokeUserSessions increments it, which makes every older token
	// fail the access check (revocation.go).
	TokenEpoch int64
	// DisabledAt is when the account was disabled; zero means enabled. A
	// disabled user cannot sign in and loses open sessions within seconds.
	DisabledAt time.Time
}

// Disabled reports whether the account is disabled.
func (u *User) Disabled() bool { return !u.DisabledAt.IsZero() }

// UserAccess is what an access check reads of a user (revocation.go):
// the open sessions' users are re-read every second or so, so the row's
// other columns (password hash, skills, times) are left out.
type UserAccess struct {
	ID         string
	Username   string
	Extension  string
	Role       Role
	Teams      []string
	SuperAdmin bool
	TokenEpoch int64
	Disabled   bool
}

// Access is u's UserAccess.
func (u *User) Access() UserAccess {
	return UserAccess{ID: u.ID, Username: u.Username, Extension: u.Extension, Role: u.Role, Teams: u.Teams,
		SuperAdmin: u.SuperAdmin, TokenEpoch: u.TokenEpoch, Disabled: u.Disabled()}
}

// Skill is something a user is good at, and how good (1–100).
type Skill struct {
	Name  string
	Level int
}

// RefreshToken is a single-use credential exchanged for a new access
// token. Only its hash is stored. Each exchange issues a successor in the
// same family; presenting a token that was already exchanged (a replay of
// a stolen copy, or of the original after the thief used it) revokes the
// whole family, so at most one party keeps a working chain.
type RefreshToken struct {
	ID        string
	TenantID  string
	UserID    string
	FamilyID  string // the first token's ID; set by CreateRefreshToken when empty
	Hash      string // hex SHA-256 of the opaque token
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Principal is who is acting, as established by the edge's authentication.
type Principal struct {
	TenantID  string
	UserID    string
	Username  string
	Extension string
	Role      Role
	// SuperAdmin and Teams are filled from the stored user on every
	// request (Service.Authorize), never from a token.
	SuperAdmin bool
	Teams      []string
	// TokenEpoch is the user's TokenEpoch when the credential was issued;
	// the access check refuses it once the user's epoch moved on.
	TokenEpoch int64
}

// Store is the persistence port. Every method is scoped to a tenant where the
// data belongs to one; implementations must never return another tenant's rows.
type Store interface {
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, tenantID, userID string) (*User, error)
	// FindUserByLogin finds a user by username or extension within a tenant.
	FindUserByLogin(ctx context.Context, tenantID, login string) (*User, error)
	GetUserByExtension(ctx context.Context, tenantID, ext string) (*User, error)
	ListUsers(ctx context.Context, tenantID string) ([]User, error)
	// GetUsersAccess returns what the access check needs of those of the
	// tenant's users with the given IDs that exist, in any order.
	GetUsersAccess(ctx context.Context, tenantID string, ids []string) ([]UserAccess, error)

	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// ConsumeRefreshToken marks the token with the given hash as used and
	// returns it, so each refresh token is usable exactly once. An
	// unknown or expired token is KindNotFound; a token used before is
	// KindNotFound wrapping ErrRefreshTokenReused, and its whole family
	// has been revoked by then.
	ConsumeRefreshToken(ctx context.Context, tenantID, hash string) (*RefreshToken, error)
	// RevokeRefreshFamily deletes every token of the family that the
	// token with the given hash belongs to (logout). Unknown: no error.
	RevokeRefreshFamily(ctx context.Context, tenantID, hash string) error
	// RevokeUserTokens increments the user's TokenEpoch and deletes all
	// of the user's refresh tokens, returning the new epoch.
	RevokeUserTokens(ctx context.Context, tenantID, userID string) (int64, error)
	// DeleteExpiredRefreshTokens removes tokens (used or not) that expired
	// before now and returns how many.
	DeleteExpiredRefreshTokens(ctx context.Context, now time.Time) (int64, error)

	PhonebookStore
	APIKeyStore
	AdminStore
	CallRecordStore
	RecordingStore
	DurableStore
	QueueStore
	ForwardingStore
	IVRFlowStore
	PromptStore

	Close() error
}
