package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/crm"
	"github.com/ringbridge/ringbridge/media/trunk"
)

// seedDemo creates the demo tenant with an admin and two agents on a
// fresh database, prints their generated passwords once and keeps them in
// DataDir/demo-credentials.txt (mode 0600) for the newcomer who missed the
// console. Only password hashes go into the database.
func seedDemo(ctx context.Context, st cti.Store, dataDir string, out io.Writer) error {
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	if len(tenants) > 0 {
		return nil
	}
	if err := st.CreateTenant(ctx, &cti.Tenant{ID: defaultTenant, Name: "Demo"}); err != nil {
		if cti.ErrorKind(err) == cti.KindConflict {
			return nil // another node starting on the same new database seeds it
		}
		return err
	}
	type demoUser struct {
		username, name, ext string
		role                cti.Role
	}
	users := []demoUser{
		{"admin", "Administrator", "", cti.RoleAdmin},
		{"alice", "Alice Agent", "1001", cti.RoleAgent},
		{"bob", "Bob Agent", "1002", cti.RoleAgent},
	}
	creds := "ringbridge demo credentials (tenant \"demo\"); sign in with the username or extension\n"
	for _, u := range users {
		pw := cti.GeneratePassword(16)
		hash, err := cti.HashPassword(pw)
		if err != nil {
			return err
		}
		// The demo admin is the install's super-admin: it may create
		// further tenants.
		if err := st.CreateUser(ctx, &cti.User{TenantID: defaultTenant, Username: u.username, DisplayName: u.name,
			Extension: u.ext, Role: u.role, PasswordHash: hash, SuperAdmin: u.role == cti.RoleAdmin}); err != nil {
			return err
		}
		ext := u.ext
		if ext == "" {
			ext = "-"
		}
		creds += fmt.Sprintf("  %-6s ext %-5s role %-6s password %s\n", u.username, ext, u.role, pw)
	}
	fmt.Fprint(out, "\n"+creds+"\n")
	path := filepath.Join(dataDir, "demo-credentials.txt")
	if err := os.WriteFile(path, []byte(creds), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// seedConfig copies what the config file says about tenants (numbers,
// per-tenant settings, dialing rules) into the database, for each tenant
// that has none of that kind there yet: the file seeds a tenant on its
// first start, and from then on the database — changed through the API,
// the console or ringbridge admin — is what counts (docs/admin.md).
func seedConfig(ctx context.Context, st cti.Store, cfg *Config, log *slog.Logger) error {
	cc := cfg.ctiConfig()
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, t := range tenants {
		exists[t.ID] = true
	}
	byTenant := map[string][]NumberConfig{}
	for _, n := range cfg.Numbers {
		byTenant[n.Tenant] = append(byTenant[n.Tenant], n)
	}
	for tenant, nums := range byTenant {
		if !exists[tenant] {
			log.Warn("config numbers name a tenant that does not exist; not seeded", "tenant", tenant)
			continue
		}
		have, err := st.ListNumbers(ctx, tenant)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			continue
		}
		for _, n := range nums {
			r := cc.Numbers[strings.TrimPrefix(n.Number, "+")]
			route := r.Route
			if route == cti.RouteStatic {
				route = cti.RouteExtension
			}
			num := &cti.Number{TenantID: tenant, Number: n.Number, Route: route, Extension: r.Extension, Label: "from config"}
			if err := st.CreateNumber(ctx, num); err != nil && cti.ErrorKind(err) != cti.KindConflict {
				return fmt.Errorf("seeding number %s: %w", n.Number, err)
			}
		}
	}
	seedTenants := map[string]bool{}
	for id := range cfg.Tenants {
		seedTenants[id] = true
	}
	for id := range cfg.DialRules {
		seedTenants[id] = true
	}
	for id := range seedTenants {
		if !exists[id] {
			log.Warn("config settings name a tenant that does not exist; not seeded", "tenant", id)
			continue
		}
		if _, err := st.GetSettings(ctx, id); cti.ErrorKind(err) != cti.KindNotFound {
			if err != nil {
				return err
			}
			continue
		}
		ts := cc.Tenants[id]
		ts.DialRule = cc.DialRules[id]
		ts.WrapUp, ts.AwayReasons = cc.WrapUp, cc.AwayReasons
		if t := cfg.Tenants[id]; t.CRM != nil {
			c := t.CRM.TenantConfig
			ts.CRM = cti.CRMSettings{LookupURL: c.LookupURL, LookupMethod: c.LookupMethod, RoutingURL: c.RoutingURL,
				QueryURL: c.QueryURL, APIKey: c.APIKey, AuthHeader: c.AuthHeader, Username: c.Username, Password: c.Password}
		}
		if err := st.PutSettings(ctx, id, ts); err != nil {
			return fmt.Errorf("seeding settings of %s: %w", id, err)
		}
	}
	return nil
}

// crmResolver reads a tenant's CRM connection from its current settings.
func crmResolver(svc *cti.Service) func(string) (crm.TenantConfig, bool) {
	return func(tenantID string) (crm.TenantConfig, bool) {
		c := svc.TenantSettings(tenantID).CRM
		if c.IsZero() {
			return crm.TenantConfig{}, false
		}
		return crm.TenantConfig{LookupURL: c.LookupURL, LookupMethod: c.LookupMethod, RoutingURL: c.RoutingURL,
			QueryURL: c.QueryURL, APIKey: c.APIKey, AuthHeader: c.AuthHeader, Username: c.Username, Password: c.Password}, true
	}
}

// seedTrunks copies the config file's trunks into an empty trunks table
// (first start); afterwards the table, changed by super-admins, counts.
func seedTrunks(ctx context.Context, st cti.Store, cfgs []trunk.TrunkConfig) error {
	have, err := st.ListTrunks(ctx)
	if err != nil || len(have) > 0 {
		return err
	}
	base := time.Now().UTC()
	for i, tc := range cfgs {
		// Distinct creation times keep the file's order: the first trunk
		// carries outbound calls.
		t := &cti.Trunk{Name: tc.Name, Address: tc.Address, Transport: tc.Transport, AllowFrom: tc.AllowFrom,
			Username: tc.Username, Password: tc.Password, Domain: tc.Domain, Register: tc.Register, CallerID: tc.CallerID,
			InDialogTarget: tc.InDialogTarget, EarlyMedia: tc.EarlyMedia, CreatedAt: base.Add(time.Duration(i) * time.Microsecond)}
		if err := st.CreateTrunk(ctx, t); err != nil {
			return fmt.Errorf("seeding trunk %s: %w", tc.Name, err)
		}
	}
	return nil
}

// trunkConfigs turns stored trunks into the SIP stack's configuration.
func trunkConfigs(ts []cti.Trunk) []trunk.TrunkConfig {
	out := make([]trunk.TrunkConfig, len(ts))
	for i, t := range ts {
		out[i] = trunk.TrunkConfig{Name: t.Name, Address: t.Address, Transport: t.Transport, AllowFrom: t.AllowFrom,
			Username: t.Username, Password: t.Password, Domain: t.Domain, Register: t.Register, CallerID: t.CallerID,
			InDialogTarget: t.InDialogTarget, EarlyMedia: t.EarlyMedia}
	}
	return out
}

// trunkApplier applies trunk changes made through cti to the SIP stack.
type trunkApplier struct{ t *trunk.Trunks }

func (a trunkApplier) ApplyTrunks(_ context.Context, ts []cti.Trunk) error {
	return a.t.SetTrunks(trunkConfigs(ts))
}
