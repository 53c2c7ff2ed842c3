package client_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/sync/client"
	"onepass/sync/hub"
)

// replicaServer is one more listener of a running hub: hub replicas share one database, and two
// listeners over the same hub.Hub are the simplest such pair. host is the name kiosks use
// ("127.0.0.1" or "localhost", both in the test hub's certificate), so each replica's TLS check
// names its own host.
type replicaServer struct {
	url  string
	stop func()
	// fail, when not 0, is the status every request is answered with; lose makes the hub
	// handle the request and then answers 502 in its place (the answer lost on the way).
	fail     atomic.Int32
	lose     atomic.Bool
	requests atomic.Int32
}

func serveReplica(t *testing.T, h *hub.Hub, host string) *replicaServer {
	return serveReplicaTB(t, h, host)
}

func serveReplicaTB(t testing.TB, h *hub.Hub, host string) *replicaServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	r := &replicaServer{url: "https://" + net.JoinHostPort(host, port)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeWith(ctx, l, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				r.requests.Add(1)
				if code := r.fail.Load(); code != 0 {
					http.Error(w, "replica failing", int(code))
					return
				}
				if r.lose.Load() {
					next.ServeHTTP(httptest.NewRecorder(), req)
					http.Error(w, "answer lost", http.StatusBadGateway)
					return
				}
				next.ServeHTTP(w, req)
			})
		})
	}()
	stopped := false
	r.stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(r.stop)
	return r
}

// replicated is a hub with two replicas, a (preferred) and b, and a kiosk enrolled at b (an
// enrollment may name any replica) whose client lists both.
func replicated(t *testing.T, tweak func(*client.Config)) (h *hubServer, a, b *replicaServer, k *kiosk) {
	t.Helper()
	h = newHub(t, hub.Options{})
	putStatus(t, h.hub, 0, 50, 1)
	a, b = serveReplica(t, h.hub, "127.0.0.1"), serveReplica(t, h.hub, "localhost")
	k = newKiosk(t)
	if _, err := client.Enroll(bg, b.url, h.token(), filepath.Join(k.dir, "sync"), h.root()); err != nil {
		t.Fatal(err)
	}
	b.requests.Store(0) // the enrollment's
	k.connect(h, func(c *client.Config) {
		c.Hub, c.Hubs = "", []string{a.url, b.url}
		if tweak != nil {
			tweak(c)
		}
	})
	return h, a, b, k
}

func lastHub(t *testing.T, k *kiosk, want string) {
	t.Helper()
	if got := k.c.Status(bg).LastHub; got != want {
		t.Fatalf("last_hub %q, want %q", got, want)
	}
}

// TestReplicasPreferTheFirst: the kiosk enrolled at the second replica still talks to the first,
// and its status names both.
func TestReplicasPreferTheFirst(t *testing.T) {
	h, a, b, k := replicated(t, nil)
	if got := k.c.Status(bg).LastHub; got != "" {
		t.Fatalf("last_hub %q before any request", got)
	}
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	k.appendVisits(5)
	if _, err := k.c.Push(bg); err != nil {
		t.Fatal(err)
	}
	lastHub(t, k, a.url)
	if n := b.requests.Load(); n != 0 {
		t.Errorf("the second replica got %d requests while the first answered", n)
	}
	st := k.c.Status(bg)
	if st.Hub != a.url || len(st.Hubs) != 2 || st.Hubs[1] != b.url {
		t.Errorf("status hub %q, hubs %q", st.Hub, st.Hubs)
	}
	sameVisits(t, h.hub, k.db)
	sameReplica(t, h.hub, k.db)
}

