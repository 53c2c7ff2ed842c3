package hub

import (
	"os"
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
