package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/cti/store/storetest"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	return storetest.Open(t, Open, path)
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rb.db")
	ctx := t.Context()
	s1, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	a, _ := storetest.Seed(t, s1)
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s2 := openTest(t, path)
	if _, err := s2.GetUser(ctx, "a", a.ID); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	var n int
	if err := s2.Reader().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	migs, err := sqlstore.LoadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(migs))
	}
	// Running the runner again on a migrated file must be a no-op.
	if err := migrate(ctx, s2.Writer().DB, migrationFS); err != nil {
		t.Fatalf("re-migrate: %v", err)
	}
	var mode string
	if err := s2.Reader().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
}

// The database holds password hashes and refresh tokens: owner-only, even
// in a directory that already existed and under a permissive umask.
func TestDatabaseFileIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir() // exists already
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rb.db")
	s := openTest(t, path)
	storetest.Seed(t, s) // writes, so the WAL exists
	for _, p := range []string{path, path + "-wal"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), perm)
		}
	}
	// A file left readable by an older version is tightened on open.
	s.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openTest(t, path)
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("reopened file has mode %v, want 0600", st.Mode().Perm())
	}
	nested := filepath.Join(t.TempDir(), "new", "data", "rb.db")
	openTest(t, nested)
	if st, _ := os.Stat(filepath.Dir(nested)); st.Mode().Perm() != 0o700 {
		t.Errorf("created data dir has mode %v, want 0700", st.Mode().Perm())
	}
}
