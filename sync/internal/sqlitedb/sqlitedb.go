// Package sqlitedb is what the kiosk's store (sync/store) and the hub's database (sync/hub) share
// about running one SQLite file: the connection string, one writer connection beside a pool of
// readers, numbered migrations and write transactions. It imports nothing of ours.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// DSN builds a go-sqlite3 URI filename: WAL, synchronous=FULL, foreign keys, the busy timeout
// and a statement cache, then the non-empty extras. The path is escaped so that '?', '#' and
// '%' in directory names cannot be read as URI syntax.
func DSN(path string, busy time.Duration, extra ...string) string {
	q := []string{
		"_journal_mode=WAL",
		"_synchronous=FULL", // after _journal_mode: go-sqlite3 lowers WAL to NORMAL otherwise
		"_foreign_keys=on",
		fmt.Sprintf("_busy_timeout=%d", busy.Milliseconds()),
		"_stmt_cache_size=32", // reuse prepared statements per connection: halves a status lookup
	}
	for _, e := range extra {
		if e != "" {
			q = append(q, e)
		}
	}
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + strings.Join(q, "&")
}

// OpenWriter opens the one writer connection (BEGIN IMMEDIATE): writes queue in Go rather than
// racing for SQLite's write lock and failing with SQLITE_BUSY.
func OpenWriter(path string, busy time.Duration, extra ...string) (*sql.DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	w, err := sql.Open("sqlite3", DSN(path, busy, append([]string{"_txlock=immediate"}, extra...)...))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	return w, nil
}

// FileMode is the mode of a database file and of its -wal and -shm files: they hold person keys,
// sealed IDs and masked names, for the owner only.
const FileMode fs.FileMode = 0o600

// createPrivate creates the database file FileMode before SQLite opens it: SQLite would create it
// 0644 less the umask, and gives the -wal and -shm files the main file's mode (it chmods them to
// it). A file left by an older build keeps its owner and group bits but loses the others', where
// this user may change them: that is a repair, and no reason to refuse a database that opens.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o007 == 0 {
			continue // missing, or not ours to change: SQLite says what is wrong with it
		}
		os.Chmod(p, fi.Mode().Perm()&^0o007) // not the owner, a read-only medium: left as it is
	}
	return nil
}

// OpenReaders opens a pool of n query-only connections, which WAL lets read while the writer
// writes, and checks that one opens.
func OpenReaders(ctx context.Context, path string, busy time.Duration, n int) (*sql.DB, error) {
	r, err := sql.Open("sqlite3", DSN(path, busy, "_query_only=1"))
	if err != nil {
		return nil, err
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		return nil, fmt.Errorf("reader: %w", err)
	}
	return r, nil
}

// InTx runs fn in one write transaction and commits; an error from fn rolls it back.
func InTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Migrate brings the schema to len(steps): after steps[i] the database's PRAGMA user_version is
// i+1. Each step re-reads user_version inside its own write transaction, so two processes
// opening the same file at once cannot apply a step twice. what names the schema in errors.
func Migrate(ctx context.Context, db *sql.DB, steps []string, what string) error {
	for {
		done, err := migrateOne(ctx, db, steps, what)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

func migrateOne(ctx context.Context, db *sql.DB, steps []string, what string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return false, fmt.Errorf("migrate: read user_version: %w", err)
	}
	switch {
	case v == len(steps):
		return true, nil
	case v > len(steps) || v < 0:
		return false, fmt.Errorf("migrate: %s version %d is newer than this build knows (%d)", what, v, len(steps))
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return false, fmt.Errorf("migrate to version %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v is an int from our own slice.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return false, fmt.Errorf("migrate to version %d: set user_version: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrate to version %d: commit: %w", v+1, err)
	}
	return false, nil
}
