// Package sqlstore implements cti.Store and webhook.Store on database/sql,
// for the two databases ringbridge runs on: SQLite (cti/store/sqlite, the
// embedded default) and PostgreSQL (cti/store/postgres, for many nodes).
//
// The statements are written once, with SQLite's "?" and "?N"
// placeholders; a Dialect rewrites them for PostgreSQL ("$N") and supplies
// the few fragments the two databases spell differently (JSON arrays,
// case-insensitive LIKE, row locks). Both schemas keep the same column
// names and the same stored forms (times as fixed-width UTC text or unix
// nanoseconds, documents as JSON text), so every scan is shared too.
//
// # Concurrency
//
// A Store is safe for concurrent use. Transactions that read a row and
// then write it lock it first where the database needs it (Dialect.ForUpdate):
// SQLite serialises all writers anyway, PostgreSQL does not.
//
// # Lifecycle
//
// The database-specific package opens the pools, migrates, and hands them
// to New; Close closes both pools.
package sqlstore

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/ringbridge/ringbridge/cti"
)

var _ cti.Store = (*Store)(nil)

// Dialect is what differs between the databases.
type Dialect struct {
	// Name prefixes errors ("sqlite", "postgres").
	Name string
	// Numbered makes placeholders "$N" (PostgreSQL) instead of "?".
	Numbered bool
	// ForUpdate locks the rows a transaction's SELECT reads
	// (" FOR UPDATE"); empty where the transaction already excludes
	// other writers.
	ForUpdate string
	// SkipLocked makes a SELECT skip rows another transaction has locked
	// (" FOR UPDATE SKIP LOCKED"), for claims several nodes race for.
	SkipLocked string
	// ILike is the case-insensitive LIKE operator.
	ILike string
	// Least and Greatest are the two-argument scalar minimum and maximum.
	Least, Greatest string
	// RowID names a table's physical row id (rowid, ctid).
	RowID string
	// JSONText is the set-returning function that yields the elements of a
	// JSON array given as text, as a relation of one column named value
	// (text for strings, the JSON for objects).
	JSONText func(arg string) string
	// JSONField extracts a string field from a JSON object given as text.
	JSONField func(doc, field string) string
	// MigrationLock, when set, runs first in every migration transaction so
	// that several processes starting on one database migrate one at a time.
	MigrationLock string
}

// Store is a cti.Store on one database: a writer pool and a reader pool,
// which may be the same.
type Store struct {
	writer *DB
	reader *DB
	d      *Dialect
	// aead encrypts recoverable secrets (secretbox.go); nil: stored as is.
	// Set once by SetSecretKey before the store is shared.
	aead cipher.AEAD
	// node names this process among those sharing the database; its live
	// calls, agents' statuses and heartbeat are its own. Set by SetNode.
	node string
}

// SetNode names the node this store serves (default "", the only one), so
// that crash recovery (cti.DurableStore) sees only this node's live calls
// and agents. A node restarted under the same name recovers what it left.
// Call it right after opening, before the store is shared.
func (s *Store) SetNode(name string) { s.node = name }

// New wraps migrated pools. writer and reader may be the same *sql.DB.
func New(writer, reader *sql.DB, d *Dialect) *Store {
	w := &DB{DB: writer, d: d}
	r := w
	if reader != writer {
		r = &DB{DB: reader, d: d}
		// Only a writer pool of its own counts: on a shared pool reads
		// would pass for commits.
		w.commits = new(atomic.Uint64)
	}
	return &Store{writer: w, reader: r, d: d}
}

// Commits counts the write transactions committed through the writer
// pool since the store was opened (statements outside a transaction count
// one each). With SQLite and synchronous=FULL each is one sync of the WAL,
// which is what a caller waiting for durability waits for, so it is how
// tests and /metrics see whether concurrent writers share commits. Zero
// for a store whose reads and writes share one pool (PostgreSQL).
func (s *Store) Commits() uint64 {
	if s.writer.commits == nil {
		return 0
	}
	return s.writer.commits.Load()
}

// Writer and Reader give tests and the database packages the pools, with
// placeholders rewritten for the dialect.
func (s *Store) Writer() *DB { return s.writer }

// Reader: see Writer.
func (s *Store) Reader() *DB { return s.reader }

// Dialect returns the store's dialect.
func (s *Store) Dialect() *Dialect { return s.d }

