package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// A database migrated by a build that had only some of the files (the
// durability and revocation ones, 0005/0006/0020, or the administration
// ones, 0010/0011) takes the others on the next start, lower versions
// after higher ones, and ends up with the tables, columns and indexes of a
// fresh database; its users stay readable and can be disabled.
func TestMigrationsFillGapsInEitherOrder(t *testing.T) {
	want := schemaOf(t, openTest(t, filepath.Join(t.TempDir(), "fresh.db")).Reader().DB)
	for name, first := range map[string][]int{
		"revocation first":     {1, 2, 3, 4, 5, 6, 20},
		"administration first": {1, 2, 3, 4, 10, 11},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			path := filepath.Join(t.TempDir(), "old.db")
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
			if err != nil {
				t.Fatal(err)
			}
			if err := migrate(ctx, db, partialMigrations(t, first)); err != nil {
				t.Fatalf("partial migrate: %v", err)
			}
			for _, q := range []string{
				`INSERT INTO tenants (id, name, created_at) VALUES ('demo', 'Demo', '2026-01-01T00:00:00Z')`,
				`INSERT INTO users (id, tenant_id, username, role, password_hash, created_at)
					VALUES ('u1', 'demo', 'alice', 'agent', '', '2026-01-01T00:00:00Z')`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s := openTest(t, path)
			if got := schemaOf(t, s.Reader().DB); !mapsEqual(got, want) {
				t.Fatalf("schema after filling the gaps:\n got %v\nwant %v", got, want)
			}
			u, err := s.GetUser(ctx, "demo", "u1")
			if err != nil || u.Disabled() || u.TokenEpoch != 0 || len(u.Teams) != 0 {
				t.Fatalf("user after migration: %+v, %v", u, err)
			}
			u.DisabledAt = time.Now().UTC()
			if err := s.UpdateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if epoch, err := s.RevokeUserTokens(ctx, "demo", "u1"); err != nil || epoch != 1 {
				t.Fatalf("revoke: %d, %v", epoch, err)
			}
			disabled := true
			page, _, err := s.ListUsersPage(ctx, "demo", cti.UserFilter{Disabled: &disabled})
			if err != nil || len(page) != 1 || !page[0].Disabled() || page[0].TokenEpoch != 1 {
				t.Fatalf("disabled users: %+v, %v", page, err)
			}
		})
	}
}

func partialMigrations(t *testing.T, versions []int) fstest.MapFS {
	t.Helper()
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, m := range migs {
		if slices.Contains(versions, m.Version) {
			out["migrations/"+m.Name] = &fstest.MapFile{Data: []byte(m.SQL)}
		}
	}
	if len(out) != len(versions) {
		t.Fatalf("found %d of the migrations %v", len(out), versions)
	}
	return out
}

// schemaOf lists each table's columns (sorted: columns added by ALTER
// TABLE land in the order they were applied) and each index's table.
func schemaOf(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT type, name, tbl_name FROM sqlite_master
		WHERE name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	type obj struct{ typ, name, table string }
	var objs []obj
	for rows.Next() {
		var o obj
		if err := rows.Scan(&o.typ, &o.name, &o.table); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, o := range objs {
		if o.typ != "table" {
			out[o.typ+" "+o.name] = []string{o.table}
			continue
		}
		cols, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, o.name)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for cols.Next() {
			var n string
			if err := cols.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if err := cols.Close(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		out["table "+o.name] = names
	}
	return out
}

func mapsEqual(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}
