package main

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/ui/api"
)

// TestSocketEndToEnd: onepassd --sim --data DIR serves the local API on DIR/onepassd.sock (0660),
// onepassctl --data DIR reaches it there, a second daemon on the same socket is refused, a clean
// stop removes the socket, and a stale one left by a killed daemon is replaced.
func TestSocketEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	data := t.TempDir()
	sock := filepath.Join(data, api.SocketName)
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatalf("no socket in the data directory: %v\n%s", err, d.logs)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %s, want a socket 0660", fi.Mode())
	}
	ctlStatus := func(args ...string) {
		t.Helper()
		out, err := exec.Command(ctl, append(args, "status")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "lane 1: ") || !strings.Contains(string(out), "onepassd ") {
			t.Errorf("onepassctl %v status: %v\n%s", args, err, out)
		}
	}
	ctlStatus("--data", data)
	ctlStatus("--socket", sock)
	ctlStatus("--addr", d.url) // HTTP still works

	// A second daemon (its own data and port) asked to serve the same socket stops at once.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--sim", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--socket", sock).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "another onepassd answers on this socket") {
		t.Errorf("second daemon on %s: %v, want exit 1 naming the other daemon\n%s", sock, err, out)
	}
	ctlStatus("--data", data) // and the first one's socket still answers

	d.stop()
	if _, err := os.Lstat(sock); err == nil {
		t.Error("socket left behind after a clean stop")
	}

	// A killed daemon leaves its socket; the next start replaces it.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	d = startDaemon(t, bin, ctl, "--sim", "--data", data)
	ctlStatus("--data", data)
	d.stop()
}

// TestListenLoopbackOnly: a listen address the LAN could reach stops the daemon before it binds
// anything, naming [staff] listen as the way onto the LAN; loopback addresses start.
func TestListenLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "onepassd.toml")
	os.WriteFile(cfg, []byte("listen = \"0.0.0.0:8080\"\n"), 0o600)
	tests := []struct {
		name string
		args []string
	}{
		{"flag 0.0.0.0", []string{"--listen", "0.0.0.0:8080"}},
		{"flag ::", []string{"--listen", "[::]:8080"}},
		{"flag LAN address", []string{"--listen", "192.168.1.20:8080"}},
		{"flag host name", []string{"--listen", "kiosk3.hall.local:8080"}},
		{"config file", []string{"--config", cfg}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := run(append(tt.args, "--data", filepath.Join(dir, "data")), &out, &out)
		if code != 2 || !strings.Contains(out.String(), "refusing to start") || !strings.Contains(out.String(), "[staff] listen") {
			t.Errorf("%s: exit %d\n%s\nwant 2, refusing to start, naming [staff] listen", tt.name, code, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a refused start created the data directory")
	}
}

// TestSocketFallback: a socket the flags did not ask for (the default in /run, or the data
// directory's) that cannot be made leaves the daemon on HTTP with a warning; one given with
// --socket, or one another daemon answers on, stops the start.
func TestSocketFallback(t *testing.T) {
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	unreachable := filepath.Join(file, "run", "onepassd.sock") // under a regular file: never creatable, even for root

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	if l, err := listenSocket(unreachable, false, logger); err != nil || l != nil {
		t.Errorf("default socket: %v, %v; want none and no error", l, err)
	}
	if !strings.Contains(logs.String(), "HTTP only") || !strings.Contains(logs.String(), unreachable) {
		t.Errorf("no warning naming the socket: %s", logs.String())
	}
	if _, err := listenSocket(unreachable, true, logger); err == nil || !strings.Contains(err.Error(), unreachable) {
		t.Errorf("--socket: %v, want an error naming the path", err)
	}
	live := filepath.Join(dir, "live.sock")
	l, err := listenSocket(live, true, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := listenSocket(live, false, logger); err == nil || !strings.Contains(err.Error(), "another onepassd") {
		t.Errorf("default socket in use: %v, want a refusal", err)
	}

	tests := []struct {
		flag     string
		sim      bool
		want     string
		explicit bool
	}{
		{"/tmp/x.sock", true, "/tmp/x.sock", true},
		{"", true, "/var/lib/onepass/onepassd.sock", false},
		{"", false, api.DefaultSocket, false},
	}
	for _, tt := range tests {
		if p, e := socketPath(tt.flag, tt.sim, "/var/lib/onepass"); p != tt.want || e != tt.explicit {
			t.Errorf("socketPath(%q, %v) = %q %v, want %q %v", tt.flag, tt.sim, p, e, tt.want, tt.explicit)
		}
	}
}
