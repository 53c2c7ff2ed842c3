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
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"onepass/sync/wire"
)

// BenchmarkFleetPoll: 1,000 kiosks, each with its own enrolled device certificate, pull from two
// hub replicas over one PostgreSQL database through mutual TLS, the way sync/client does: GET the
// head, and when its status seq is past the kiosk's cursor the deltas (one chunk after another
// while "more"). A writer puts status changes through the replicas meanwhile (10 changes a
// second, alternating replicas: a busy day's 864,000 changes). Each kiosk keeps its connection
// alive (one http.Transport per kiosk, as the client keeps one per replica) and dials from its own
// loopback address, so the hub's per-address connection cap holds as it does in a hall.
//
//	go test -run '^$' -bench FleetPoll -benchtime 1x ./sync/hub/
//
// Sub-benchmarks:
//   - every=1m0s: the client's default pull interval (Config.PullEvery): each kiosk pulls once a
//     minute at its own phase, 1,000 kiosks ≈ 16.7 rounds/s. One iteration is one such minute.
//   - every=15s: four times that rate (67 rounds/s), as 4,000 kiosks would pull: the headroom.
//   - max: every kiosk pulls back to back for 10 s (closed loop): what the two replicas serve at
//     most, and the latency then.
//
// Reported: p50 and p99 per request (head and delta together), p99 of each kind, requests/s
// achieved, status changes committed per second meanwhile (10 when the writer keeps up), and the machine's 1-minute load average after the run (the hub, PostgreSQL and the
// kiosks share the 2 cores).
func BenchmarkFleetPoll(b *testing.B) {
	const kiosks = 1000
	f := newFleet(b, kiosks)
	for _, every := range []time.Duration{time.Minute, 15 * time.Second, 0} {
		name := "every=" + every.String()
		if every == 0 {
			name = "max"
		}
		b.Run(name, func(b *testing.B) { f.run(b, every) })
	}
}

// fleet is two replicas, the kiosks and the status writer.
type fleet struct {
	hubs   []*Hub
	urls   []string
	kiosks []*fleetKiosk
	writes int // seconds of changes written so far: each run's changes are new ones
}

// fleetKiosk is one simulated kiosk: its own certificate and connection, and its status cursor.
type fleetKiosk struct {
	http   *http.Client
	base   string // its preferred replica
	epoch  int64
	cursor int64
}

