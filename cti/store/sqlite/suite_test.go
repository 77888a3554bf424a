package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/cti/store/storetest"
)

// The shared store suite on a new database file per test.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) *sqlstore.Store {
		path := filepath.Join(t.TempDir(), "rb.db")
		return func(t *testing.T) *sqlstore.Store { return openTest(t, path) }
	})
}
