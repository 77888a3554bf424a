package postgres

import (
	"os"
	"strings"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// Every SQLite migration has a PostgreSQL twin of the same version (and
// no twin is without its original): sqlstore's statements expect the same
// tables and columns on both.
func TestMigrationsMirrorSQLite(t *testing.T) {
	lite, err := sqlstore.LoadMigrations(os.DirFS("../sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]string{}
	for _, m := range pg {
		have[m.Version] = m.Name
	}
	for _, m := range lite {
		if _, ok := have[m.Version]; !ok {
			t.Errorf("cti/store/sqlite/migrations/%s has no twin in cti/store/postgres/migrations", m.Name)
		}
		delete(have, m.Version)
	}
	for _, name := range have {
		t.Errorf("cti/store/postgres/migrations/%s has no SQLite original", name)
	}
}

// A bad URL or an unreachable server is a clear error, without the
// password.
func TestOpenErrors(t *testing.T) {
	if _, err := Open(t.Context(), ""); cti.ErrorKind(err) != cti.KindInvalid {
		t.Fatalf("empty URL: %v", err)
	}
	_, err := Open(t.Context(), "postgres://rb:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("unreachable server: %v", err)
	}
	_, err = Open(t.Context(), "postgres://rb:s3cret-pw@127.0.0.1:notaport/x")
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("bad URL: %v", err)
	}
}