// TestReplicaFailover: a request the first replica cannot serve (connection refused, 503) goes to
// the second at once, within the same Pull or Push, and last_hub says who served.
func TestReplicaFailover(t *testing.T) {
	for _, tt := range []struct {
		name    string
		breakIt func(a *replicaServer)
	}{
		{"connection refused", func(a *replicaServer) { a.stop() }},
		{"503", func(a *replicaServer) { a.fail.Store(http.StatusServiceUnavailable) }},
		{"500", func(a *replicaServer) { a.fail.Store(http.StatusInternalServerError) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, a, b, k := replicated(t, nil)
			if err := k.c.Pull(bg); err != nil {
				t.Fatal(err)
			}
			lastHub(t, k, a.url)
			tt.breakIt(a)
			putStatus(t, h.hub, 100, 20, 3)
			if err := k.c.Pull(bg); err != nil {
				t.Fatalf("pull with the first replica down: %v", err)
			}
			lastHub(t, k, b.url)
			sameReplica(t, h.hub, k.db)
			k.appendVisits(30)
			if n, err := k.c.Push(bg); err != nil || n != 30 {
				t.Fatalf("push with the first replica down: %d, %v", n, err)
			}
			lastHub(t, k, b.url)
			sameVisits(t, h.hub, k.db)
			if st := k.c.Status(bg); st.PullError != "" || st.PushError != "" {
				t.Errorf("errors reported although a replica served: %q %q", st.PullError, st.PushError)
			}
		})
	}
}

// TestReplicaClientErrorIsNotFailover: a 4xx is the same answer at every replica; the client
// does not shop around for another.
func TestReplicaClientErrorIsNotFailover(t *testing.T) {
	_, a, b, k := replicated(t, nil)
	a.fail.Store(http.StatusNotFound)
	if err := k.c.Pull(bg); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("pull answered 404: %v", err)
	}
	if n := b.requests.Load(); n != 0 {
		t.Errorf("a 404 sent %d requests to the second replica", n)
	}
}

// TestReplicasAllDown: when no replica answers the call fails (the loop's backoff takes over),
// naming the failure, and last_hub stays the one that last served.
func TestReplicasAllDown(t *testing.T) {
	_, a, b, k := replicated(t, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	a.fail.Store(http.StatusServiceUnavailable)
	b.stop()
	err := k.c.Pull(bg)
	if err == nil || !strings.Contains(err.Error(), "all 2 hub replicas failed") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("pull with every replica down: %v", err)
	}
	lastHub(t, k, a.url)
	if st := k.c.Status(bg); st.PullError == "" {
		t.Error("no pull error reported with every replica down")
	}
}

// TestReplicaLostAnswer: the first replica stored an upload but its answer was lost (a 502 from
// the proxy in front of it); the same batch goes to the second, which accepts the exact re-push,
// and every visit is at the hub once.
func TestReplicaLostAnswer(t *testing.T) {
	h, a, b, k := replicated(t, nil)
	ids := k.appendVisits(40)
	a.lose.Store(true)
	if n, err := k.c.Push(bg); err != nil || n != 40 {
		t.Fatalf("push: %d, %v", n, err)
	}
	lastHub(t, k, b.url)
	got, err := h.hub.VisitIDs(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if !got[id] {
			t.Fatalf("visit %s missing at the hub", id)
		}
	}
	sameVisits(t, h.hub, k.db)
}

