package cti

import (
	"context"
	"slices"
	"time"
)

// Administration at runtime: users, numbers, tenant settings and tenants
// change through these Service methods (admin_*.go), which check the
// principal's role, validate, write through the store, drop the caches
// the change affects and append an audit entry. Calls read the result on
// their next store or cache read; nothing needs a restart.

// SystemPrincipal acts for the command line (ringbridge admin), which
// runs with direct access to the database and is audited as such.
func SystemPrincipal(tenantID, who string) Principal {
	return Principal{TenantID: tenantID, UserID: "system", Username: "cli:" + who, Role: RoleAdmin, SuperAdmin: true}
}

// errDisabled is the one answer to a disabled or deleted user's request.
var errDisabled = Errorf(KindUnauthorized, "account disabled or deleted")

// ActiveUser returns the stored user if they may still act: a disabled or
// deleted user gets KindUnauthorized. The answer is cached for at most
// adminCacheTTL and dropped whenever the user is changed through Service.
func (s *Service) ActiveUser(ctx context.Context, tenantID, userID string) (*User, error) {
	k := userKey{tenantID, userID}
	u, ok := s.users.get(k)
	if !ok {
		var err error
		u, err = s.store.GetUser(ctx, tenantID, userID)
		switch {
		case ErrorKind(err) == KindNotFound:
			u = nil
		case err != nil:
			return nil, err
		}
		s.users.put(k, u)
	}
	if u == nil || u.Disabled {
		return nil, errDisabled
	}
	return u, nil
}

// Authorize re-checks a principal established from a token, key or
// password against the stored user: refused when the user is disabled or
// deleted, and otherwise refreshed with the user's current role,
// extension, teams and super-admin flag, so a change an administrator
// makes applies to the very next request, whatever the token says.
//
// This is the admin feature's own, self-contained revocation: token
// families and logout are a separate mechanism in the edge.
func (s *Service) Authorize(ctx context.Context, p Principal) (Principal, error) {
	u, err := s.ActiveUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return Principal{}, err
	}
	p.Username, p.Extension, p.Role = u.Username, u.Extension, u.Role
	p.SuperAdmin = u.SuperAdmin && u.Role == RoleAdmin
	p.Teams = u.Teams
	return p, nil
}

// revokeUserSessions ends every agent session of a user whose access was
// just taken away or changed (disabled, deleted, new role or extension):
// their websockets close at once (the edge closes a socket whose session
// ends) and the session cannot be resumed.
func (s *Service) revokeUserSessions(tenantID, userID string) int {
	s.users.invalidate(userKey{tenantID, userID})
	// Refresh tokens go too: a new password or role must not be undone by
	// a refresh with a token issued before it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.store.DeleteUserRefreshTokens(ctx, tenantID, userID); err != nil {
		s.log.Error("revoking refresh tokens", "tenant", tenantID, "user", userID, "err", err)
	}
	s.mu.Lock()
	var victims []*AgentSession
	for _, ss := range s.sessions {
		if ss.principal.TenantID == tenantID && ss.principal.UserID == userID {
			victims = append(victims, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range victims {
		ss.close(EventClosed)
	}
	return len(victims)
}

// audit records an administrative change. A failure to write it is logged
// loudly but does not undo the change, which has already been made.
func (s *Service) audit(ctx context.Context, p Principal, tenantID, action, target string, details map[string]any) {
	if details == nil {
		details = map[string]any{}
	}
	e := AuditEntry{TenantID: tenantID, ActorID: p.UserID, ActorName: p.Username, Action: action,
		Target: target, Details: details, At: time.Now().UTC()}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), &e); err != nil {
		s.log.Error("audit entry not written", "tenant", tenantID, "action", action, "target", target, "err", err)
		return
	}
	s.log.Info("admin change", "tenant", tenantID, "action", action, "target", target, "by", p.UserID)
}

// Audit records an administrative change made at the edge (webhook
// endpoints, which the server manages through the outbox).
func (s *Service) Audit(ctx context.Context, p Principal, action, target string, details map[string]any) {
	s.audit(ctx, p, p.TenantID, action, target, details)
}

// ListAudit returns the admin's tenant's audit log, newest first.
func (s *Service) ListAudit(ctx context.Context, p Principal, f AuditFilter) ([]AuditEntry, string, error) {
	if err := p.require(rolesAdmin, "read the audit log"); err != nil {
		return nil, "", err
	}
	f.Limit = pageLimit(f.Limit)
	return s.store.ListAudit(ctx, p.TenantID, f)
}

// pageLimit bounds a page size: default 50, at most 500.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

// sharesTeam reports whether two team lists overlap.
func sharesTeam(a, b []string) bool {
	for _, t := range a {
		if slices.Contains(b, t) {
			return true
		}
	}
	return false
}
