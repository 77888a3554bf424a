//go:build cluster

package postgres

import (
	"sync"
	"testing"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

// Nodes starting together on a new database migrate it once between
// them, and all come up.
func TestNodesMigrateTogether(t *testing.T) {
	url := cluster.NewDatabase(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	var n int
	if err := stores[0].Reader().QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if migs, _ := loadOwn(); n != migs {
		t.Fatalf("schema_migrations has %d rows, want %d", n, migs)
	}
	if err := stores[1].CreateTenant(t.Context(), &cti.Tenant{ID: "demo", Name: "Demo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stores[3].GetTenant(t.Context(), "demo"); err != nil {
		t.Fatalf("another node does not see the tenant: %v", err)
	}
}

func loadOwn() (int, error) {
	m, err := sqlstore.LoadMigrations(migrationFS)
	return len(m), err
}
