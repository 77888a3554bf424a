package cti

import (
	"context"
	"time"
)

// AdminStore persists what administrators change at runtime: users beyond
// sign-in, numbers, tenant settings and the audit log. Like Store, every
// method is scoped to a tenant except FindNumber, which the trunk side
// uses before it knows the tenant (a number belongs to exactly one).
type AdminStore interface {
	UpdateTenant(ctx context.Context, t *Tenant) error
	// DeleteTenant removes a tenant with everything it owns.
	DeleteTenant(ctx context.Context, id string) error

	// UpdateUser writes every mutable field of u (found by TenantID, ID).
	UpdateUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, tenantID, userID string) error
	// DeleteUserRefreshTokens drops every refresh token of a user, so
	// no session survives a password reset or a lost role by refreshing.
	DeleteUserRefreshTokens(ctx context.Context, tenantID, userID string) (int64, error)
	// ListUsersPage returns one page of the tenant's users ordered by
	// username, and the cursor of the next page ("" on the last).
	ListUsersPage(ctx context.Context, tenantID string, f UserFilter) ([]User, string, error)

	CreateNumber(ctx context.Context, n *Number) error
	GetNumber(ctx context.Context, tenantID, id string) (*Number, error)
	// FindNumber finds the number a call was made to, in any tenant;
	// number is compared without a leading "+".
	FindNumber(ctx context.Context, number string) (*Number, error)
	ListNumbers(ctx context.Context, tenantID string) ([]Number, error)
	UpdateNumber(ctx context.Context, n *Number) error
	DeleteNumber(ctx context.Context, tenantID, id string) error

	// GetSettings returns the tenant's stored settings; KindNotFound when
	// none were ever saved.
	GetSettings(ctx context.Context, tenantID string) (*TenantSettings, error)
	PutSettings(ctx context.Context, tenantID string, s TenantSettings) error

	TrunkStore

	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns the tenant's entries newest first.
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]AuditEntry, string, error)
}

// UserFilter narrows a user list. Zero fields match everything.
type UserFilter struct {
	Role  Role
	Team  string
	Skill string
	// Query matches the start of username, display name or extension.
	Query string
	// Teams, when not nil, keeps only users in one of these teams (a
	// supervisor's view).
	Teams    []string
	Disabled *bool
	Cursor   string
	Limit    int // default 50, at most 500
}

// Number is a DID of a tenant and where its calls go.
type Number struct {
	ID       string
	TenantID string
	// Number as written by the admin (E.164 "+3612345678" or a short
	// internal number "1001"); unique across tenants.
	Number string
	Route  RouteKind
	// Extension is rung for RouteExtension; for the other kinds it is the
	// fallback taken when the target cannot take the call.
	Extension string
	// Target names the queue or IVR flow (RouteQueue, RouteIVR).
	Target    string
	Label     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuditEntry records one administrative change.
type AuditEntry struct {
	ID        string // "aud_<seq>"
	TenantID  string
	ActorID   string
	ActorName string
	Action    string // "user.create", "settings.update", …
	Target    string // id of what changed
	Details   map[string]any
	At        time.Time
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	Action string
	Target string
	Cursor string
	Limit  int
}
