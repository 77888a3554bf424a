package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ringbridge/ringbridge/cti"
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
		if err := st.CreateUser(ctx, &cti.User{TenantID: defaultTenant, Username: u.username, DisplayName: u.name,
			Extension: u.ext, Role: u.role, PasswordHash: hash}); err != nil {
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
