// Package pgtest runs a throwaway PostgreSQL server for tests: a cluster initdb'd into a
// temporary folder, listening only on a Unix socket there (no TCP), run as the postgres user
// when the tests run as root, and stopped at the end. Each test gets its own database.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Fix is what a test that cannot start PostgreSQL tells its reader.
const Fix = "install PostgreSQL with scripts/dev-setup.sh (the tests run initdb and postgres from /usr/lib/postgresql/*/bin or $PATH)"

// Cluster is a running throwaway server.
type Cluster struct {
	dir    string // the cluster's folder: data/, the socket and the log
	bin    string
	cred   *syscall.Credential // nil: run as ourselves
	cmd    *exec.Cmd
	exited chan error
	n      int // databases made, for their names
	mu     sync.Mutex
}

// Start initdb's a cluster in a new temporary folder and starts it.
func Start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// The socket's path must fit sockaddr_un (107 bytes), and under root the postgres user must
	// reach the folder: /tmp is short and open to all, whatever $TMPDIR says.
	base := os.TempDir()
	if len(base) > 60 || os.Geteuid() == 0 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "onepass-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: running as root needs the postgres user: %w; %s", err, Fix)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	out, err := c.command("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--locale=C").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %w: %s; %s", err, out, Fix)
	}
	if err := c.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	// Should the test binary die, the server goes with it (fast shutdown).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGINT}
	return cmd
}

// binDir finds initdb: on $PATH, or in Debian's versioned folder (newest first).
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("pgtest: initdb not found; " + Fix)
}

// Start starts the server (again, after Stop) and waits until it accepts connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return nil
	}
	log, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer log.Close()
	// Durability is worth nothing to a throwaway cluster; speed is.
	cmd := c.command("postgres", "-D", c.data(), "-k", c.dir, "-c", "listen_addresses=",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w; %s", err, Fix)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", c.URL("postgres"))
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			return fmt.Errorf("pgtest: postgres exited (%v): %s; %s", werr, b, Fix)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return fmt.Errorf("pgtest: postgres did not accept connections within 30s: %w", err)
		}
	}
	c.cmd = cmd
	c.exited = exited
	return nil
}

// Stop stops the server (fast shutdown: sessions are ended); Start starts it again.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		err = <-c.exited
	}
	c.cmd = nil
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = nil // the server's own exit status after a signal
	}
	return err
}

// Close stops the server and removes its folder.
func (c *Cluster) Close() error {
	err := c.Stop()
	return errors.Join(err, os.RemoveAll(c.dir))
}

// URL is the address of database name on this cluster's socket.
func (c *Cluster) URL(name string) string {
	return "postgres://postgres@/" + name + "?host=" + c.dir + "&sslmode=disable"
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("t%d", c.n)
	c.mu.Unlock()
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	// template0 is empty; the file copy is fast where nothing is synced.
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 STRATEGY FILE_COPY"); err != nil {
		return "", fmt.Errorf("pgtest: create database: %w", err)
	}
	return c.URL(name), nil
}

// Shared is one cluster for a test package, started by the first test that asks for a
// database; TestMain closes it.
type Shared struct {
	once sync.Once
	c    *Cluster
	err  error
}

// Cluster returns the package's cluster, failing t with how to fix a missing PostgreSQL.
func (s *Shared) Cluster(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() { s.c, s.err = Start() })
	if s.err != nil {
		t.Fatalf("PostgreSQL for this test: %v", s.err)
	}
	return s.c
}

// DB returns the URL of a new, empty database for t.
func (s *Shared) DB(t testing.TB) string {
	t.Helper()
	url, err := s.Cluster(t).NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// Close stops the cluster, if one was started.
func (s *Shared) Close() {
	if s.c != nil {
		s.c.Close()
	}
}
