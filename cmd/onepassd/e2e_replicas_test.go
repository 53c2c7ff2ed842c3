package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"onepass/sync/hub"
	"onepass/ui/api"
)

// hubReplica is one listener of a shared hub: replicas of `onepass-hub serve` share one database,
// and two listeners over one hub.Hub behave the same way. failing answers 503 to everything.
type hubReplica struct {
	url     string
	failing atomic.Bool
	stop    func()
}

func serveHubReplica(t *testing.T, h *hub.Hub, host string) *hubReplica {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := &hubReplica{url: "https://" + net.JoinHostPort(host, port)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeWith(ctx, l, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if r.failing.Load() {
					http.Error(w, "replica failing", http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, req)
			})
		})
	}()
	var once atomic.Bool
	r.stop = func() {
		if once.CompareAndSwap(false, true) {
			cancel()
			<-done
		}
	}
	t.Cleanup(r.stop)
	return r
}

// TestHubReplicasEndToEnd is issue 16's failover story with the real binaries: --sim with
// [sync] hubs runs no embedded hub; `onepassctl enroll --hub` names the second replica, yet the
// kiosk talks to the first (preferred); with the first answering 503 and then gone, the second
// serves, and `onepassctl sync` (text and --json) and GET /api/sync name it as last_hub.
func TestHubReplicasEndToEnd(t *testing.T) {
	bin, ctl := binaries(t)
	hubDir := t.TempDir()
	if err := hub.Init(hubDir, hub.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	h, err := hub.Open(context.Background(), hubDir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	a, b := serveHubReplica(t, h, "127.0.0.1"), serveHubReplica(t, h, "localhost")

	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "onepassd.toml")
	text := fmt.Sprintf("[trust]\nroot = %q\n\n[sync]\nhubs = [%q, %q]\nmax_backoff = \"1h\"\n",
		base64.StdEncoding.EncodeToString(h.RootSPKI()), a.url, b.url)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, ctl, "--config", cfg, "--sim", "--data", data)

	syncJSON := func(args ...string) api.SyncStatus {
		t.Helper()
		var v api.SyncStatus
		out := d.onepassctl(append(args, "--json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("onepassctl %v: %v\n%s", args, err, out)
		}
		return v
	}
	if v := syncJSON("sync"); v.Enrolled || v.EmbeddedHub != "" {
		t.Fatalf("--sim with [sync] hubs: enrolled %v, embedded hub %q; want no embedded hub", v.Enrolled, v.EmbeddedHub)
	}

	tok, err := h.NewToken(context.Background(), "hall-1", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	d.onepassctl("enroll", "--hub", b.url, "--token", tok)
	v := syncJSON("sync", "now")
	if v.Status == nil || v.Status.LastHub != a.url || v.Status.Hub != a.url || len(v.Status.Hubs) != 2 {
		t.Fatalf("after enrolling at the second replica: %+v; want last_hub %s (the preferred)", v.Status, a.url)
	}

	a.failing.Store(true)
	if v := syncJSON("sync", "now"); v.Status.LastHub != b.url || v.Status.PullError != "" || v.Status.PushError != "" {
		t.Fatalf("first replica answering 503: last_hub %q, pull error %q, push error %q; want %s and no error",
			v.Status.LastHub, v.Status.PullError, v.Status.PushError, b.url)
	}
	a.failing.Store(false)
	a.stop()
	d.onepassctl("sync", "now")

	resp, err := http.Get(d.url + "api/sync")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw struct {
		Status map[string]any `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if got := raw.Status["last_hub"]; got != b.url {
		t.Errorf("GET /api/sync last_hub %v, want %s", got, b.url)
	}
	if out := d.onepassctl("sync"); !strings.Contains(out, "last hub     "+b.url+"\n") {
		t.Errorf("onepassctl sync does not show the last hub %s:\n%s", b.url, out)
	}
	d.stop()
}
