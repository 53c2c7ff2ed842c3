package client_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
)

// quiet is the logger of tests: warnings and errors only, so a failing test's log is readable.
func quiet(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// hubServer is a real hub serving real HTTPS with mutual TLS on a loopback port.
type hubServer struct {
	t    testing.TB
	dir  string
	hub  *hub.Hub
	addr string // host:port, kept across restarts
	url  string
	stop func()
	wrap func(http.Handler) http.Handler
	opts hub.Options
}

// newHub initializes a hub data directory and starts serving it.
func newHub(t testing.TB, opts hub.Options) *hubServer {
	t.Helper()
	dir := t.TempDir()
	if err := hub.Init(dir, hub.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if opts.Logger == nil {
		opts.Logger = quiet(t)
	}
	s := &hubServer{t: t, dir: dir, opts: opts}
	s.start()
	t.Cleanup(s.down)
	return s
}

func (s *hubServer) start() {
	s.t.Helper()
	h, err := hub.Open(context.Background(), s.dir, s.opts)
	if err != nil {
		s.t.Fatal(err)
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	for range 50 { // a restarted hub takes its old port back; the kernel may need a moment
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = l.Addr().String()
	s.url = "https://" + s.addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeWith(ctx, l, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if s.wrap != nil {
					s.wrap(next).ServeHTTP(w, r)
					return
				}
				next.ServeHTTP(w, r)
			})
		})
	}()
	s.hub = h
	s.stop = func() {
		cancel()
		<-done
		h.Close()
	}
}

// down stops the hub (its port stays free for start).
func (s *hubServer) down() {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

func (s *hubServer) root() []byte { return s.hub.RootSPKI() }

func (s *hubServer) token() string {
	s.t.Helper()
	tok, err := s.hub.NewToken(context.Background(), "hall-1", 2, time.Hour)
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// kiosk is a kiosk's data directory: database, identity and keys.
type kiosk struct {
	t    testing.TB
	dir  string
	db   *store.Store
	c    *client.Client
	keys []client.Keys
}

func newKiosk(t testing.TB) *kiosk {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(context.Background(), filepath.Join(dir, "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	k := &kiosk{t: t, dir: dir, db: db}
	t.Cleanup(func() {
		if k.c != nil {
			k.c.Close()
		}
		k.db.Close()
	})
	return k
}

// enroll enrolls the kiosk at the hub and makes its client.
func (k *kiosk) enroll(h *hubServer, tweak func(*client.Config)) {
	k.t.Helper()
	if _, err := client.Enroll(context.Background(), h.url, h.token(), filepath.Join(k.dir, "sync"), h.root()); err != nil {
		k.t.Fatal(err)
	}
	k.connect(h, tweak)
}

func (k *kiosk) connect(h *hubServer, tweak func(*client.Config)) {
	k.t.Helper()
	cfg := client.Config{
		Hub: h.url, Dir: filepath.Join(k.dir, "sync"), KeysDir: filepath.Join(k.dir, "keys"), Root: h.root(),
		Logger: quiet(k.t), PullEvery: 20 * time.Millisecond, PushEvery: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnKeys: func(ks client.Keys) { k.keys = append(k.keys, ks) },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if k.c != nil {
		k.c.Close()
	}
	c, err := client.New(cfg, k.db)
	if err != nil {
		k.t.Fatal(err)
	}
	k.c = c
}

// appendVisits writes n visits to the outbox and returns their IDs.
func (k *kiosk) appendVisits(n int) []string {
	k.t.Helper()
	ids := make([]string, n)
	vs := make([]*store.Visit, n)
	for i := range n {
		t := 36.5
		vs[i] = &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(i), SealedID: []byte("sealed"), MaskedName: "张*", TempC: &t, Outcome: "PASS", Reason: "ok"}
	}
	if err := k.db.AppendBatch(context.Background(), vs); err != nil {
		k.t.Fatal(err)
	}
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}

// pkey is a deterministic person key.
func pkey(i int) []byte {
	h := sha256.Sum256(fmt.Appendf(nil, "person %d", i))
	return h[:]
}

// visitIDs are all visits the kiosk ever appended.
func visitIDs(t testing.TB, db *store.Store) map[string]bool {
	t.Helper()
	vs, err := db.Recent(context.Background(), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, v := range vs {
		out[v.ID] = true
	}
	return out
}

// sameVisits is the end condition: the hub's visits and the kiosk's appended visits
// are equal sets (nothing lost, and the hub stores each ID once by construction of its key).
func sameVisits(t testing.TB, h *hub.Hub, db *store.Store) {
	t.Helper()
	got, err := h.VisitIDs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := visitIDs(t, db)
	var missing, extra []string
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("hub and kiosk visits differ: %d missing at the hub (e.g. %v), %d unknown to the kiosk (e.g. %v)",
			len(missing), first(missing), len(extra), first(extra))
	}
	if n, err := db.OutboxDepth(context.Background()); err != nil || n != 0 {
		t.Fatalf("outbox depth %d (%v) after everything was uploaded", n, err)
	}
}

func first(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

// sameReplica checks the kiosk's replica row by row against the hub's status list.
func sameReplica(t testing.TB, h *hub.Hub, db *store.Store) {
	t.Helper()
	rows, err := h.StatusRows(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n, err := db.StatusCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != len(rows) {
		t.Fatalf("replica has %d rows, hub %d", n, len(rows))
	}
	for _, r := range rows {
		got, ok, err := db.Status(context.Background(), r.Key)
		if err != nil || !ok {
			t.Fatalf("person %x missing from the replica (%v)", r.Key[:4], err)
		}
		if got.Status != r.Status || got.AsOf.UnixMilli() != r.AsOf || got.Reason != r.Reason {
			t.Fatalf("person %x: replica %+v, hub %+v", r.Key[:4], got, r)
		}
	}
}

// putStatus sets n persons' status at the hub (persons from, from+1, …).
func putStatus(t testing.TB, h *hub.Hub, from, n, status int) int64 {
	t.Helper()
	now := time.Now()
	es := make([]hub.StatusEntry, n)
	for i := range es {
		es[i] = hub.StatusEntry{PersonKey: pkey(from + i), Status: status, AsOf: now, Expires: now.Add(24 * time.Hour), Reason: "test"}
	}
	seq, err := h.PutStatus(context.Background(), es...)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func deleteStatus(t testing.TB, h *hub.Hub, from, n int) {
	t.Helper()
	es := make([]hub.StatusEntry, n)
	for i := range es {
		es[i] = hub.StatusEntry{PersonKey: pkey(from + i), Delete: true}
	}
	if _, err := h.PutStatus(context.Background(), es...); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond until it holds; the deadline only bounds a hang, it asserts no speed.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func logger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
