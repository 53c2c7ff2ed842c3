package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"onepass/internal/pgtest"
	"onepass/sync/hub"
	"onepass/sync/store"
	"onepass/sync/wire"
	"onepass/ui/api"
)

// hubProcess is one `onepass-hub serve` replica as a separate OS process.
type hubProcess struct {
	t      *testing.T
	bin    string
	args   []string // --data DIR --db URL
	listen string   // the address it was first bound to, reused on a restart
	url    string
	cmd    *exec.Cmd
	done   chan struct{}
	logs   *lockedBuffer
}

// lockedBuffer collects a replica's log, written by exec's copier while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startHubProcess runs `onepass-hub serve --listen listen` and waits for it to say where it serves.
func startHubProcess(t *testing.T, bin, name, listen string, args ...string) *hubProcess {
	t.Helper()
	p := &hubProcess{t: t, bin: bin, args: args, logs: &lockedBuffer{}}
	p.start(listen)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logs)
		}
	})
	return p
}

func (p *hubProcess) start(listen string) {
	p.t.Helper()
	cmd := exec.Command(p.bin, append(append([]string{}, p.args...), "serve", "--listen", listen)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(p.done)
	}()
	select {
	case l := <-line:
		url, ok := strings.CutPrefix(l, "onepass hub: ")
		if !ok {
			p.t.Fatalf("onepass-hub serve printed %q, want its URL\n%s", l, p.logs)
		}
		if p.url != "" && url != p.url {
			p.t.Fatalf("restarted replica serves at %s, want %s", url, p.url)
		}
		p.url = url
		p.listen = strings.TrimPrefix(url, "https://")
	case <-time.After(30 * time.Second):
		p.t.Fatalf("onepass-hub serve did not start\n%s", p.logs)
	}
}

// kill is `kill -9`: no shutdown, requests in flight are cut.
func (p *hubProcess) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// unreadRequest reports whether a connection accepted at addr (127.0.0.1:PORT) holds bytes its
// process has not read: a request in flight.
func unreadRequest(t *testing.T, addr string) bool {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue …, in hex; 01 is ESTABLISHED.
		f := strings.Fields(line)
		if len(f) < 5 || f[3] != "01" {
			continue
		}
		_, lport, _ := strings.Cut(f[1], ":")
		_, rxq, _ := strings.Cut(f[4], ":")
		p, _ := strconv.ParseInt(lport, 16, 32)
		rx, _ := strconv.ParseInt(rxq, 16, 64)
		if int(p) == want && rx > 0 {
			return true
		}
	}
	return false
}

// idNumber is a valid 18-digit resident ID number (GB 11643 check character) for person n.
func idNumber(n int) string {
	base := fmt.Sprintf("110101199003%02d%03d", 1+n/1000%28, n%1000)
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(base[i]-'0') * w
	}
	return base + string("10X98765432"[sum%11])
}

