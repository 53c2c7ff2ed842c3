package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newStore opens a fresh store in a temp dir and closes it at cleanup.
func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func key(i int) []byte {
	k := sha256.Sum256(fmt.Appendf(nil, "person-%d", i))
	return k[:]
}

func userVersion(t *testing.T, s *Store) int {
	t.Helper()
	var v int
	if err := s.w.QueryRowContext(context.Background(), "PRAGMA user_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onepass.db")

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := userVersion(t, s); got != len(migrations) {
		t.Fatalf("fresh user_version = %d, want %d", got, len(migrations))
	}
	if err := s.SetMeta(ctx, "cursor", []byte("42")); err != nil {
		t.Fatal(err)
	}
	v := &Visit{Lane: "1", Method: "card", Outcome: "PASS"}
	if err := s.Append(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: no migration runs again (it would fail on CREATE TABLE) and
	// the data is still there.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if got := userVersion(t, s); got != len(migrations) {
		t.Fatalf("reopened user_version = %d, want %d", got, len(migrations))
	}
	if val, ok, err := s.Meta(ctx, "cursor"); err != nil || !ok || string(val) != "42" {
		t.Fatalf("Meta after reopen = %q, %v, %v", val, ok, err)
	}
	p, err := s.Pending(ctx, 10)
	if err != nil || len(p) != 1 || p[0].ID != v.ID {
		t.Fatalf("Pending after reopen = %+v, %v; want visit %s", p, err, v.ID)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, s.Path())
	if err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("Open of newer schema: err = %v", err)
	}
}

func TestOpenSettings(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, db := range []struct {
		name string
		q    func(string) (string, error)
	}{
		{"writer", func(p string) (v string, err error) { err = s.w.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); return }},
		{"reader", func(p string) (v string, err error) { err = s.r.QueryRowContext(ctx, "PRAGMA "+p).Scan(&v); return }},
	} {
		for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"} {
			got, err := db.q(pragma)
			if err != nil || got != want {
				t.Errorf("%s: PRAGMA %s = %q, %v; want %q", db.name, pragma, got, err, want)
			}
		}
	}
}

// privileged reports whether this process can write into a 0500 directory
// (root, CAP_DAC_OVERRIDE), where permission-based tests prove nothing.
func privileged(t *testing.T) bool {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	f, err := os.Create(filepath.Join(dir, "x"))
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	priv := privileged(t)
	tests := []struct {
		name     string
		needPerm bool // relies on file permissions being enforced
		setup    func(t *testing.T) string
		want     string
	}{
		{"missing directory", false, func(t *testing.T) string {
			return filepath.Join(t.TempDir(), "nope", "onepass.db")
		}, "no such file or directory"},
		{"parent is a file", false, func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			os.WriteFile(f, nil, 0o600)
			return filepath.Join(f, "onepass.db")
		}, "is not a directory"},
		{"path is a directory", false, func(t *testing.T) string {
			return t.TempDir()
		}, "is a directory"},
		{"read-only directory", true, func(t *testing.T) string {
			dir := t.TempDir()
			os.Chmod(dir, 0o500)
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return filepath.Join(dir, "onepass.db")
		}, "is not writable"},
		{"read-only directory with existing database", true, func(t *testing.T) string {
			dir := t.TempDir()
			path := filepath.Join(dir, "onepass.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			os.Chmod(dir, 0o500)
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			return path
		}, "is not writable"},
		{"read-only database file", true, func(t *testing.T) string {
			path := filepath.Join(t.TempDir(), "onepass.db")
			s, err := Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			os.Chmod(path, 0o400)
			return path
		}, "database file is not writable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needPerm && priv {
				t.Skip("running with root/CAP_DAC_OVERRIDE: chmod does not stop writes; " +
					"TestAppendReadOnlyMedium and TestAppendDiskFull cover the write-error path")
			}
			path := tt.setup(t)
			s, err := Open(ctx, path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "store: open "+path+": ") || !strings.Contains(msg, tt.want) {
				t.Fatalf("error = %q, want prefix %q and %q", msg, "store: open "+path+": ", tt.want)
			}
		})
	}
}

