package sqlite

import (
	"path/filepath"
	"testing"
)

// Migrating a database from before 0010 keeps someone who can create
// tenants: the first tenant's admins become super-admins, nobody else.
func TestMigrationMakesFirstTenantAdminsSuper(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	s := openTest(t, path)
	if _, err := s.Writer().ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = 10`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX users_tenant_role`, `DROP TABLE numbers`, `DROP TABLE tenant_settings`, `DROP TABLE audit_log`,
		`ALTER TABLE users DROP COLUMN teams`, `ALTER TABLE users DROP COLUMN skills`,
		`ALTER TABLE users DROP COLUMN super_admin`, `ALTER TABLE users DROP COLUMN updated_at`,
		`INSERT INTO tenants VALUES ('demo', 'Demo', '2026-01-01T00:00:00.000000000Z'), ('later', 'Later', '2026-02-01T00:00:00.000000000Z')`,
		`INSERT INTO users (id, tenant_id, username, role, created_at) VALUES
			('u1', 'demo', 'admin', 'admin', '2026-01-01T00:00:00.000000000Z'),
			('u2', 'demo', 'alice', 'agent', '2026-01-01T00:00:00.000000000Z'),
			('u3', 'later', 'boss', 'admin', '2026-02-01T00:00:00.000000000Z')`} {
		if _, err := s.Writer().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s.Close()
	s2 := openTest(t, path)
	for id, want := range map[string]bool{"u1": true, "u2": false, "u3": false} {
		tenant := "demo"
		if id == "u3" {
			tenant = "later"
		}
		u, err := s2.GetUser(ctx, tenant, id)
		if err != nil || u.SuperAdmin != want {
			t.Errorf("%s: super %v, want %v (%v)", id, u != nil && u.SuperAdmin, want, err)
		}
	}
}
