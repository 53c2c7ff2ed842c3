// Package store is the kiosk's single local SQLite database: the status
// replica, the issuer trust list, the hall policy, small metadata and the
// outbox of visits waiting for upload.
//
// The file runs in WAL mode with synchronous=FULL, so a write method that
// returns nil has been committed and fsynced. Raw ID numbers never reach this
// package: a person is stored as a keyed hash (person key) and, for the
// platform, as a sealed ciphertext the kiosk cannot open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"onepass/sync/internal/sqlitedb"
)

// Store is the open database. Its methods are safe for concurrent use.
type Store struct {
	path string
	// w holds the one writer connection: writes queue in Go rather than
	// racing for SQLite's write lock and failing with SQLITE_BUSY.
	w *sql.DB
	// r is a small pool of query-only connections; WAL lets them read
	// while w writes.
	r *sql.DB
}

const (
	busyTimeout = 5 * time.Second // only matters when another process holds the lock
	readConns   = 4
)

// Open opens the database at path, creating the file if needed, and brings
// its schema up to date. The directory must exist and be writable (SQLite
// creates the -wal and -shm files beside the database); Open does not create
// it.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path, "")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

// open does the work of Open. extra is added to the writer's URI; tests use
// it to simulate a read-only medium ("mode=ro") when running as root.
func open(ctx context.Context, path, extra string) (*Store, error) {
	if err := checkWritable(path); err != nil {
		return nil, err
	}
	w, err := sqlitedb.OpenWriter(path, busyTimeout, extra)
	if err != nil {
		return nil, err
	}
	if err := checkPragmas(ctx, w); err != nil {
		w.Close()
		return nil, err
	}
	if err := sqlitedb.Migrate(ctx, w, migrations, "schema"); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sqlitedb.OpenReaders(ctx, path, busyTimeout, readConns)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Store{path: path, w: w, r: r}, nil
}

// checkWritable turns SQLite's vague "unable to open database file" into a
// clear message for the usual causes: missing directory, read-only
// directory, read-only database file.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	// A probe file is the only portable test that also catches read-only
	// mounts and ACLs; the -wal and -shm files need the same right.
	f, err := os.CreateTemp(dir, ".onepass-probe-*")
	if err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())

	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", path)
		}
		// SQLite silently falls back to read-only for a file it cannot
		// write; fail here instead of at the first Append.
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("database file is not writable: %w", err)
		}
		f.Close()
	}
	return nil
}

// checkPragmas confirms the durability settings really took effect.
func checkPragmas(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	var syncMode int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("synchronous: %w", err)
	}
	if syncMode != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", syncMode)
	}
	return nil
}

// Close closes the database. The last connection to close checkpoints the
// WAL into the main file.
func (s *Store) Close() error {
	err := errors.Join(s.r.Close(), s.w.Close())
	if err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// Path returns the database file path given to Open.
func (s *Store) Path() string { return s.path }

// IntegrityCheck runs PRAGMA integrity_check and PRAGMA foreign_key_check.
// The error lists every problem reported. It reads through the reader pool,
// so a long check does not hold up Append.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	var problems []string
	rows, err := s.r.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			rows.Close()
			return fmt.Errorf("store: integrity check: %w", err)
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}

	rows, err = s.r.QueryContext(ctx, "PRAGMA foreign_key_check")
	if err != nil {
		return fmt.Errorf("store: foreign key check: %w", err)
	}
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fk int
		if err := rows.Scan(&table, &rowid, &parent, &fk); err != nil {
			rows.Close()
			return fmt.Errorf("store: foreign key check: %w", err)
		}
		problems = append(problems, fmt.Sprintf("%s row %v: missing %s row", table, rowid.Int64, parent))
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("store: foreign key check: %w", err)
	}

	if len(problems) > 0 {
		return fmt.Errorf("store: integrity check of %s failed: %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}
