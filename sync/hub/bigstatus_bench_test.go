package hub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"onepass/sync/wire"
)

// BenchmarkStatus10M: a status list of 10,000,000 persons in PostgreSQL, and a kiosk 24 hours
// behind. The load is not timed (it only runs under -bench, never under plain go test):
//
//   - 10,000,000 rows COPYed in (random 32-byte person keys standing in for the HMACs, 96 % green,
//     3 % yellow, 1 % red, a 69-byte sealed ID each as identity.Sealer makes), the primary key and
//     the seq index built after the COPY, the partition digests computed from the rows;
//   - then a day's changes through the hub's own write path (PutStatus, in transactions of 1,000):
//     1 % of the list, 100,000 changes: 80,000 status updates, 10,000 removals, 10,000 new persons.
//
// Timed, each through the hub's HTTP handler (auth, query, JSON, signature; no network):
//
//   - delta-24h: every delta chunk from the cursor of a day ago until "more" is false;
//
//   - snapshot: the whole snapshot, chunk after chunk, as a fresh kiosk downloads it;
//
//   - head: one head (its cost does not grow with the list);
//
//   - prune-hourly: the hourly PruneBefore with no tombstone old enough (seqscan-ms: its query
//     without the index status_tombstones); prune-day: the day's 10,000 tombstones pruned.
//
// load-s (reported with delta-24h) is the untimed load: COPY, indexes and the day's changes.
//
//	go test -run '^$' -bench Status10M -benchtime 1x ./sync/hub/
func BenchmarkStatus10M(b *testing.B) {
	const persons, changes = 10_000_000, 100_000
	ctx := context.Background()
	url := pg.DB(b)
	dir := b.TempDir()
	if err := Init(dir, InitOptions{}); err != nil {
		b.Fatal(err)
	}
	h := newHubAt(b, dir, url)
	start := time.Now()
	sample, err := loadStatus(ctx, url, persons, changes)
	if err != nil {
		b.Fatal(err)
	}
	loaded := time.Since(start)
	cursor, err := h.statusSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	applyDay(b, h, sample)
	applied := time.Since(start)
	b.Logf("loaded %d persons in %s (COPY, indexes, digests); %d changes through PutStatus in %s",
		persons, loaded.Round(time.Second), changes, applied.Round(time.Second))

	serve := bigHandler(b, h)
	b.Run("delta-24h", func(b *testing.B) {
		var ops, chunks, bytes int
		var last wire.StatusDelta
		for b.Loop() {
			ops, chunks, bytes = 0, 0, 0
			from := cursor
			for {
				body := serve(fmt.Sprintf("%s?epoch=1&from=%d", wire.PathDelta, from))
				b.StopTimer()
				var d wire.StatusDelta
				payload(b, body, &d)
				ops, chunks, bytes = ops+len(d.Ops), chunks+1, bytes+len(body)
				b.StartTimer()
				if d.SnapshotRequired || !d.More {
					last = d
					break
				}
				from = d.To
			}
		}
		if last.SnapshotRequired || ops != changes || last.Count != persons {
			b.Fatalf("delta: snapshot required %v, %d ops (want %d), count %d", last.SnapshotRequired, ops, changes, last.Count)
		}
		b.ReportMetric(loaded.Seconds()+applied.Seconds(), "load-s")
		b.ReportMetric(float64(ops), "ops")
		b.ReportMetric(float64(chunks), "chunks")
		b.ReportMetric(float64(bytes)/float64(1<<20), "MiB")
		b.ReportMetric(load1(), "load1")
	})
	b.Run("snapshot", func(b *testing.B) {
		var rows, chunks int
		for b.Loop() {
			rows, chunks = 0, 0
			lo := ""
			for {
				body := serve(fmt.Sprintf("%s?epoch=1&lo=%s", wire.PathSnapshot, lo))
				b.StopTimer()
				var s wire.StatusSnapshot
				payload(b, body, &s)
				rows, chunks = rows+len(s.Rows), chunks+1
				b.StartTimer()
				if s.Next == nil {
					break
				}
				lo = hex.EncodeToString(s.Next)
			}
		}
		if rows != persons {
			b.Fatalf("snapshot of %d rows, want %d", rows, persons)
		}
		b.ReportMetric(float64(chunks), "chunks")
		b.ReportMetric(float64(rows)/(b.Elapsed().Seconds()/float64(b.N)), "rows/s")
		b.ReportMetric(load1(), "load1")
	})
	b.Run("head", func(b *testing.B) {
		for b.Loop() {
			serve(wire.PathHead + "?nonce=ab")
		}
	})
	// Last: prune-day removes the day's tombstones, after which a cursor of a day ago would get
	// a snapshot.
	b.Run("prune-hourly", func(b *testing.B) {
		// The hourly prune with nothing old enough to go, as on most hours; seqscan-ms is its
		// first statement with index scans disabled, what it cost before status_tombstones.
		for b.Loop() {
			if n, err := h.PruneBefore(ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 0 {
				b.Fatalf("prune: %d, %v", n, err)
			}
		}
		b.StopTimer()
		b.ReportMetric(seqScanMS(b, ctx, url), "seqscan-ms")
		b.ReportMetric(load1(), "load1")
	})
	b.Run("prune-day", func(b *testing.B) {
		var n int
		for b.Loop() {
			var err error
			if n, err = h.PruneBefore(ctx, time.Now().Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "tombstones")
		b.ReportMetric(load1(), "load1")
	})
}

// seqScanMS times the prune's max(seq) statement with index scans turned off for the session.
func seqScanMS(b *testing.B, ctx context.Context, url string) float64 {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off`); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	var maxSeq *int64
	if err := conn.QueryRow(ctx, rebind(true, pruneMaxSeq), time.Now().Add(-24*time.Hour).UnixMilli()).Scan(&maxSeq); err != nil {
		b.Fatal(err)
	}
	return float64(time.Since(t0)) / float64(time.Millisecond)
}

func newHubAt(b *testing.B, dir, url string) *Hub {
	b.Helper()
	h, err := Open(context.Background(), dir, Options{DB: url, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// statusSeq is the status stream's sequence.
func (h *Hub) statusSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := h.r.QueryRowContext(ctx, `SELECT seq FROM streams WHERE name = 'status'`).Scan(&seq)
	return seq, err
}

// bigHandler enrolls a device and returns a GET through the hub's handler as that device.
func bigHandler(b *testing.B, h *Hub) func(path string) []byte {
	tok, err := h.NewToken(context.Background(), "hall-1", 1, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resp, code, err := h.Enroll(context.Background(), wire.EnrollRequest{V: wire.Major, Token: tok, CSR: csr(b, k)})
	if err != nil {
		b.Fatalf("enroll: %d %v", code, err)
	}
	leaf, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		b.Fatal(err)
	}
	handler := h.Handler()
	return func(path string) []byte {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Bytes()
	}
}

// payload decodes a signed body's payload into out (the signature is sync/client's to check).
func payload(b *testing.B, body []byte, out any) {
	var env wire.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(env.Payload, out); err != nil {
		b.Fatal(err)
	}
}

// bigRow is a loaded person the day's changes update or remove.
type bigRow struct {
	key    []byte
	status int
}

// loadStatus fills epoch 1 of the hub's database with persons rows and their partition digests,
// and returns changes-many of them (every 100th, for the day's changes).
func loadStatus(ctx context.Context, url string, persons, changes int) ([]bigRow, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	// Indexes built after the COPY: far faster than maintained row by row.
	for _, q := range []string{
		`SET maintenance_work_mem = '512MB'`,
		`ALTER TABLE status DROP CONSTRAINT status_pkey`,
		`DROP INDEX status_seq`,
		`DROP INDEX status_live`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte{'o', 'n', 'e', 'p', 'a', 's', 's'}))
	var digests [wire.Partitions]wire.Digest
	var counts [wire.Partitions]int64
	var sample []bigRow
	now := time.Now().Add(-25 * time.Hour).UnixMilli() // the list as it was a day ago
	i := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if i == persons {
			return nil, nil
		}
		i++
		key := make([]byte, wire.PersonKeySize)
		sealed := make([]byte, 69)
		for j := 0; j < len(key); j += 8 {
			v := rng.Uint64()
			for n := range 8 {
				key[j+n] = byte(v >> (8 * n))
			}
		}
		for j := range sealed {
			sealed[j] = byte(rng.Uint32())
		}
		status, reason, expires := 1, "", int64(0)
		asOf := now - rng.Int64N(30*24*3600*1000)
		switch r := rng.IntN(100); {
		case r == 0:
			status, reason, expires = 3, "close contact", asOf+14*24*3600*1000
		case r < 4:
			status, reason, expires = 2, "travel", asOf+7*24*3600*1000
		}
		counts[wire.Partition(key)]++
		digests[wire.Partition(key)].Add(wire.RowHash(key, status, asOf, expires, reason))
		if i%(persons/changes) == 0 {
			sample = append(sample, bigRow{key: key, status: status})
		}
		return []any{int64(1), key, int64(i), int64(status), asOf, expires, reason, sealed, int64(0), asOf}, nil
	})
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"status"},
		[]string{"epoch", "person_key", "seq", "status", "as_of", "expires", "reason", "sealed_id", "deleted", "changed_at"}, src); err != nil {
		return nil, fmt.Errorf("copy status: %w", err)
	}
	for _, q := range []string{
		`ALTER TABLE status ADD PRIMARY KEY (epoch, person_key)`,
		`CREATE INDEX status_seq ON status (epoch, seq)`,
		`CREATE INDEX status_live ON status (epoch, person_key) INCLUDE (status, as_of, expires, reason) WHERE deleted = 0`,
		`VACUUM ANALYZE status`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	for p := range digests {
		if _, err := tx.Exec(ctx, `INSERT INTO partitions (epoch, partition, count, digest) VALUES (1, $1, $2, $3)`, p, counts[p], digests[p][:]); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE streams SET seq = $1 WHERE name = 'status'`, persons); err != nil {
		return nil, err
	}
	return sample, tx.Commit(ctx)
}

// applyDay puts a day's changes through the hub, as many as the sample holds: 80 % another status
// for a sampled person, 10 % a sampled person removed, 10 % a new person; interleaved, 1,000 per
// transaction.
func applyDay(b *testing.B, h *Hub, sample []bigRow) {
	b.Helper()
	at := time.Now().Add(-12 * time.Hour)
	var es []StatusEntry
	// Of every 10 changes 8 are updates, 1 a removal, 1 a new person: 9 of the sample are used.
	sample = sample[:len(sample)*9/10]
	removals := len(sample) / 9
	for i, r := range sample {
		if i >= len(sample)-removals {
			es = append(es, StatusEntry{PersonKey: r.key, Delete: true})
			key := make([]byte, wire.PersonKeySize)
			rand.Read(key)
			es = append(es, StatusEntry{PersonKey: key, Status: 1, AsOf: at})
			continue
		}
		st := r.status%3 + 1 // another colour
		e := StatusEntry{PersonKey: r.key, Status: st, AsOf: at}
		if st != 1 {
			e.Reason, e.Expires = "close contact", at.Add(14*24*time.Hour)
		}
		es = append(es, e)
	}
	mrand.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
	for len(es) > 0 {
		n := min(1000, len(es))
		if _, err := h.PutStatus(context.Background(), es[:n]...); err != nil {
			b.Fatal(err)
		}
		es = es[n:]
	}
}
