package main

import (
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

// forBackends runs fn on the SQLite default and on PostgreSQL, where the database is named the
// way an operator may name it: by ONEPASS_HUB_DB, which every command reads. db is the URL
// ("" for SQLite).
func forBackends(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Setenv("ONEPASS_HUB_DB", "")
		fn(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		url := pg.DB(t)
		t.Setenv("ONEPASS_HUB_DB", url)
		fn(t, url)
	})
}

// TestDBFlag: --db (either spelling) wins over ONEPASS_HUB_DB; anything but a PostgreSQL URL is
// a usage error before a command opens anything.
func TestDBFlag(t *testing.T) {
	dir := t.TempDir()
	url := pg.DB(t)
	// A database nobody can reach: the command fails if it uses the variable, not the flag.
	t.Setenv("ONEPASS_HUB_DB", "postgres://postgres@/nowhere?host="+dir+"/nosocket&connect_timeout=2")
	if out, code := hubCmd(t, dir, "--db", url, "init", "keys"); code != 0 || !strings.Contains(out, "database ready") {
		t.Fatalf("init keys --db: exit %d\n%s", code, out)
	}
	if out, code := hubCmd(t, dir, "--db="+url, "token", "--hall", "h"); code != 0 {
		t.Fatalf("token --db=: exit %d\n%s", code, out)
	}
	if out, code := hubCmd(t, dir, "token", "--hall", "h"); code != 1 || !strings.Contains(out, "nowhere") {
		t.Fatalf("token with the unreachable ONEPASS_HUB_DB: exit %d\n%s", code, out)
	}
	// The token went to PostgreSQL, not to a SQLite file in the data directory.
	if _, err := os.Stat(dir + "/hub.db"); !os.IsNotExist(err) {
		t.Errorf("hub.db made in the data directory with --db: %v", err)
	}
	for _, bad := range []string{"mysql://x/y", "hub.db", "sqlite:///x"} {
		if out, code := hubCmd(t, dir, "--db", bad, "token", "--hall", "h"); code != 2 || !strings.Contains(out, "want postgres://") {
			t.Errorf("--db %s: exit %d\n%s", bad, code, out)
		}
	}
	if out, code := hubCmd(t, dir, "--db"); code != 2 || !strings.Contains(out, "--db needs a database URL") {
		t.Errorf("--db without a value: exit %d\n%s", code, out)
	}
}
