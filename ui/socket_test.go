package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// socketDir is a short directory for sockets: t.TempDir's names can pass sun_path's 108 bytes.
func socketDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestSocketMode: the socket is 0660 and its new parent 0750 whatever the umask, and closing the
// listener removes the socket file. Not parallel: the umask belongs to the whole process.
func TestSocketMode(t *testing.T) {
	for _, mask := range []int{0, 0o077, 0o022} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			path := filepath.Join(socketDir(t), "run", "onepassd.sock")
			old := syscall.Umask(mask)
			l, err := ListenSocket(path, "", nil)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
				t.Errorf("socket %s, want a socket 0660", fi.Mode())
			}
			if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o750&^fs.FileMode(mask) {
				t.Errorf("parent directory %v %v, want 0750 less the umask", di.Mode(), err)
			}
			l.Close()
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket still there after Close: %v", err)
			}
		})
	}
}

// TestSocketGroup: the socket goes to the named group when it exists; an unknown group leaves it
// with the process's group and the listener works.
func TestSocketGroup(t *testing.T) {
	own := strconv.Itoa(os.Getgid())
	other := otherGroup(t)
	tests := []struct{ group, wantGid string }{
		{other.Name, other.Gid},
		{"no-such-group-onepass", own},
	}
	for _, tt := range tests {
		path := filepath.Join(socketDir(t), "onepassd.sock")
		l, err := ListenSocket(path, tt.group, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("group %s: %v", tt.group, err)
		}
		fi, _ := os.Stat(path)
		if gid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)); gid != tt.wantGid {
			t.Errorf("group %s: socket gid %s, want %s", tt.group, gid, tt.wantGid)
		}
		l.Close()
	}
}

// otherGroup is a group this process may give a file to, other than its own when it can: one of
// its supplementary groups, or any group for root.
func otherGroup(t *testing.T) *user.Group {
	t.Helper()
	gids, _ := os.Getgroups()
	for _, g := range gids {
		if g != os.Getgid() {
			if gr, err := user.LookupGroupId(strconv.Itoa(g)); err == nil {
				return gr
			}
		}
	}
	if os.Geteuid() == 0 {
		for _, name := range []string{"daemon", "nogroup", "bin"} {
			if gr, err := user.LookupGroup(name); err == nil {
				return gr
			}
		}
	}
	gr, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Fatalf("this process's group: %v", err)
	}
	return gr
}

// TestSocketStaleAndInUse: a socket nobody answers on (a daemon that died) is replaced; one a
// live daemon answers on, or a file that is not a socket, is refused and left in place.
func TestSocketStaleAndInUse(t *testing.T) {
	dir := socketDir(t)
	path := filepath.Join(dir, "onepassd.sock")

	dead, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	dead.(*net.UnixListener).SetUnlinkOnClose(false) // as a killed daemon leaves it
	dead.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	l, err := ListenSocket(path, "", nil)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	defer l.Close()

	if _, err := ListenSocket(path, "", nil); !errors.Is(err, ErrSocketInUse) || !strings.Contains(err.Error(), path) {
		t.Errorf("second daemon on a live socket: %v, want ErrSocketInUse naming the path", err)
	}
	go func() { // the first listener still works: the refused start did not remove its socket
		for { // the refused start's probe is queued first
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the live socket was disturbed: %v", err)
	}
	if b, _ := io.ReadAll(c); string(b) != "ok" {
		t.Errorf("live socket answered %q", b)
	}
	c.Close()

	plain := filepath.Join(dir, "notes.txt")
	os.WriteFile(plain, []byte("keep"), 0o600)
	if _, err := ListenSocket(plain, "", nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v, want a refusal", err)
	}
	if b, _ := os.ReadFile(plain); string(b) != "keep" {
		t.Error("a regular file was replaced")
	}
	long := filepath.Join(dir, strings.Repeat("x", 120)+".sock")
	if _, err := ListenSocket(long, "", nil); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("path too long: %v", err)
	}
}

// TestSocketHandlerNoHostCheck: over the socket the API answers whatever the Host (no browser can
// reach a Unix socket); the TCP handler still refuses a DNS name.
func TestSocketHandlerNoHostCheck(t *testing.T) {
	srv := New(newFake(idleView()), Options{})
	path := filepath.Join(socketDir(t), "onepassd.sock")
	l, err := ListenSocket(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, l, srv.SocketHandler(), slog.New(slog.DiscardHandler), Limits{}, nil) }()
	defer func() { cancel(); <-done }()

	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}}
	for _, host := range []string{"localhost", "evil.example", "onepassd.sock"} {
		resp, err := hc.Get("http://" + host + "/api/state")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s over the socket: %s", host, resp.Status)
		}
	}
	r, _ := http.NewRequest("GET", "http://evil.example/api/state", nil)
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusMisdirectedRequest {
		t.Errorf("TCP handler, Host evil.example: %d, want 421", w.Code)
	}
}
