// Package postgres implements cti.Store and webhook.Store on PostgreSQL
// (15 or later) through pgx, for ringbridge installs that run several
// nodes on one database (docs/scale-out.md). The statements are
// cti/store/sqlstore's, shared with SQLite; this package holds the schema
// (migrations/), the dialect, and the outbox's cross-node claims
// (webhooks.go).
//
// # Concurrency
//
// A Store is safe for concurrent use, from any number of processes on the
// same database: migrations take an advisory lock, transactions that read
// then write lock their rows (SELECT … FOR UPDATE), and outbox rows are
// claimed with FOR UPDATE SKIP LOCKED so one node delivers each.
package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

var _ cti.Store = (*Store)(nil)

// Store is a cti.Store on a PostgreSQL database.
type Store = sqlstore.Store

// Dialect is PostgreSQL's spelling of what sqlstore's statements leave
// open. Transactions run at READ COMMITTED, so a read that a write
// depends on locks its row.
var Dialect = &sqlstore.Dialect{
	Name:      "postgres",
	Numbered:  true,
	ForUpdate: " FOR UPDATE",
	// The outbox's endpoint leases (cti/webhook/nodes.go).
	SkipLocked: " FOR UPDATE SKIP LOCKED",
	ILike:      "ILIKE",
	Least:      "LEAST",
	Greatest:   "GREATEST",
	RowID:      "ctid",
	JSONText: func(arg string) string {
		return "jsonb_array_elements_text(CAST(" + arg + " AS jsonb)) AS j(value)"
	},
	JSONField: func(doc, field string) string { return "(CAST(" + doc + " AS jsonb) ->> '" + field + "')" },
	// One key for every ringbridge node: whoever migrates first does the
	// work, the others then find it recorded.
	MigrationLock: "SELECT pg_advisory_xact_lock(7262720013)",
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// maxConns bounds one node's connections; PostgreSQL's default limit is
// 100 for the whole server, shared by every node.
const maxConns = 16

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, as libpq takes) and brings its schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	if url == "" {
		return nil, cti.Errorf(cti.KindInvalid, "postgres: a database URL is required (postgresUrl)")
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgconn's message shows the URL with its password masked.
		return nil, &cti.Error{Kind: cti.KindInvalid, Message: "postgres: bad database URL", Err: err}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, err)
	}
	if err := sqlstore.Migrate(ctx, db, migrationFS, Dialect); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return sqlstore.New(db, db, Dialect), nil
}
