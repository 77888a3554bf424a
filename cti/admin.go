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
