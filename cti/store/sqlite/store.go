// Package sqlite implements cti.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/ringbridge/ringbridge/cti"
	"github.com/ringbridge/ringbridge/cti/store/sqlstore"
)

var _ cti.Store = (*Store)(nil)

// Store is a cti.Store backed by one SQLite file (see sqlstore for the
// statements, shared with PostgreSQL).
//
// SQLite allows one writer at a time. Funnelling all writes through a pool of
// exactly one connection queues them in Go instead of having connections
// fight over the file lock (SQLITE_BUSY); reads go to a separate pool and,
// thanks to WAL, never wait for the writer.
type Store = sqlstore.Store

// WebhookStore is the webhook outbox on the same file.
type WebhookStore = sqlstore.WebhookStore

// Dialect is SQLite's spelling of what sqlstore's statements leave open.
// The single writer connection and IMMEDIATE transactions already exclude
// other writers, so reads in a transaction need no row lock.
var Dialect = &sqlstore.Dialect{
	Name:      "sqlite",
	ILike:     "LIKE", // ASCII case-insensitive by default
	Least:     "MIN",
	Greatest:  "MAX",
	RowID:     "rowid",
	JSONText:  func(arg string) string { return "json_each(" + arg + ")" },
	JSONField: func(doc, field string) string { return "json_extract(" + doc + ", '$." + field + "')" },
}

//go:embed migrations/*.sql
var migrationFS embed.FS

func migrate(ctx context.Context, db *sql.DB, fsys fs.FS) error {
	return sqlstore.Migrate(ctx, db, fsys, Dialect)
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date. path must be a file path; ":memory:" is not supported because
// the reader and writer pools would see different databases.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, cti.Errorf(cti.KindInvalid, "sqlite: a database file path is required")
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	uri := "file:" + escapePath(path)

	// IMMEDIATE transactions take the write lock at BEGIN, so a transaction
	// that reads then writes can never fail half-way with SQLITE_BUSY.
	// synchronous(FULL) syncs the WAL at every commit: an acknowledged
	// event survives a power cut too, and group commit keeps the cost to
	// one sync per group of concurrent writers.
	writer, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"+
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)

	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: connect %q: %w", path, err)
	}
	// Migrate before the reader pool exists so readers only ever see the
	// WAL-mode, fully migrated file.
	if err := migrate(ctx, writer, migrationFS); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: migrate %q: %w", path, err)
	}

	// query_only turns an accidental write through the reader pool into an
	// error instead of a lock fight with the writer.
	reader, err := sql.Open("sqlite", uri+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)")
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: open reader: %w", err)
	}
	n := max(4, runtime.NumCPU())
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	if err := reader.PingContext(ctx); err != nil {
		_ = reader.Close()
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite: connect reader %q: %w", path, err)
	}
	return sqlstore.New(writer, reader, Dialect), nil
}

// createPrivate makes sure the database's directory exists (0700 when we
// create it) and that the database file and its WAL companions are
// readable by the owner only (0600), whatever the umask and whether or not
// they existed: the file holds password hashes and refresh tokens. SQLite
// creates -wal and -shm with the main file's mode, so fixing that file
// before the first connection covers them too.
func createPrivate(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("sqlite: create directory %q: %w", dir, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: create %q: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sqlite: restrict %q to its owner: %w", p, err)
		}
	}
	return nil
}

// escapePath keeps characters that are special in a SQLite URI from being
// read as query string or escape sequences.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}
