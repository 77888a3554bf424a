//go:build cluster

package postgres

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/ringbridge/ringbridge/cti/store/postgres/pgtest"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
	"github.com/ringbridge/ringbridge/cti/store/storetest"
)

// These tests need a PostgreSQL server, which pgtest starts: they are
// built with -tags cluster (make test-cluster).

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	c, err := pgtest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster = c
	code := m.Run()
	c.Stop()
	os.Exit(code)
}

func openTest(t *testing.T, url string) *Store {
	t.Helper()
	return storetest.Open(t, Open, url)
}

// The shared store suite on a new database per test.
func TestStoreSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(t *testing.T) *sqlstore.Store {
		url := cluster.NewDatabase(t)
		return func(t *testing.T) *sqlstore.Store { return openTest(t, url) }
	})
}
