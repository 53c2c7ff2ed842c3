package pgtest

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

// TestClusterStartStop: a database made on the cluster answers, stops answering while the
// server is stopped, answers again after a restart, and nothing listens on TCP.
func TestClusterStartStop(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url, err := c.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var addrs string
	if err := db.QueryRow(`SHOW listen_addresses`).Scan(&addrs); err != nil || addrs != "" {
		t.Fatalf("listen_addresses %q, %v: want none (Unix socket only)", addrs, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err == nil {
		t.Fatal("ping succeeded with the server stopped")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	dir := c.dir
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cluster folder left behind: %v", err)
	}
}
