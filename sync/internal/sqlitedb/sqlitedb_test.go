package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
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