// Close closes both pools.
func (s *Store) Close() error {
	if s.reader == s.writer {
		return s.writer.Close()
	}
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// DB is a *sql.DB whose statements are rewritten for its dialect.
type DB struct {
	*sql.DB
	d *Dialect
	// commits, on a writer pool of its own, counts what it committed
	// (Store.Commits); nil elsewhere.
	commits *atomic.Uint64
}

// count adds one commit on a counting pool.
func count(c *atomic.Uint64) {
	if c != nil {
		c.Add(1)
	}
}

// ExecContext runs q after rebinding.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := db.DB.ExecContext(ctx, db.d.Rebind(q), args...)
	if err == nil {
		count(db.commits)
	}
	return res, err
}

// QueryContext runs q after rebinding. (On the writer pool it is a write
// with RETURNING.)
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	count(db.commits)
	return db.DB.QueryContext(ctx, db.d.Rebind(q), args...)
}

// QueryRowContext runs q after rebinding.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	count(db.commits)
	return db.DB.QueryRowContext(ctx, db.d.Rebind(q), args...)
}

// PrepareContext prepares q after rebinding.
func (db *DB) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return db.DB.PrepareContext(ctx, db.d.Rebind(q))
}

// BeginTx starts a transaction whose statements are rebound too.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := db.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, d: db.d, commits: db.commits}, nil
}

// Tx is a *sql.Tx whose statements are rewritten for its dialect.
type Tx struct {
	*sql.Tx
	d       *Dialect
	commits *atomic.Uint64
}

// Commit commits and counts the commit (Store.Commits).
func (tx *Tx) Commit() error {
	err := tx.Tx.Commit()
	if err == nil {
		count(tx.commits)
	}
	return err
}

// ExecContext runs q after rebinding.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return tx.Tx.ExecContext(ctx, tx.d.Rebind(q), args...)
}

// QueryContext runs q after rebinding.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return tx.Tx.QueryContext(ctx, tx.d.Rebind(q), args...)
}

// QueryRowContext runs q after rebinding.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.d.Rebind(q), args...)
}

// Rebind rewrites SQLite placeholders for the dialect: "?N" becomes "$N"
// and a bare "?" the next number after the highest used so far, which is
// how SQLite numbers them. Quoted text is left alone.
func (d *Dialect) Rebind(q string) string {
	if !d.Numbered || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	highest := 0
	inQuote := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inQuote = !inQuote
			b.WriteByte(c)
		case c == '?' && !inQuote:
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				n, _ = strconv.Atoi(q[i+1 : j])
			}
			highest = max(highest, n)
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
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

// FormatTime is the stored form of a time in text columns, for the
// database packages' own statements.
func FormatTime(t time.Time) string { return formatTime(t) }

func newID(prefix string) string {
	// ulid.Make is safe for concurrent use and monotonic within a millisecond,
	// so IDs also sort by creation time.
	return prefix + ulid.Make().String()
}

// Constraint violations as the drivers report them, recognised by the
// methods their error types have, so this package needs neither driver:
// SQLite's extended result codes (modernc *sqlite.Error has Code() int)
// and PostgreSQL's SQLSTATE (pgconn *PgError has SQLState() string).
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
	pgUniqueViolation          = "23505"
	pgForeignKeyViolation      = "23503"
)

// classify turns constraint violations into domain errors. what names the row
// being written and parent the row its foreign key points at, both for the
// caller-facing message.
func classify(err error, what, parent string) error {
	var kind cti.Kind
	var lite interface{ Code() int }
	var pg interface{ SQLState() string }
	switch {
	case errors.As(err, &pg):
		switch pg.SQLState() {
		case pgUniqueViolation:
			kind = cti.KindConflict
		case pgForeignKeyViolation:
			kind = cti.KindNotFound
		}
	case errors.As(err, &lite):
		switch lite.Code() {
		case sqliteConstraintUnique, sqliteConstraintPrimaryKey:
			kind = cti.KindConflict
		case sqliteConstraintForeignKey:
			kind = cti.KindNotFound
		}
	}
	switch kind {
	case cti.KindConflict:
		return &cti.Error{Kind: cti.KindConflict, Message: what + " already exists", Err: err}
	case cti.KindNotFound:
		return &cti.Error{Kind: cti.KindNotFound, Message: parent + " not found", Err: err}
	}
	return fmt.Errorf("store: write %s: %w", what, err)
}

// rowScanner is the common part of *sql.Row and *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}
