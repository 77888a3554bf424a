package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migration is one file of a migrations directory.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// LoadMigrations reads the embedded files. The numeric filename prefix is the
// version, so files can be renamed for readability without being re-applied.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	seen := make(map[int]string, len(names))
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql", base)
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %q: bad version prefix %q", base, prefix)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share version %d", prev, base, v)
		}
		seen[v] = base
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", base, err)
		}
		out = append(out, Migration{Version: v, Name: base, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Migrate applies every migration under migrations/ in fsys not yet
// recorded. Each file runs in its own transaction together with its
// bookkeeping row, so a crash leaves either the whole file applied and
// recorded or nothing. Migration files are run as they are (no
// placeholders), so one file may hold several statements.
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, d *Dialect) error {
	migs, err := LoadMigrations(fsys)
	if err != nil {
		return err
	}
	if err := createMigrationTable(ctx, db, d); err != nil {
		return err
	}
	for _, m := range migs {
		applied, err := applyMigration(ctx, db, d, m)
		if err != nil {
			return err
		}
		if applied {
			slog.InfoContext(ctx, d.Name+" migration applied", "version", m.Version, "file", m.Name)
		}
	}
	return nil
}

// createMigrationTable runs under the migration lock: PostgreSQL's
// CREATE TABLE IF NOT EXISTS can still fail when two sessions race.
func createMigrationTable(ctx context.Context, db *sql.DB, d *Dialect) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema_migrations: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if d.MigrationLock != "" {
		if _, err = tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return fmt.Errorf("create schema_migrations: lock: %w", err)
		}
	}
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("create schema_migrations: commit: %w", err)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, d *Dialect, m Migration) (applied bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: begin: %w", m.Name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if d.MigrationLock != "" {
		if _, err = tx.ExecContext(ctx, d.MigrationLock); err != nil {
			return false, fmt.Errorf("migration %s: lock: %w", m.Name, err)
		}
	}

	// Checked inside the (immediate, or locked) transaction so that two
	// processes opening the same database cannot both apply one version.
	var one int
	err = tx.QueryRowContext(ctx, d.Rebind(`SELECT 1 FROM schema_migrations WHERE version = ?`), m.Version).Scan(&one)
	switch {
	case err == nil:
		return false, tx.Rollback()
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("migration %s: check: %w", m.Name, err)
	}

	if _, err = tx.ExecContext(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migration %s: apply: %w", m.Name, err)
	}
	if _, err = tx.ExecContext(ctx, d.Rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`),
		m.Version, formatTime(time.Now())); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.Name, err)
	}
	if err = tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.Name, err)
	}
	return true, nil
}