// enrollProbe asks a replica to enroll with an unknown token: 403 while its database answers,
// 503 while it does not. It needs no enrolled device, and refuses without changing anything.
func enrollProbe(t *testing.T, url string) int {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "probe"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(wire.EnrollRequest{V: wire.Major, Token: "no-such-token", CSR: csr})
	// The probe checks status codes only; the kiosk's own requests check the pinned root.
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := hc.Post(url+wire.PathEnroll, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("enrollment probe of %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHubReplicaFaults is issue 16's fault test with real processes: PostgreSQL, two
// `onepass-hub serve` replicas over it, and `onepassd --sim` with [sync] hubs producing visits.
// While uploads are in flight the preferred replica is killed with SIGKILL, PostgreSQL is
// restarted once (the other replica answers 503 meanwhile and serves again without a restart),
// the killed replica is started again, and once the outbox drained every visit the kiosk stored
// is at the hub exactly once and nothing is quarantined.
func TestHubReplicaFaults(t *testing.T) {
	// The builds and initdb take most of the time: side by side.
	var hubBin string
	var hubErr error
	var pg *pgtest.Cluster
	var pgErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		hubBin = filepath.Join(t.TempDir(), "onepass-hub")
		if out, err := exec.Command("go", "build", "-o", hubBin, "onepass/cmd/onepass-hub").CombinedOutput(); err != nil {
			hubErr = fmt.Errorf("go build onepass-hub: %w\n%s", err, out)
		}
	}()
	go func() {
		defer wg.Done()
		pg, pgErr = pgtest.Start()
	}()
	bin, ctl := binaries(t)
	wg.Wait()
	if pg != nil {
		t.Cleanup(func() { pg.Close() })
	}
	if hubErr != nil || pgErr != nil {
		t.Fatal(errors.Join(hubErr, pgErr))
	}
	ctx := context.Background()
	dbURL, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hubCmd := func(dir string, args ...string) string {
		t.Helper()
		out, err := exec.Command(hubBin, append([]string{"--data", dir, "--db", dbURL}, args...)...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("onepass-hub %v: %v\n%s%s", args, err, out, stderr)
		}
		return string(out)
	}

	// One init, its keys copied to the second replica's own data folder: all a replica needs.
	dirA, dirB := t.TempDir(), t.TempDir()
	hubCmd(dirA, "init", "keys", "--host", "127.0.0.1,localhost")
	if err := os.CopyFS(filepath.Join(dirB, "keys"), os.DirFS(filepath.Join(dirA, "keys"))); err != nil {
		t.Fatal(err)
	}
	root := strings.TrimSpace(hubCmd(dirA, "root"))
	a := startHubProcess(t, hubBin, "replica A", "127.0.0.1:0", "--data", dirA, "--db", dbURL)
	b := startHubProcess(t, hubBin, "replica B", "127.0.0.1:0", "--data", dirB, "--db", dbURL)
	tok := strings.TrimSpace(hubCmd(dirB, "token", "--hall", "hall-1"))

	// Visits are decided from the card alone (no temperature, no status), so they come quickly;
	// uploads every 100 ms keep one nearly always in flight; after a second away the kiosk tries
	// the preferred replica again.
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "onepassd.toml")
	text := fmt.Sprintf("[trust]\nroot = %q\n\n[policy]\ntemperature = \"off\"\nstatus = \"off\"\n\n"+
		"[sync]\nhubs = [%q, %q]\npush_interval = \"100ms\"\nmax_backoff = \"1s\"\n", root, a.url, b.url)
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, ctl, "--config", cfg, "--sim", "--data", data)
	d.onepassctl("enroll", "--hub", a.url, "--token", tok)

	syncStatus := func(args ...string) api.SyncStatus {
		t.Helper()
		var v api.SyncStatus
		out := d.onepassctl(append(append([]string{"sync"}, args...), "--json")...)
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Status == nil {
			t.Fatalf("onepassctl sync --json: %v\n%s", err, out)
		}
		return v
	}

	// The producer: one new person's card after another, each waited for until the kiosk showed
	// it (bounded: a card the kiosk missed is no visit, and only stored visits are compared).
	client, err := api.New(strings.TrimSuffix(d.url, "/"))
	if err != nil {
		t.Fatal(err)
	}
	var produced atomic.Int64
	stop := make(chan struct{})
	producerDone := make(chan error, 1)
	go func() {
		producerDone <- func() error {
			for n := 1; ; n++ {
				select {
				case <-stop:
					return nil
				default:
				}
				id := idNumber(n)
				if err := client.SimCard(ctx, api.CardRequest{ID: id, Name: "张三"}); err != nil {
					return err
				}
				masked := id[len(id)-4:]
				for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
					st, err := client.State(ctx)
					if err != nil {
						return err
					}
					if st.Outcome != "" && strings.HasSuffix(st.MaskedID, masked) {
						produced.Add(1)
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}()
	stopProducer := func() {
		t.Helper()
		select {
		case <-stop:
		default:
			close(stop)
		}
		if err := <-producerDone; err != nil {
			t.Fatalf("producing visits: %v", err)
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
			<-producerDone
		}
	}()
	// waitFor polls cond until it holds; the deadline is generous, only a hang fails.
	start := time.Now()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d visits produced)", what, produced.Load())
			}
		}
		t.Logf("%5.1fs %s (%d visits produced)", time.Since(start).Seconds(), what, produced.Load())
	}
	// While visits are made the test reads the sync state through the API: an onepassctl process
	// every poll would take the CPU the kiosk needs.
	status := func() *api.SyncClient {
		t.Helper()
		v, err := client.Sync(ctx)
		if err != nil || v.Status == nil {
			t.Fatalf("GET /api/sync: %+v, %v", v, err)
		}
		return v.Status
	}
	uploadsAt := func(hub string, over int64, visits int64) func() bool {
		return func() bool {
			s := status()
			return produced.Load() >= visits && s.Uploaded > over && s.LastHub == hub
		}
	}

	waitFor("uploads to the preferred replica", uploadsAt(a.url, 0, 40))
	// kill -9 with an upload in flight, for sure: the replica stopped (SIGSTOP), its kernel still
	// takes the kiosk's next request, which waits unread until the kill cuts it.
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor("a request in flight to the preferred replica", func() bool { return unreadRequest(t, a.listen) })
	a.kill()
	waitFor("uploads to the other replica", uploadsAt(b.url, status().Uploaded, 80))

	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// §2: a replica whose database is away says so with 503 (kiosks keep their outbox) …
	if code := enrollProbe(t, b.url); code != http.StatusServiceUnavailable {
		t.Errorf("replica with PostgreSQL stopped answered %d, want 503", code)
	}
	waitFor("visits while PostgreSQL is away", func() bool { return produced.Load() >= 110 && status().OutboxDepth > 0 })
	if s := status(); s.PushError == "" {
		t.Errorf("with PostgreSQL away (outbox %d): no push error shown", s.OutboxDepth)
	}
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	// … and serves again once it is back, without a restart.
	if code := enrollProbe(t, b.url); code != http.StatusForbidden {
		t.Errorf("replica after PostgreSQL's restart answered %d, want 403 (the unknown token refused): it did not recover", code)
	}
	waitFor("uploads after PostgreSQL's restart", uploadsAt(b.url, status().Uploaded, 150))

	a.start(a.listen)
	waitFor("the kiosk back on the preferred replica", uploadsAt(a.url, status().Uploaded, 200))
	stopProducer()

	var final api.SyncStatus
	waitFor("the outbox to drain", func() bool {
		final = syncStatus("now")
		return final.Status.OutboxDepth == 0
	})
	if final.Status.Quarantined != 0 || final.Status.PushError != "" {
		t.Errorf("after draining: %d quarantined, push error %q; want none", final.Status.Quarantined, final.Status.PushError)
	}
	d.stop()

	db, err := store.Open(ctx, filepath.Join(data, "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	kioskVisits, err := db.Recent(ctx, 1_000_000)
	if err == nil {
		var q int
		q, err = db.QuarantineCount(ctx)
		if q != 0 {
			t.Errorf("kiosk store: %d quarantined", q)
		}
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	atHub := map[string]int{}
	dec := json.NewDecoder(strings.NewReader(hubCmd(dirB, "visits", "export", "--format", "jsonl")))
	for dec.More() {
		var v hub.VisitRecord
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		atHub[v.ID]++
	}
	missing := 0
	for _, v := range kioskVisits {
		switch atHub[v.ID] {
		case 0:
			missing++
		case 1:
		default:
			t.Errorf("visit %s is at the hub %d times", v.ID, atHub[v.ID])
		}
		delete(atHub, v.ID)
	}
	if missing > 0 || len(atHub) > 0 {
		t.Errorf("%d of the kiosk's %d visits missing at the hub, %d at the hub the kiosk does not have", missing, len(kioskVisits), len(atHub))
	}
	if int64(len(kioskVisits)) < produced.Load() {
		t.Errorf("the kiosk stored %d visits, the producer saw %d decided", len(kioskVisits), produced.Load())
	}
	t.Logf("%d visits, each at the hub once", len(kioskVisits))
}