// TestAppendReadOnlyMedium simulates a medium that turned read-only under
// an open database (works as root, unlike chmod): the writer connection is
// opened with the SQLite URI parameter mode=ro.
func TestAppendReadOnlyMedium(t *testing.T) {
	ctx := context.Background()
	path := newStore(t).Path()

	s, err := open(ctx, path, "mode=ro")
	if err != nil {
		// Refusing to open is an acceptable outcome too, if it is clear.
		if !strings.Contains(err.Error(), "readonly") {
			t.Fatalf("open read-only: unclear error %v", err)
		}
		return
	}
	defer s.Close()
	err = s.Append(ctx, &Visit{Lane: "1", Method: "card", Outcome: "PASS"})
	if err == nil || !strings.HasPrefix(err.Error(), "store: append visit ") || !strings.Contains(err.Error(), "readonly") {
		t.Fatalf("Append on read-only medium: err = %v", err)
	}
	if err := s.PutStatus(ctx, StatusRow{PersonKey: key(1), Status: 1}); err == nil {
		t.Fatal("PutStatus on read-only medium succeeded")
	}
	if n, err := s.OutboxDepth(ctx); err != nil || n != 0 {
		t.Fatalf("OutboxDepth = %d, %v; want 0", n, err)
	}
}

// TestAppendDiskFull fills the database up to a page limit, which SQLite
// reports exactly like a full disk (SQLITE_FULL).
func TestAppendDiskFull(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// The writer pool has one connection, so the per-connection limit sticks.
	var pages int
	if err := s.w.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+2)); err != nil {
		t.Fatal(err)
	}
	var err error
	appended := 0
	for range 10000 {
		v := &Visit{Lane: "1", Method: "card", Outcome: "PASS", SealedID: bytes.Repeat([]byte{7}, 200)}
		if err = s.Append(ctx, v); err != nil {
			break
		}
		appended++
	}
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("Append never failed on a full database: err = %v", err)
	}
	// The failed transaction left nothing half-written.
	n, err := s.OutboxDepth(ctx)
	if err != nil || n != appended {
		t.Fatalf("OutboxDepth = %d, %v; want %d", n, err, appended)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestStatus(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.UnixMilli(1_700_000_000_123).UTC()

	rows := []StatusRow{
		{PersonKey: key(1), Status: 1, AsOf: t0, Expires: t0.Add(24 * time.Hour), Reason: "vaccinated"},
		{PersonKey: key(2), Status: 3, AsOf: t0, Reason: "positive"},
		{PersonKey: key(3), Status: 0, AsOf: t0},
	}
	if err := s.PutStatus(ctx, rows...); err != nil {
		t.Fatal(err)
	}
	// Upsert: key 2 turns yellow.
	rows[1].Status, rows[1].Reason, rows[1].AsOf = 2, "recovering", t0.Add(time.Hour)
	if err := s.PutStatus(ctx, rows[1]); err != nil {
		t.Fatal(err)
	}
	if n, err := s.StatusCount(ctx); err != nil || n != 3 {
		t.Fatalf("StatusCount = %d, %v; want 3", n, err)
	}
	for _, want := range rows {
		got, ok, err := s.Status(ctx, want.PersonKey)
		if err != nil || !ok {
			t.Fatalf("Status(%x) = %v, %v", want.PersonKey[:4], ok, err)
		}
		if !bytes.Equal(got.PersonKey, want.PersonKey) || got.Status != want.Status || !got.AsOf.Equal(want.AsOf) ||
			!got.Expires.Equal(want.Expires) || got.Reason != want.Reason {
			t.Errorf("Status = %+v, want %+v", got, want)
		}
	}
	if _, ok, err := s.Status(ctx, key(99)); err != nil || ok {
		t.Fatalf("Status(unknown) = %v, %v; want not found", ok, err)
	}

	if err := s.DeleteStatus(ctx, key(1), key(99)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Status(ctx, key(1)); ok {
		t.Fatal("deleted row still present")
	}
	if n, _ := s.StatusCount(ctx); n != 2 {
		t.Fatalf("StatusCount after delete = %d, want 2", n)
	}

	// A bad row rejects the whole batch.
	for _, bad := range []StatusRow{
		{PersonKey: key(4)[:31], Status: 1},
		{PersonKey: key(4), Status: 4},
		{PersonKey: key(4), Status: -1},
	} {
		if err := s.PutStatus(ctx, StatusRow{PersonKey: key(5), Status: 1}, bad); err == nil {
			t.Errorf("PutStatus(%+v) succeeded", bad)
		}
	}
	if _, ok, _ := s.Status(ctx, key(5)); ok {
		t.Fatal("partial batch was written")
	}
}

func TestTrustList(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if seq, doc, err := s.TrustList(ctx); err != nil || seq != 0 || doc != nil {
		t.Fatalf("empty TrustList = %d, %q, %v", seq, doc, err)
	}
	steps := []struct {
		seq     int64
		doc     string
		wantErr error
		held    int64
	}{
		{5, "v5", nil, 5},
		{7, "v7", nil, 7},
		{7, "v7 again", nil, 7}, // re-delivery of the same seq
		{6, "old", ErrRollback, 7},
		{1, "older", ErrRollback, 7},
		{8, "v8", nil, 8},
	}
	for _, st := range steps {
		err := s.PutTrustList(ctx, st.seq, []byte(st.doc))
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("PutTrustList(%d) = %v, want %v", st.seq, err, st.wantErr)
		}
		seq, _, err := s.TrustList(ctx)
		if err != nil || seq != st.held {
			t.Fatalf("after PutTrustList(%d): held seq %d, %v; want %d", st.seq, seq, err, st.held)
		}
	}
	if _, doc, _ := s.TrustList(ctx); string(doc) != "v8" {
		t.Fatalf("doc = %q", doc)
	}
	if err := s.PutTrustList(ctx, 9, nil); err == nil {
		t.Fatal("empty trust list accepted")
	}
}

func TestPolicyAndMeta(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if v, doc, err := s.Policy(ctx); err != nil || v != 0 || doc != nil {
		t.Fatalf("empty Policy = %d, %q, %v", v, doc, err)
	}
	for _, p := range []struct {
		v   int64
		doc string
	}{{3, `{"fever":37.3}`}, {4, `{"fever":37.5}`}} {
		if err := s.PutPolicy(ctx, p.v, []byte(p.doc)); err != nil {
			t.Fatal(err)
		}
		if v, doc, err := s.Policy(ctx); err != nil || v != p.v || string(doc) != p.doc {
			t.Fatalf("Policy = %d, %q, %v; want %d, %q", v, doc, err, p.v, p.doc)
		}
	}

	if _, ok, err := s.Meta(ctx, "missing"); err != nil || ok {
		t.Fatalf("Meta(missing) = %v, %v", ok, err)
	}
	for _, m := range []struct {
		key string
		val []byte
	}{
		{"pull_cursor", []byte("abc")},
		{"pull_cursor", []byte("def")}, // overwrite
		{"issued_at", []byte{0, 1, 2, 0xff}},
		{"empty", nil},
	} {
		if err := s.SetMeta(ctx, m.key, m.val); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.Meta(ctx, m.key)
		if err != nil || !ok || !bytes.Equal(got, m.val) {
			t.Fatalf("Meta(%q) = %q, %v, %v; want %q", m.key, got, ok, err, m.val)
		}
	}
}

func TestIntegrityCheckReportsProblems(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// An outbox row without its visit, as a bad manual edit would leave.
	if _, err := s.w.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, "INSERT INTO outbox (visit_id) VALUES (x'00112233445566778899aabbccddeeff')"); err != nil {
		t.Fatal(err)
	}
	err := s.IntegrityCheck(ctx)
	if err == nil || !strings.Contains(err.Error(), "outbox row 1: missing visits row") {
		t.Fatalf("IntegrityCheck = %v", err)
	}
}