// TestReplicaReturnsToTheFirst: after max_backoff on the second replica the client tries the
// first again; while the first still fails it costs one attempt per max_backoff, not one per
// request.
func TestReplicaReturnsToTheFirst(t *testing.T) {
	clock := clockwork.NewFakeClockAt(time.Now())
	const maxBackoff = 5 * time.Minute
	_, a, b, k := replicated(t, func(c *client.Config) { c.Clock, c.MaxBackoff = clock, maxBackoff })
	a.fail.Store(http.StatusServiceUnavailable)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	lastHub(t, k, b.url)

	// Still broken after max_backoff: one attempt at the first, then the second again.
	clock.Advance(maxBackoff)
	before := a.requests.Load()
	for range 3 {
		if err := k.c.Pull(bg); err != nil {
			t.Fatal(err)
		}
	}
	if n := a.requests.Load() - before; n != 1 {
		t.Errorf("the broken first replica got %d requests in three pulls after max_backoff, want 1", n)
	}
	lastHub(t, k, b.url)

	// Repaired: the client stays on the second until max_backoff has passed again.
	a.fail.Store(0)
	clock.Advance(maxBackoff - time.Second)
	before = a.requests.Load()
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	if n := a.requests.Load() - before; n != 0 {
		t.Errorf("the first replica got %d requests before max_backoff passed", n)
	}
	lastHub(t, k, b.url)
	clock.Advance(time.Second)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	lastHub(t, k, a.url)
	before = b.requests.Load()
	k.appendVisits(3)
	if _, err := k.c.Push(bg); err != nil {
		t.Fatal(err)
	}
	if n := b.requests.Load() - before; n != 0 {
		t.Errorf("the second replica got %d requests after the return to the first", n)
	}
	lastHub(t, k, a.url)
}

// TestReplicasConfig: hub and hubs together, and a replica listed twice, are refused.
func TestReplicasConfig(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	for _, tt := range []struct {
		hub  string
		hubs []string
		err  string
	}{
		{h.url, []string{h.url}, "both"},
		{"", []string{h.url, h.url + "/"}, "twice"},
		{"", []string{h.url, "http://127.0.0.1:1"}, "only https"},
	} {
		_, err := client.New(client.Config{Hub: tt.hub, Hubs: tt.hubs, Dir: filepath.Join(k.dir, "sync"), Root: h.root()}, k.db)
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("hub %q hubs %q: %v, want %q", tt.hub, tt.hubs, err, tt.err)
		}
	}
}

// TestReplicaFailoverInTheLoops: with the loops running (pull and push at once), the first
// replica going away loses nothing: the outbox drains through the second.
func TestReplicaFailoverInTheLoops(t *testing.T) {
	h, a, b, k := replicated(t, nil)
	runClient(t, k)
	k.appendVisits(100)
	eventually(t, "first batch uploaded", func() bool { n, _ := k.db.OutboxDepth(bg); return n == 0 })
	a.stop()
	for range 5 {
		k.appendVisits(100)
		k.c.Kick()
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "outbox drained through the second replica", func() bool {
		n, _ := k.db.OutboxDepth(bg)
		return n == 0 && k.c.Status(bg).LastHub == b.url
	})
	sameVisits(t, h.hub, k.db)
}

// BenchmarkPullFailover is the cost of one pull round (nothing changed) when the preferred
// replica is up, refuses connections, or answers 503, with every pull trying it first
// (max_backoff 1ns): the price of failover itself.
func BenchmarkPullFailover(b *testing.B) {
	for _, bb := range []struct {
		name  string
		apply func(a *replicaServer)
	}{
		{"preferred-up", func(*replicaServer) {}},
		{"preferred-refused", func(a *replicaServer) { a.stop() }},
		{"preferred-503", func(a *replicaServer) { a.fail.Store(http.StatusServiceUnavailable) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			h := newHub(b, hub.Options{})
			putStatus(b, h.hub, 0, 50, 1)
			a, r := serveReplicaTB(b, h.hub, "127.0.0.1"), serveReplicaTB(b, h.hub, "localhost")
			k := newKiosk(b)
			if _, err := client.Enroll(bg, a.url, h.token(), filepath.Join(k.dir, "sync"), h.root()); err != nil {
				b.Fatal(err)
			}
			k.connect(h, func(c *client.Config) { c.Hub, c.Hubs, c.MaxBackoff = "", []string{a.url, r.url}, time.Nanosecond })
			if err := k.c.Pull(bg); err != nil {
				b.Fatal(err)
			}
			bb.apply(a)
			b.ResetTimer()
			for range b.N {
				if err := k.c.Pull(bg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
