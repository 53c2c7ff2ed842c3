package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// replicas opens n hubs on one new PostgreSQL database, sharing one data directory's keys as
// replicas share copies of the folder `init keys` made. clocks[i] is replica i's clock (nil:
// time.Now).
func replicas(t testing.TB, n int, clocks ...func() time.Time) []*Hub {
	t.Helper()
	url := pg.DB(t)
	dir := t.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		t.Fatal(err)
	}
	var hs []*Hub
	for i := range n {
		o := Options{DB: url, Logger: slog.New(slog.DiscardHandler)}
		if i < len(clocks) {
			o.Now = clocks[i]
		}
		h, err := Open(bg, dir, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		hs = append(hs, h)
	}
	return hs
}

// serveReplicas serves each hub over TLS on a loopback port until the test ends, and returns
// their addresses (host:port) in order.
func serveReplicas(tb testing.TB, hs []*Hub) []string {
	tb.Helper()
	var addrs []string
	for _, h := range hs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() { done <- h.Serve(ctx, l) }()
		tb.Cleanup(func() { cancel(); <-done }) // before replicas closes the hub
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// TestReplicaLostAnswer: a batch stored by replica A whose answer is lost, re-sent to replica B,
// is accepted and stored once, and its received_at is when A first stored it.
func TestReplicaLostAnswer(t *testing.T) {
	tA := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tB := tA.Add(10 * time.Minute)
	hs := replicas(t, 2, func() time.Time { return tA }, func() time.Time { return tB })
	a, b := hs[0], hs[1]
	var batch []wire.Record
	for range 5 {
		batch = append(batch, rec(uuid.NewString(), func(r *wire.Record) { r.At = tA.Add(-time.Minute) }))
	}
	if _, err := a.Ingest(bg, "d-1", batch); err != nil { // the answer never reaches the kiosk
		t.Fatal(err)
	}
	ack, err := b.Ingest(bg, "d-1", batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Accepted) != len(batch) || len(ack.Rejected) != 0 {
		t.Fatalf("re-sent to B: %+v", ack)
	}
	for _, h := range hs {
		var got []VisitRecord
		if err := h.Visits(bg, time.Time{}, func(v VisitRecord) error { got = append(got, v); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(batch) {
			t.Fatalf("%d visits stored, want %d", len(got), len(batch))
		}
		for _, v := range got {
			if !v.ReceivedAt.Equal(tA) {
				t.Errorf("visit %s received_at %s, want A's first store %s", v.ID, v.ReceivedAt, tA)
			}
		}
	}
}

// TestReplicaConcurrentIngest: one batch pushed to two replicas at once is stored once and
// accepted by both.
func TestReplicaConcurrentIngest(t *testing.T) {
	hs := replicas(t, 2)
	var batch []wire.Record
	for range 50 {
		batch = append(batch, rec(uuid.NewString(), nil))
	}
	acks := make([]wire.Ack, len(hs))
	errs := make([]error, len(hs))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() { acks[i], errs[i] = h.Ingest(bg, "d-1", batch) })
	}
	wg.Wait()
	for i := range hs {
		if errs[i] != nil || len(acks[i].Accepted) != len(batch) {
			t.Fatalf("replica %d: %v, %d of %d accepted: %+v", i, errs[i], len(acks[i].Accepted), len(batch), acks[i].Rejected)
		}
	}
	ids, err := hs[1].VisitIDs(bg)
	if err != nil || len(ids) != len(batch) {
		t.Fatalf("%d visits stored (%v), want %d", len(ids), err, len(batch))
	}
}

// TestReplicaOneHistory: status changes written through two replicas at once get distinct,
// gapless sequence numbers, and a kiosk that pulls part of the deltas from one replica and the
// rest from the other ends with the rows and digests both serve.
func TestReplicaOneHistory(t *testing.T) {
	hs := replicas(t, 2)
	a, b := hs[0], hs[1]
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		h := hs[w%2]
		wg.Go(func() {
			for i := range each {
				if _, err := h.PutStatus(bg, StatusEntry{PersonKey: key(w*1000 + i), Status: 1 + i%3, AsOf: asOf}); err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	replica := map[string]wire.StatusOp{}
	var cursor int64
	var last wire.StatusDelta
	for i, h := range []*Hub{a, b, a, b, a, b, a, b} { // alternate replicas, as a load balancer may
		d, err := h.delta(bg, 1, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if d.SnapshotRequired {
			t.Fatalf("pull %d: snapshot required at cursor %d", i, cursor)
		}
		for _, op := range d.Ops {
			if op.Del {
				delete(replica, string(op.Key))
			} else {
				replica[string(op.Key)] = op
			}
		}
		cursor, last = d.To, d
		if !d.More {
			break
		}
	}
	if cursor != writers*each {
		t.Fatalf("cursor %d after pulling everything, want %d (one sequence number per change)", cursor, writers*each)
	}
	var rows []wire.StatusOp
	for _, op := range replica {
		rows = append(rows, op)
	}
	if len(rows) != writers*each || string(digestsOf(rows)) != string(last.PartitionDigests) || last.Count != int64(len(rows)) {
		t.Fatalf("replica holds %d rows; digests match: %v; count %d", len(rows), string(digestsOf(rows)) == string(last.PartitionDigests), last.Count)
	}
	for _, h := range hs {
		hd, err := h.delta(bg, 1, cursor)
		if err != nil || hd.To != cursor || string(hd.PartitionDigests) != string(last.PartitionDigests) {
			t.Fatalf("the replicas disagree about the head: %+v %v", hd, err)
		}
	}
}

// TestReplicaTokenUsedOnce: one enrollment token redeemed on two replicas at once enrolls one
// device; the other is refused.
func TestReplicaTokenUsedOnce(t *testing.T) {
	hs := replicas(t, 2)
	for range 5 {
		tok, err := hs[0].NewToken(bg, "hall-1", 1, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]int, len(hs))
		errs := make([]error, len(hs))
		var wg sync.WaitGroup
		for i, h := range hs {
			k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			req := wire.EnrollRequest{V: 1, Token: tok, CSR: csr(t, k)}
			wg.Go(func() { _, codes[i], errs[i] = h.Enroll(bg, req) })
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != http.StatusOK || codes[1] != http.StatusForbidden {
			t.Fatalf("codes %v, errors %v: want one enrollment and one refusal", codes, errs)
		}
	}
	devs, err := hs[1].Devices(bg)
	if err != nil || len(devs) != 5 {
		t.Fatalf("%d devices (%v), want 5", len(devs), err)
	}
}

// TestReplicaSurvivesDatabaseRestart: while PostgreSQL is away a replica answers 503, and once
// it is back the same replica serves again, without being restarted.
func TestReplicaSurvivesDatabaseRestart(t *testing.T) {
	h := replicas(t, 1)[0]
	leaf := enrollLeaf(t, h)
	handler := h.Handler()
	get := func() (int, string) {
		req := httptest.NewRequest(http.MethodGet, wire.PathHead, nil)
		req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("before: %d %s", code, body)
	}
	c := pg.Cluster(t)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Start() }) // the other tests need it whatever happens here
	for range 3 {
		if code, body := get(); code != http.StatusServiceUnavailable {
			t.Fatalf("database away: %d %s, want 503", code, body)
		}
	}
	if _, err := h.PutStatus(bg, StatusEntry{PersonKey: key(1), Status: 1, AsOf: asOf}); err == nil {
		t.Fatal("a write succeeded with the database away")
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	// Connections the restart ended are dropped as they are found dead: the first request after
	// the restart is served.
	if code, body := get(); code != http.StatusOK {
		t.Fatalf("database back: %d %s", code, body)
	}
	if _, err := h.PutStatus(bg, StatusEntry{PersonKey: key(1), Status: 1, AsOf: asOf}); err != nil {
		t.Fatalf("write after the restart: %v", err)
	}
}

// enrollLeaf enrolls a device and returns its certificate.
func enrollLeaf(t *testing.T, h *Hub) *x509.Certificate {
	t.Helper()
	tok, err := h.NewToken(bg, "hall-1", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resp, code, err := h.Enroll(bg, wire.EnrollRequest{V: 1, Token: tok, CSR: csr(t, k)})
	if err != nil || code != http.StatusOK {
		t.Fatalf("enroll: %d %v", code, err)
	}
	leaf, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}
