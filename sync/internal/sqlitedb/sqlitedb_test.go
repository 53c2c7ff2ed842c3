package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDSN(t *testing.T) {
	for _, tc := range []struct {
		name  string
		path  string
		extra []string
		want  string
	}{
		{"plain", "/var/lib/onepass/onepass.db", nil,
			"file:/var/lib/onepass/onepass.db?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_busy_timeout=5000&_stmt_cache_size=32"},
		{"URI syntax in the path is escaped", "/tmp/a?b#c%d/x.db", []string{"_txlock=immediate", "", "mode=ro"},
			"file:/tmp/a%3Fb%23c%25d/x.db?_journal_mode=WAL&_synchronous=FULL&_foreign_keys=on&_busy_timeout=5000&_stmt_cache_size=32&_txlock=immediate&mode=ro"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DSN(tc.path, 5*time.Second, tc.extra...); got != tc.want {
				t.Errorf("DSN = %s\nwant  %s", got, tc.want)
			}
		})
	}
}

func TestMigrateAndInTx(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	w, err := OpenWriter(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	steps := []string{`CREATE TABLE a (v INTEGER NOT NULL)`, `CREATE TABLE b (v INTEGER NOT NULL)`}
	for range 2 { // the second run finds nothing to do
		if err := Migrate(ctx, w, steps[:1], "test"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Migrate(ctx, w, steps, "test"); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("user_version %d (%v), want 2", v, err)
	}
	if err := Migrate(ctx, w, steps[:1], "test schema"); err == nil || !strings.Contains(err.Error(), "test schema version 2 is newer than this build") {
		t.Fatalf("an older build migrating: %v", err)
	}

	boom := errors.New("boom")
	err = InTx(ctx, w, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO a (v) VALUES (1)`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx = %v, want fn's error", err)
	}
	if err := InTx(ctx, w, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO a (v) VALUES (2)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReaders(ctx, path, time.Second, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var sum, n int
	if err := r.QueryRowContext(ctx, `SELECT coalesce(sum(v), 0), count(*) FROM a`).Scan(&sum, &n); err != nil || sum != 2 || n != 1 {
		t.Fatalf("rows sum %d count %d (%v): want only the committed row", sum, n, err)
	}
	if _, err := r.ExecContext(ctx, `INSERT INTO a (v) VALUES (3)`); err == nil {
		t.Error("a reader connection wrote")
	}
}

// TestFileModes: the database and its -wal and -shm files are the owner's whatever the umask, and
// a file an older build left readable by others loses the others' bits. Not parallel: the umask
// is the process's.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := t.TempDir()
	leftover := filepath.Join(dir, "old.db")
	if err := os.WriteFile(leftover, nil, 0o664); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       os.FileMode
	}{
		{"new database", filepath.Join(dir, "new.db"), 0o600},
		{"database left 0664", leftover, 0o660},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := OpenWriter(tc.path, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// A write makes the -wal and the -shm.
			if _, err := w.ExecContext(ctx, `CREATE TABLE a (v INTEGER); INSERT INTO a VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{tc.path, tc.path + "-wal", tc.path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != tc.want {
					t.Errorf("%s: mode %04o, want %04o", filepath.Base(p), got, tc.want)
				}
			}
		})
	}
}
