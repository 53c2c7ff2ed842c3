package hub

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"onepass/internal/pgtest"
)

// pg is the package's throwaway PostgreSQL cluster, started by the first test that needs it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// forBackends runs fn once on SQLite and once on PostgreSQL: every hub behaviour holds on both.
func forBackends(t *testing.T, fn func(t *testing.T, be string)) {
	for _, be := range []string{"sqlite", "postgres"} {
		t.Run(be, func(t *testing.T) { fn(t, be) })
	}
}

// dbURL is Options.DB for backend be: a new database on the cluster for postgres.
func dbURL(t testing.TB, be string) string {
	switch be {
	case "sqlite":
		return ""
	case "postgres":
		return pg.DB(t)
	}
	t.Fatalf("backend %q", be)
	return ""
}

// TestSchemasInStep: both backends' migrations have the same versions.
func TestSchemasInStep(t *testing.T) {
	if len(schema) != len(pgSchema) {
		t.Fatalf("SQLite schema has %d steps, PostgreSQL %d: append to both", len(schema), len(pgSchema))
	}
}

// TestRefusesNewerDatabase: a database migrated by a newer build is refused on both backends,
// and reopening one this build migrated changes nothing.
func TestRefusesNewerDatabase(t *testing.T) { forBackends(t, testRefusesNewerDatabase) }

func testRefusesNewerDatabase(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	o := Options{DB: h.opt.DB, Logger: slog.New(slog.DiscardHandler)}
	again, err := Open(bg, h.dir, o)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	again.Close()
	bump := `PRAGMA user_version = 99`
	if be == "postgres" {
		bump = `UPDATE schema_version SET version = 99`
	}
	if _, err := h.w.ExecContext(bg, bump); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bg, h.dir, o); err == nil || !strings.Contains(err.Error(), "newer than this build knows") {
		t.Fatalf("open a version-99 database: %v", err)
	}
}
