package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"onepass/ui/api"
)

// TestTarget: where onepassctl reaches the daemon, first match wins: --addr, --socket, --data,
// $ONEPASS_ADDR, the packaged socket when it is there, then HTTP as before sockets.
func TestTarget(t *testing.T) {
	there := func(string) bool { return true }
	absent := func(string) bool { return false }
	tests := []struct {
		name                    string
		addr, socket, data, env string
		exists                  func(string) bool
		want                    string
	}{
		{"--addr wins", "http://127.0.0.1:9000", "/s.sock", "/d", "http://e", there, "http://127.0.0.1:9000"},
		{"--socket", "", "/tmp/x.sock", "/d", "http://e", there, "unix:/tmp/x.sock"},
		{"--data", "", "", "/srv/kiosk", "http://e", there, "unix:/srv/kiosk/onepassd.sock"},
		{"$ONEPASS_ADDR", "", "", "", "http://127.0.0.1:7000", there, "http://127.0.0.1:7000"},
		{"packaged socket", "", "", "", "", there, "unix:" + api.DefaultSocket},
		{"no socket: HTTP default", "", "", "", "", absent, api.DefaultAddr},
	}
	for _, tt := range tests {
		if got := target(tt.addr, tt.socket, tt.data, tt.env, tt.exists); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestSocketFlags: --socket and --data reach a daemon on a Unix socket; an error names the
// socket tried.
func TestSocketFlags(t *testing.T) {
	dir, err := os.MkdirTemp("", "ctl") // short: sun_path holds 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, api.SocketName)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/status" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"version":"9.9.9","uptime_s":1,"health":"ok","lane":"1","state":"idle","parts":{}}`))
	})}
	go srv.Serve(l)
	defer srv.Shutdown(context.Background())

	for _, args := range [][]string{{"--socket", path}, {"--data", dir}, {"--addr", "unix:" + path}} {
		var out bytes.Buffer
		if code := run(append(args, "status"), &out, &out); code != 0 || !strings.Contains(out.String(), "onepassd 9.9.9") {
			t.Errorf("%v status: exit %d\n%s", args, code, out.String())
		}
	}
	missing := filepath.Join(dir, "gone.sock")
	var out bytes.Buffer
	if code := run([]string{"--socket", missing, "status"}, &out, &out); code != 1 || !strings.Contains(out.String(), "on socket "+missing) {
		t.Errorf("absent socket: exit %d %q, want 1 naming %s", code, out.String(), missing)
	}
}

// TestDataBeforeLocalCommand: the global --data picks the daemon's socket; before a command that
// runs without the daemon it would be silently ignored, so it is refused with where to put it.
func TestDataBeforeLocalCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--data", "/srv/kiosk", "sync", "requeue"}, &out, &out); code != 2 || !strings.Contains(out.String(), "put --data after the command") {
		t.Errorf("exit %d\n%s", code, out.String())
	}
}
