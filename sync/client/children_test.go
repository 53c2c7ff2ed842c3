package client_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
)

// The test binary re-executes itself as a hub or a kiosk, so that tests can SIGKILL a real
// process in the middle of its work.
const (
	hubChildEnv      = "ONEPASS_SYNC_HUB_CHILD"      // <hub dir>|<addr>
	kioskChildEnv    = "ONEPASS_SYNC_KIOSK_CHILD"    // <kiosk dir>|<hub url>|<root base64>
	diskFullChildEnv = "ONEPASS_SYNC_DISKFULL_CHILD" // <kiosk dir>|<hub url>|<root base64>
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(hubChildEnv) != "":
		os.Exit(hubChild(os.Getenv(hubChildEnv)))
	case os.Getenv(kioskChildEnv) != "":
		os.Exit(kioskChild(os.Getenv(kioskChildEnv)))
	case os.Getenv(diskFullChildEnv) != "":
		os.Exit(diskFullChild(os.Getenv(diskFullChildEnv)))
	}
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// hubChild serves a hub until killed; "<dir>|<addr>|<n>" first fills the status list with n
// persons (benchmarks).
func hubChild(arg string) int {
	parts := strings.Split(arg, "|")
	dir, addr := parts[0], parts[1]
	ctx := context.Background()
	h, err := hub.Open(ctx, dir, hub.Options{Logger: discardLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if len(parts) > 2 {
		n, _ := strconv.Atoi(parts[2])
		if err := fillHub(h, n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	var l net.Listener
	for range 100 {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	if err := h.Serve(ctx, l); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func childArgs(arg string) (dir, url string, root []byte, err error) {
	parts := strings.Split(arg, "|")
	if len(parts) != 3 {
		return "", "", nil, fmt.Errorf("bad child argument %q", arg)
	}
	root, err = base64.StdEncoding.DecodeString(parts[2])
	return parts[0], parts[1], root, err
}

func childClient(ctx context.Context, dir, url string, root []byte) (*store.Store, *client.Client, error) {
	db, err := store.Open(ctx, filepath.Join(dir, "onepass.db"))
	if err != nil {
		return nil, nil, err
	}
	c, err := client.New(client.Config{Hub: url, Dir: filepath.Join(dir, "sync"), KeysDir: filepath.Join(dir, "keys"), Root: root,
		PullEvery: 10 * time.Millisecond, PushEvery: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: discardLogger()}, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, c, nil
}

// kioskChild appends visits (printing each ID once Append returned, i.e. once it is durable)
// while its sync client pulls and pushes, until it is killed.
func kioskChild(arg string) int {
	dir, url, root, err := childArgs(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	db, c, err := childClient(ctx, dir, url, root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	go c.Run(ctx)
	out := bufio.NewWriterSize(os.Stdout, 0)
	for i := 0; ; i++ {
		t := 36.6
		v := &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(i), MaskedName: "李*", TempC: &t, Outcome: "PASS", Reason: "ok"}
		if err := db.Append(ctx, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		os.Stdout.WriteString(v.ID + "\n") // one small write: atomic on a pipe
		out.Flush()
		time.Sleep(5 * time.Millisecond) // a busy lane, not a flood: the sync work must get its turns
	}
}

// diskFullChild fills its database's disk: it caps the size of every file it writes
// (RLIMIT_FSIZE, which any user may lower), appends until SQLite reports the disk full, and
// pushes what it holds. It prints every durable visit ID, then "FULL <error>" and
// "PUSHED <n> <error>".
func diskFullChild(arg string) int {
	dir, url, root, err := childArgs(arg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	db, c, err := childClient(ctx, dir, url, root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	signal.Ignore(syscall.SIGXFSZ) // the write must fail with EFBIG, not kill the process
	var limit int64
	for _, f := range []string{"onepass.db", "onepass.db-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			limit = max(limit, fi.Size())
		}
	}
	limit += 256 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: uint64(limit), Max: uint64(limit)}); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 2
	}
	var full error
	for i := 0; i < 200_000 && full == nil; i++ {
		t := 36.6
		v := &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(i), SealedID: make([]byte, 200), MaskedName: "赵*", TempC: &t, Outcome: "PASS", Reason: "ok"}
		if err := db.Append(ctx, v); err != nil {
			full = err
			break
		}
		fmt.Println(v.ID)
	}
	if full == nil {
		fmt.Println("FULL never")
		return 2
	}
	fmt.Println("FULL", full)
	// Still full: more visits fail too, and are not reported.
	for range 3 {
		if err := db.Append(ctx, &store.Visit{Lane: "1", Method: "card", MaskedName: "赵*", Outcome: "PASS", Reason: "ok"}); err == nil {
			fmt.Println("FULL but an append succeeded")
		}
	}
	n, err := c.Push(ctx)
	fmt.Println("PUSHED", n, err)
	fmt.Println("HEALTH", c.Health())
	return 0
}

// child is a running re-executed test binary.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *strings.Builder
}

func startChild(t testing.TB, env string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1<<16), stderr: stderr}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		close(c.lines)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return c
}

// kill sends SIGKILL and returns every line the child printed.
func (c *child) kill(t testing.TB) []string {
	t.Helper()
	c.cmd.Process.Kill()
	var lines []string
	for l := range c.lines {
		lines = append(lines, l)
	}
	c.cmd.Wait()
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", c.cmd.ProcessState, c.stderr)
	}
	return lines
}

// wait waits for a child that exits by itself and returns its lines.
func (c *child) wait(t testing.TB) []string {
	t.Helper()
	var lines []string
	for l := range c.lines {
		lines = append(lines, l)
	}
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, c.stderr)
	}
	return lines
}

func (c *child) waitLine(t testing.TB, want string) {
	t.Helper()
	select {
	case l := <-c.lines:
		if l != want {
			t.Fatalf("child printed %q, want %q\n%s", l, want, c.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not print %q\n%s", want, c.stderr)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fillHub gives the hub n persons (keys pkey(0…n−1)), in large transactions.
func fillHub(h *hub.Hub, n int) error {
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	const batch = 100_000
	for from := 0; from < n; from += batch {
		es := make([]hub.StatusEntry, 0, batch)
		for i := from; i < min(from+batch, n); i++ {
			es = append(es, hub.StatusEntry{PersonKey: pkey(i), Status: 1 + i%3, AsOf: at, Expires: at.Add(48 * time.Hour)})
		}
		if _, err := h.PutStatus(context.Background(), es...); err != nil {
			return err
		}
	}
	return nil
}
