package client_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"onepass/internal/pgtest"
	"onepass/sync/hub"
	"onepass/sync/wire"
)

// pg is the package's throwaway PostgreSQL cluster, started by the first test that needs it.
var pg pgtest.Shared

// newReplicas starts n hubs serving one PostgreSQL database, each with its own copy of the
// folder `init keys` made, as an operator deploys replicas.
func newReplicas(t *testing.T, n int) []*hubServer {
	t.Helper()
	src := t.TempDir()
	if err := hub.Init(src, hub.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	url := pg.DB(t)
	var out []*hubServer
	for range n {
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		s := &hubServer{t: t, dir: dir, opts: hub.Options{DB: url, Logger: quiet(t)}}
		s.start()
		t.Cleanup(s.down)
		out = append(out, s)
	}
	return out
}

// balancer is a TCP load balancer in front of replicas: it forwards new connections to the
// current target; switching ends the connections it holds, as a replica taken out would.
type balancer struct {
	l      net.Listener
	mu     sync.Mutex
	target string
	conns  []net.Conn
}

func newBalancer(t *testing.T, target string) *balancer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{l: l, target: target}
	t.Cleanup(func() { l.Close(); b.to("") })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			target := b.target
			b.mu.Unlock()
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			b.mu.Lock()
			b.conns = append(b.conns, c, up)
			b.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return b
}

func (b *balancer) url() string { return "https://" + b.l.Addr().String() }

func (b *balancer) to(target string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.target = target
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// TestKioskBehindReplicas: a kiosk behind a load balancer enrolls on one replica, pulls from
// one and then the other and sees one history, and a batch replica A stored but whose answer
// was lost is accepted by replica B and stored once.
func TestKioskBehindReplicas(t *testing.T) {
	rs := newReplicas(t, 2)
	a, b := rs[0], rs[1]
	lb := newBalancer(t, a.addr)
	front := &hubServer{t: t, hub: a.hub, url: lb.url()} // what the kiosk is configured with
	k := newKiosk(t)
	k.enroll(front, nil)

	putStatus(t, a.hub, 0, 500, 3)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, b.hub, k.db)

	putStatus(t, b.hub, 400, 300, 1) // written through the other replica
	deleteStatus(t, a.hub, 0, 50)
	lb.to(b.addr)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, a.hub, k.db)

	// Replica A stores the batch, then its answer is lost.
	a.wrap = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != wire.PathVisits {
				next.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(discard{}, r)
			panic(http.ErrAbortHandler) // the connection drops before the answer
		})
	}
	lb.to(a.addr)
	ids := k.appendVisits(40)
	if _, err := k.c.Push(bg); err == nil {
		t.Fatal("push succeeded though the answer was lost")
	}
	stored, err := a.hub.VisitIDs(bg)
	if err != nil || len(stored) != len(ids) {
		t.Fatalf("replica A stored %d of %d (%v)", len(stored), len(ids), err)
	}
	lb.to(b.addr)
	if _, err := k.c.Push(bg); err != nil {
		t.Fatalf("re-sent to B: %v", err)
	}
	sameVisits(t, b.hub, k.db)
	n := 0
	if err := b.hub.Visits(bg, time.Time{}, func(hub.VisitRecord) error { n++; return nil }); err != nil || n != len(ids) {
		t.Fatalf("%d visits stored (%v), want %d, each once", n, err, len(ids))
	}
}

// discard is a response nobody reads.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