func newFleet(b *testing.B, n int) *fleet {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	f := &fleet{hubs: replicas(b, 2)}
	for _, a := range serveReplicas(b, f.hubs) {
		f.urls = append(f.urls, "https://"+a)
	}
	// A status list to pull from: 10,000 persons (the head's cost does not depend on the count;
	// BenchmarkStatus10M measures a large list).
	for i := 0; i < 10_000; i += 1000 {
		es := make([]StatusEntry, 1000)
		for j := range es {
			es[j] = StatusEntry{PersonKey: key(i + j), Status: 1 + (i+j)%3, AsOf: asOf}
		}
		if _, err := f.hubs[0].PutStatus(ctx, es...); err != nil {
			b.Fatal(err)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(f.hubs[0].keys.rootCert)
	start := time.Now()
	f.kiosks = make([]*fleetKiosk, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := atomic.Int64{}
	for range 4 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				k, err := enrollFleetKiosk(ctx, f.hubs[i%2], roots, i)
				if err != nil {
					errs <- fmt.Errorf("kiosk %d: %w", i, err)
					return
				}
				k.base = f.urls[i%2] // half the halls list one replica first, half the other
				f.kiosks[i] = k
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.Logf("%d kiosks enrolled in %s", n, time.Since(start).Round(time.Millisecond))
	b.Cleanup(func() {
		for _, k := range f.kiosks {
			k.http.CloseIdleConnections()
		}
	})
	// Every kiosk connects and catches up once: the measured rounds are the steady state.
	if _, err := f.each(ctx, 0, func(k *fleetKiosk) error { _, err := k.round(ctx, nil); return err }); err != nil {
		b.Fatal(err)
	}
	return f
}

// enrollFleetKiosk enrolls device i at h and returns a kiosk with its mutual-TLS client.
func enrollFleetKiosk(ctx context.Context, h *Hub, roots *x509.CertPool, i int) (*fleetKiosk, error) {
	tok, err := h.NewToken(ctx, fmt.Sprintf("hall-%d", i/4), 1, time.Hour)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	req, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, err
	}
	resp, code, err := h.Enroll(ctx, wire.EnrollRequest{V: wire.Major, Token: tok, CSR: req})
	if err != nil {
		return nil, fmt.Errorf("enroll: %d: %w", code, err)
	}
	cert := tls.Certificate{Certificate: append([][]byte{resp.Certificate}, resp.Chain...), PrivateKey: key}
	// Kiosks sit at distinct addresses; loopback answers all of 127/8.
	local := &net.TCPAddr{IP: net.IPv4(127, 1, byte(i/250), byte(i%250+1))}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext:         (&net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}).DialContext,
		IdleConnTimeout:     90 * time.Second, // as sync/client: longer than the pull interval
		MaxIdleConnsPerHost: 2,
		ForceAttemptHTTP2:   true,
	}
	return &fleetKiosk{http: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// sample is one request's latency.
type sample struct {
	delta bool
	d     time.Duration
}

// round is one pull: the head, then the delta chunks when the head is past the cursor. Each
// request's latency goes to out (nil: not recorded).
func (k *fleetKiosk) round(ctx context.Context, out func(sample)) (int, error) {
	nonce := make([]byte, 16)
	rand.Read(nonce)
	var hd wire.Head
	if err := k.get(ctx, wire.PathHead+"?nonce="+hex.EncodeToString(nonce), &hd, false, out); err != nil {
		return 0, err
	}
	reqs := 1
	if k.epoch != hd.Status.Epoch {
		// A fresh kiosk would download a snapshot; here it starts at the head.
		k.epoch, k.cursor = hd.Status.Epoch, hd.Status.Seq
		return reqs, nil
	}
	for k.cursor < hd.Status.Seq {
		var d wire.StatusDelta
		if err := k.get(ctx, fmt.Sprintf("%s?epoch=%d&from=%d", wire.PathDelta, k.epoch, k.cursor), &d, true, out); err != nil {
			return reqs, err
		}
		reqs++
		if d.SnapshotRequired || d.To <= k.cursor && d.More {
			return reqs, fmt.Errorf("delta from %d: snapshot required %v, to %d", k.cursor, d.SnapshotRequired, d.To)
		}
		k.cursor = d.To
		if !d.More {
			break
		}
	}
	return reqs, nil
}

// get fetches one signed body and decodes its payload. The signature is not checked: the
// benchmark measures the hub, and the kiosk's checks are sync/client's.
func (k *fleetKiosk) get(ctx context.Context, path string, out any, delta bool, rec func(sample)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set(wire.ProtocolHeader, fmt.Sprint(wire.Major))
	req.Header.Set(wire.HeaderOutboxDepth, "0")
	t0 := time.Now()
	resp, err := k.http.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body) // read to the end: the connection is reused
	resp.Body.Close()
	if rec != nil {
		rec(sample{delta: delta, d: time.Since(t0)})
	}
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	var env wire.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return json.Unmarshal(env.Payload, out)
}

// each runs fn for every kiosk, kiosk i starting at i/n of spread after now, and waits.
func (f *fleet) each(ctx context.Context, spread time.Duration, fn func(*fleetKiosk) error) (time.Duration, error) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(f.kiosks))
	for i, k := range f.kiosks {
		at := start.Add(spread * time.Duration(i) / time.Duration(len(f.kiosks)))
		wg.Go(func() {
			time.Sleep(time.Until(at))
			if err := fn(k); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// writeStatus puts 10 changes a second through the replicas in turn until ctx is done, counting
// the changes committed in done (by the status sequence, so a change that changed nothing would
// not count).
func (f *fleet) writeStatus(ctx context.Context, b *testing.B, done *atomic.Int64) {
	// The only writer meanwhile: the sequence PutStatus returns, less the last, is what it added.
	prev, err := f.hubs[0].statusSeq(ctx)
	if err != nil {
		b.Errorf("status writer: %v", err)
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for ; ; f.writes++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		i := f.writes + 1 // second 0 would repeat the setup's list: no change at all
		es := make([]StatusEntry, 10)
		for j := range es {
			n := (i*10 + j) % 20_000 // updates and new persons
			es[j] = StatusEntry{PersonKey: key(n), Status: 1 + (i+j)%3, AsOf: asOf.Add(time.Duration(i) * time.Second)}
		}
		seq, err := f.hubs[i%2].PutStatus(ctx, es...)
		if err != nil {
			if ctx.Err() == nil {
				b.Errorf("status writer: %v", err)
			}
			return
		}
		done.Add(seq - prev)
		prev = seq
	}
}

// run measures b.N pull intervals (every > 0) or b.N 10-second closed-loop windows (every 0).
func (f *fleet) run(b *testing.B, every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var all, heads, deltas []time.Duration
	rec := func(s sample) {
		mu.Lock()
		all = append(all, s.d)
		if s.delta {
			deltas = append(deltas, s.d)
		} else {
			heads = append(heads, s.d)
		}
		mu.Unlock()
	}
	var committed atomic.Int64
	writer := make(chan struct{})
	go func() { defer close(writer); f.writeStatus(ctx, b, &committed) }()
	var wall, window time.Duration
	var changes int64 // committed while kiosks pulled: reads must not starve the writer
	for b.Loop() {
		var took time.Duration
		var err error
		if every > 0 {
			c0 := committed.Load()
			took, err = f.each(ctx, every, func(k *fleetKiosk) error { _, err := k.round(ctx, rec); return err })
			changes, window = changes+committed.Load()-c0, window+took
		} else {
			stop := time.Now().Add(10 * time.Second)
			// Counted at the stop, not after the kiosks' last requests drained.
			c0, at := committed.Load(), make(chan int64, 1)
			time.AfterFunc(time.Until(stop), func() { at <- committed.Load() })
			took, err = f.each(ctx, 0, func(k *fleetKiosk) error {
				for time.Now().Before(stop) {
					if _, err := k.round(ctx, rec); err != nil {
						return err
					}
				}
				return nil
			})
			changes, window = changes+<-at-c0, window+10*time.Second
		}
		if err != nil {
			b.Fatal(err)
		}
		wall += took
	}
	cancel()
	<-writer
	b.ReportMetric(float64(changes)/window.Seconds(), "changes/s")
	b.ReportMetric(pct(all, 50), "p50-ms")
	b.ReportMetric(pct(all, 99), "p99-ms")
	b.ReportMetric(pct(heads, 99), "head-p99-ms")
	b.ReportMetric(pct(deltas, 99), "delta-p99-ms")
	b.ReportMetric(float64(len(all))/wall.Seconds(), "req/s")
	b.ReportMetric(float64(len(deltas))/float64(max(len(heads), 1)), "deltas/round")
	b.ReportMetric(load1(), "load1")
}

// pct is the p-th percentile of ds in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)]) / float64(time.Millisecond)
}

// load1 is the machine's 1-minute load average (-1 where /proc is missing).
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(strings.Fields(string(b))[0], &l); err != nil {
		return -1
	}
	return l
}
