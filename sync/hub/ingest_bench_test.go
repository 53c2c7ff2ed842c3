package hub

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// BenchmarkIngestReplicas is issue 16's ingest figure: kiosks push batches of new visits over
// mutual TLS to two hub replicas serving one PostgreSQL database, and it reports the visits/s
// stored. Each pusher is an enrolled device with its own certificate and kept-alive connection,
// half of them on each replica, as a load balancer spreads a hall's kiosks; each push is what the
// kiosk's client sends (wire.Upload JSON of ingestBatch visits with UUIDv7 IDs) and its signed
// acknowledgement is checked as the kiosk checks it. Pushers, replicas, and PostgreSQL share the
// machine.
//
//	go test -run '^$' -bench IngestReplicas -benchtime 400x ./sync/hub
func BenchmarkIngestReplicas(b *testing.B) {
	for _, pushers := range []int{8, 16, 32} {
		b.Run(fmt.Sprintf("pushers=%d", pushers), func(b *testing.B) { benchIngestReplicas(b, pushers) })
	}
}

// ingestBatch is the visits per push: half the kiosk client's most (BatchSize), what a kiosk
// that was offline for a while sends batch after batch.
const ingestBatch = 500

func benchIngestReplicas(b *testing.B, pushers int) {
	hs := replicas(b, 2)
	addrs := serveReplicas(b, hs)
	type pusher struct {
		client   *http.Client
		url      string
		verifier *wire.Verifier
	}
	ps := make([]pusher, pushers)
	for i := range ps {
		tok, err := hs[0].NewToken(bg, "hall-1", 1, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		resp, code, err := hs[0].Enroll(bg, wire.EnrollRequest{V: wire.Major, Token: tok, CSR: csr(b, k)})
		if err != nil || code != http.StatusOK {
			b.Fatalf("enroll: %d %v", code, err)
		}
		v, err := wire.NewVerifier(hs[0].RootSPKI())
		if err != nil {
			b.Fatal(err)
		}
		// The hub's certificate is not what is measured: the kiosk pins it (sync/client); here the
		// device certificate is what matters, which the hub verifies on every connection.
		tr := &http.Transport{TLSClientConfig: &tls.Config{
			Certificates:       []tls.Certificate{{Certificate: [][]byte{resp.Certificate}, PrivateKey: k}},
			InsecureSkipVerify: true,
		}, MaxIdleConnsPerHost: 1}
		b.Cleanup(tr.CloseIdleConnections)
		ps[i] = pusher{client: &http.Client{Transport: tr, Timeout: time.Minute}, url: "https://" + addrs[i%2] + wire.PathVisits, verifier: v}
	}
	push := func(p pusher) error {
		recs := make([]wire.Record, ingestBatch)
		at := time.Now().Add(-time.Minute)
		for i := range recs {
			recs[i] = rec(uuid.Must(uuid.NewV7()).String(), func(r *wire.Record) { r.At = at.Add(time.Duration(i) * time.Millisecond) })
		}
		body, err := json.Marshal(wire.Upload{V: wire.Major, Records: recs})
		if err != nil {
			return err
		}
		req, err := http.NewRequest(http.MethodPost, p.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := p.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("push: %s: %s", resp.Status, out)
		}
		var ack wire.Ack
		if _, err := p.verifier.Open(out, wire.TypeAck, &ack); err != nil {
			return fmt.Errorf("acknowledgement: %w", err)
		}
		if len(ack.Accepted) != len(recs) {
			return fmt.Errorf("%d of %d accepted: %+v", len(ack.Accepted), len(recs), ack.Rejected)
		}
		return nil
	}
	// One push each first: the TLS handshakes and the replicas' statement caches are not the
	// figure.
	for _, p := range ps {
		if err := push(p); err != nil {
			b.Fatal(err)
		}
	}
	var next, failed atomic.Int64
	var mu sync.Mutex
	var firstErr error
	b.SetParallelism((pushers + 1) / 2) // GOMAXPROCS 2: two goroutines per unit
	self0, pg0 := processCPU(os.Getpid()), postgresCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		p := ps[int(next.Add(1)-1)%len(ps)]
		for pb.Next() {
			if err := push(p); err != nil {
				if failed.Add(1) == 1 {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		}
	})
	b.StopTimer()
	self, pgCPU := processCPU(os.Getpid())-self0, postgresCPU()-pg0
	if n := failed.Load(); n > 0 {
		mu.Lock()
		defer mu.Unlock()
		b.Fatalf("%d pushes failed; the first: %v", n, firstErr)
	}
	visits := float64(b.N * ingestBatch)
	b.ReportMetric(visits/b.Elapsed().Seconds(), "visits/s")
	// What the load of a shared machine does not change: the CPU each visit costs, in this
	// process (pushers and both replicas) and in PostgreSQL; two idle cores would store
	// 2 s / (their sum) visits a second.
	b.ReportMetric(self.Seconds()*1e6/visits, "go-cpu-µs/visit")
	b.ReportMetric(pgCPU.Seconds()*1e6/visits, "pg-cpu-µs/visit")
	b.ReportMetric(2/(self+pgCPU).Seconds()*visits, "visits/s-2-idle-cores")
	var stored int
	if err := hs[1].r.QueryRowContext(bg, `SELECT count(*) FROM visits`).Scan(&stored); err != nil {
		b.Fatal(err)
	}
	if want := (b.N + pushers) * ingestBatch; stored != want {
		b.Fatalf("%d visits stored, want %d", stored, want)
	}
}

// clockTick is Linux's USER_HZ, the unit of CPU times in /proc/PID/stat (100 on every
// architecture Go runs Linux on).
const clockTick = 10 * time.Millisecond

// processCPU is the user and system CPU time of process pid and of its children it waited for,
// from /proc (0 when it is gone).
func processCPU(pid int) time.Duration {
	_, f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	var t int64
	for _, s := range f[11:15] { // utime, stime, cutime, cstime
		n, _ := strconv.ParseInt(s, 10, 64)
		t += n
	}
	return time.Duration(t) * clockTick
}

// procStat returns the fields of /proc/PID/stat after the command name (state first), and the
// parent's pid.
func procStat(pid int) (ppid int, fields []string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, nil
	}
	i := bytes.LastIndexByte(b, ')') // the name may hold spaces and parentheses
	if i < 0 {
		return 0, nil
	}
	fields = strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0, nil
	}
	ppid, _ = strconv.Atoi(fields[1])
	return ppid, fields
}

// postgresCPU is the CPU time of the PostgreSQL cluster pgtest started as this process's child:
// the postmaster (with the backends that exited, which it waited for) and its live backends.
func postgresCPU() time.Duration {
	ents, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			parent[pid], _ = procStat(pid)
		}
	}
	var t time.Duration
	for pid, pp := range parent {
		if pp == os.Getpid() || parent[pp] == os.Getpid() { // the postmaster, or its child
			t += processCPU(pid)
		}
	}
	return t
}
