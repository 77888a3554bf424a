package cti

import "slices"

// Who may do what, in one place. The edge authenticates; the core decides.
var (
	// rolesIntegrate may start click-to-call and manage the phonebook
	// and call dispositions of the whole tenant.
	rolesIntegrate = []Role{RoleAdmin, RoleAPI}
	// rolesReadAll may read every call record and phonebook entry of the
	// tenant.
	rolesReadAll = []Role{RoleAdmin, RoleAPI, RoleSupervisor}
	// rolesReadPhonebook may look customers up.
	rolesReadPhonebook = []Role{RoleAdmin, RoleAPI, RoleSupervisor, RoleAgent}
	// rolesAdmin manage credentials.
	rolesAdmin = []Role{RoleAdmin}
)

// require refuses a principal whose role is not among roles.
func (p Principal) require(roles []Role, action string) error {
	if p.TenantID == "" {
		return Errorf(KindUnauthorized, "not signed in")
	}
	if !slices.Contains(roles, p.Role) {
		return Errorf(KindForbidden, "role %s may not %s", p.Role, action)
	}
	return nil
}

// Is reports whether the principal has one of the roles.
func (p Principal) Is(roles ...Role) bool { return slices.Contains(roles, p.Role) }
