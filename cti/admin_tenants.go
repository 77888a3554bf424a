package cti

import (
	"context"
	"regexp"
	"strings"
)

// tenantIDRE: tenant ids appear in logins, URLs and file paths.
var tenantIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,39}$`)

// NewTenant is a tenant to create, optionally with its first admin.
type NewTenant struct {
	ID   string
	Name string
	// Admin, when Username is set, is created as the tenant's first
	// administrator (role admin, whatever Role says).
	Admin UserInput
}

// CreatedTenant is a new tenant and its first admin, if one was asked for.
type CreatedTenant struct {
	Tenant Tenant
	Admin  *CreatedUser
}

func requireSuper(p Principal, action string) error {
	if err := p.require(rolesAdmin, action); err != nil {
		return err
	}
	if !p.SuperAdmin {
		return Errorf(KindForbidden, "only a super-admin may %s", action)
	}
	return nil
}

// CreateTenant creates a tenant (and its first admin). Super-admins only.
func (s *Service) CreateTenant(ctx context.Context, p Principal, in NewTenant) (*CreatedTenant, error) {
	if err := requireSuper(p, "create tenants"); err != nil {
		return nil, err
	}
	var f fieldErrors
	in.ID, in.Name = strings.TrimSpace(in.ID), strings.TrimSpace(in.Name)
	if !tenantIDRE.MatchString(in.ID) {
		f.add("id", "2–40 lower-case letters, digits or -, starting with a letter or digit")
	}
	if in.Name == "" || len(in.Name) > 128 {
		f.add("name", "required, at most 128 characters")
	}
	var admin *User
	var pw string
	if in.Admin.Username != "" {
		in.Admin.Role = RoleAdmin
		var err error
		if admin, pw, err = s.newUser(ctx, in.ID, in.Admin); err != nil {
			for _, fe := range ErrorFields(err) {
				f.add("admin."+fe.Field, "%s", fe.Message)
			}
		}
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	t := Tenant{ID: in.ID, Name: in.Name}
	if err := s.store.CreateTenant(ctx, &t); err != nil {
		return nil, err
	}
	s.audit(ctx, p, t.ID, "tenant.create", t.ID, map[string]any{"name": t.Name, "byTenant": p.TenantID})
	out := &CreatedTenant{Tenant: t}
	if admin != nil {
		if err := s.store.CreateUser(ctx, admin); err != nil {
			return nil, err
		}
		s.audit(ctx, p, t.ID, "user.create", admin.ID, map[string]any{"username": admin.Username, "role": admin.Role, "generatedPassword": pw != ""})
		out.Admin = &CreatedUser{User: *admin, Password: pw}
	}
	return out, nil
}

// ListTenants lists every tenant. Super-admins only.
func (s *Service) ListTenants(ctx context.Context, p Principal) ([]Tenant, error) {
	if err := requireSuper(p, "list tenants"); err != nil {
		return nil, err
	}
	return s.store.ListTenants(ctx)
}

// GetTenant returns a tenant: super-admins any, admins their own.
func (s *Service) GetTenant(ctx context.Context, p Principal, id string) (*Tenant, error) {
	if err := p.require(rolesAdmin, "read tenants"); err != nil {
		return nil, err
	}
	if id != p.TenantID && !p.SuperAdmin {
		return nil, Errorf(KindNotFound, "tenant %q not found", id)
	}
	return s.store.GetTenant(ctx, id)
}

// RenameTenant changes a tenant's display name. Super-admins only.
func (s *Service) RenameTenant(ctx context.Context, p Principal, id, name string) (*Tenant, error) {
	if err := requireSuper(p, "change tenants"); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 {
		return nil, &Error{Kind: KindInvalid, Message: "name: required, at most 128 characters",
			Fields: []FieldError{{"name", "required, at most 128 characters"}}}
	}
	t, err := s.store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	old := t.Name
	t.Name = name
	if err := s.store.UpdateTenant(ctx, t); err != nil {
		return nil, err
	}
	s.audit(ctx, p, id, "tenant.update", id, map[string]any{"before": old, "after": name})
	return t, nil
}

// DeleteTenant removes a tenant with its users, numbers, settings,
// phonebook, keys and webhooks (its audit log stays). Super-admins only,
// and never their own tenant.
func (s *Service) DeleteTenant(ctx context.Context, p Principal, id string) error {
	if err := requireSuper(p, "delete tenants"); err != nil {
		return err
	}
	if id == p.TenantID {
		return Errorf(KindConflict, "you cannot delete your own tenant")
	}
	users, err := s.store.ListUsers(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTenant(ctx, id); err != nil {
		return err
	}
	for _, u := range users {
		s.endUserAccess(id, u.ID, ErrUserGone.Message)
	}
	s.settings.invalidate(id)
	s.audit(ctx, p, id, "tenant.delete", id, map[string]any{"users": len(users), "byTenant": p.TenantID})
	return nil
}
