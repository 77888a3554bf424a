// Package sqlite implements cti.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo).
package sqlite

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.Store = (*Store)(nil)

// Store is a cti.Store backed by one SQLite file.
//
// SQLite allows one writer at a time. Funnelling all writes through a pool of
// exactly one connection queues them in Go instead of having connections
// fight over the file lock (SQLITE_BUSY); reads go to a separate pool and,
// thanks to WAL, never wait for the writer.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	// aead encrypts recoverable secrets (secretbox.go); nil: stored as is.
	// Set once by SetSecretKey before the store is shared.
	aead cipher.AEAD
}

// timeLayout is RFC 3339 with a fixed nine-digit fraction. time.RFC3339Nano
// trims trailing zeros, which would make the stored strings sort wrongly;
// with a fixed width and always-UTC "Z", text order equals time order.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t.UTC(), nil
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
	return &Store{writer: writer, reader: reader}, nil
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

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

func newID(prefix string) string {
	// ulid.Make is safe for concurrent use and monotonic within a millisecond,
	// so IDs also sort by creation time.
	return prefix + ulid.Make().String()
}

// classify turns constraint violations into domain errors. what names the row
// being written and parent the row its foreign key points at, both for the
// caller-facing message.
func classify(err error, what, parent string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &cti.Error{Kind: cti.KindConflict, Message: what + " already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &cti.Error{Kind: cti.KindNotFound, Message: parent + " not found", Err: err}
		}
	}
	return fmt.Errorf("sqlite: write %s: %w", what, err)
}

// rowScanner is the common part of *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}
