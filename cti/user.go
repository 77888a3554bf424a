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
	// Disabled users cannot sign in, and their tokens, keys and open
	// websockets stop working at once.
	Disabled bool
	// SuperAdmin may manage tenants (only meaningful with RoleAdmin).
	SuperAdmin bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Skill is something a user is good at, and how good (1–100).
type Skill struct {
	Name  string
	Level int
}

// RefreshToken is a long-lived, single-use credential exchanged for a new
// access token. Only its hash is stored.
type RefreshToken struct {
	ID        string
	TenantID  string
	UserID    string
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
	// request (ActiveUser), never from a token.
	SuperAdmin bool
	Teams      []string
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

	CreateRefreshToken(ctx context.Context, t *RefreshToken) error
	// ConsumeRefreshToken deletes and returns the token with the given hash,
	// so each refresh token is usable exactly once.
	ConsumeRefreshToken(ctx context.Context, tenantID, hash string) (*RefreshToken, error)

	PhonebookStore
	APIKeyStore
	AdminStore
	CallRecordStore
	RecordingStore

	Close() error
}
