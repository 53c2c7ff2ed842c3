package client_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/internal/sqlitedb"
	"onepass/sync/store"
	"onepass/sync/wire"
)

// runClient runs the kiosk's sync loops until the test ends.
func runClient(t *testing.T, k *kiosk) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c := k.c
	go func() { c.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// drain pulls and pushes until both succeed and the outbox is empty.
func drain(t *testing.T, k *kiosk) {
	t.Helper()
	eventually(t, "outbox drained and replica fresh", func() bool {
		if err := k.c.SyncNow(bg); err != nil {
			return false
		}
		n, err := k.db.OutboxDepth(bg)
		return err == nil && n == 0
	})
}

// TestHubDownThenBack: the hub is unreachable for the whole first part; visits pile up, nothing
// is lost, health says so; when it comes back everything goes up once.
func TestHubDownThenBack(t *testing.T) {
	h := newHub(t, hub.Options{})
	putStatus(t, h.hub, 0, 100, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	h.down()
	stop := runClient(t, k)
	for range 10 {
		k.appendVisits(200)
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "health reports the failing upload", func() bool {
		hl := k.c.Health()
		return hl.State == client.Degraded && strings.Contains(hl.Reason, "upload failing")
	})
	if n, _ := k.db.OutboxDepth(bg); n != 2000 {
		t.Fatalf("outbox %d while the hub is down, want 2000", n)
	}
	stop()
	h.start() // same port, same data
	putStatus(t, h.hub, 50, 100, 1)
	runClient(t, k)
	eventually(t, "outbox drained", func() bool { n, _ := k.db.OutboxDepth(bg); return n == 0 })
	drain(t, k)
	sameVisits(t, h.hub, k.db)
	sameReplica(t, h.hub, k.db)
	if hl := k.c.Health(); hl.State != client.OK {
		t.Errorf("health after recovery: %v", hl)
	}
}

// TestHubKilledMidIngest: the hub process is SIGKILLed again and again while the kiosk uploads;
// each restart loses nothing it acknowledged, and nothing arrives twice.
func TestHubKilledMidIngest(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	if err := hub.Init(dir, hub.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	admin, err := hub.Open(bg, dir, hub.Options{Logger: quiet(t)}) // the admin side, as onepass-hub's subcommands
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	addr := freeAddr(t)
	start := func() *child {
		c := startChild(t, hubChildEnv+"="+dir+"|"+addr)
		c.waitLine(t, "ready")
		return c
	}
	hc := start()
	url := "https://" + addr
	k := newKiosk(t)
	if _, err := client.Enroll(bg, url, mustToken(t, admin), filepath.Join(k.dir, "sync"), admin.RootSPKI()); err != nil {
		t.Fatal(err)
	}
	k.connect(&hubServer{url: url, hub: admin}, nil)
	runClient(t, k)
	midIngest := 0
	for round := range 8 {
		k.appendVisits(3000)
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		hc.kill(t)
		if d := depth(k.db); d > 0 {
			midIngest++
			t.Logf("round %d: hub killed with %d visits still queued", round, d)
		}
		hc = start()
	}
	t.Logf("%d of 8 kills hit the hub while visits were still going up", midIngest)
	eventually(t, "outbox drained", func() bool { return depth(k.db) == 0 })
	hc.kill(t)
	sameVisits(t, admin, k.db)
}

func mustToken(t testing.TB, h *hub.Hub) string {
	tok, err := h.NewToken(bg, "hall-1", 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func depth(db *store.Store) int {
	n, _ := db.OutboxDepth(bg)
	return n
}

// TestKioskKilledMidPullAndPush SIGKILLs the kiosk at random points while it downloads a large
// status snapshot and deltas and uploads visits, restarting it each time. In the end the
// replica equals the hub's status list and the hub holds exactly the visits the kiosk appended.
func TestKioskKilledMidPullAndPush(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	h := newHub(t, hub.Options{ChunkBytes: 16 << 10}) // many small chunks: many points to die at
	putStatus(t, h.hub, 0, 5000, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	k.c.Close()
	arg := kioskChildEnv + "=" + k.dir + "|" + h.url + "|" + base64.StdEncoding.EncodeToString(h.root())
	reported := 0
	const rounds = 12
	for round := range rounds {
		// Work for the next life: changes, removals, additions.
		putStatus(t, h.hub, rand.IntN(5000), 1500, 1+rand.IntN(3))
		deleteStatus(t, h.hub, rand.IntN(5000), 300)
		putStatus(t, h.hub, 5000+round*500, 500, 2)
		c := startChild(t, arg)
		time.Sleep(time.Duration(50+rand.IntN(500)) * time.Millisecond)
		ids := c.kill(t)
		reported += len(ids)
		// Every visit the child reported as appended must still be there.
		have := visitIDs(t, k.db)
		for _, id := range ids {
			if !have[id] {
				t.Fatalf("round %d: visit %s reported appended, gone after SIGKILL", round, id)
			}
		}
		st, _, _ := k.db.Meta(bg, "sync.status")
		t.Logf("round %d: killed after %d visits; outbox %d; cursor %.80s", round, len(ids), depth(k.db), st)
	}
	k.connect(h, nil)
	drain(t, k)
	if err := k.db.IntegrityCheck(bg); err != nil {
		t.Fatal(err)
	}
	sameReplica(t, h.hub, k.db)
	sameVisits(t, h.hub, k.db)
	t.Logf("%d visits appended by killed kiosks, all uploaded once", reported)
}

// faults sits between TLS and the hub's handler, records every answer and changes answers on
// demand.
type faults struct {
	mu       sync.Mutex
	mode     string          // "", "badsig", "truncate", "replay", "withhold"
	paths    map[string]bool // which paths the mode applies to
	record   map[string][][]byte
	replayed map[string][]byte
}

func newFaults() *faults {
	return &faults{paths: map[string]bool{}, record: map[string][][]byte{}, replayed: map[string][]byte{}}
}

func (f *faults) set(mode string, paths ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.paths = mode, map[string]bool{}
	for _, p := range paths {
		f.paths[p] = true
	}
}

// replay serves body instead of the hub's answers at path.
func (f *faults) replay(path string, body []byte) {
	f.mu.Lock()
	f.replayed[path] = body
	f.mu.Unlock()
	f.set("replay", path)
}

// last is the hub's last answer at path.
func (f *faults) last(path string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.record[path]
	if len(r) == 0 {
		return nil
	}
	return r[len(r)-1]
}

func (f *faults) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		f.mu.Lock()
		mode, on := f.mode, f.paths[r.URL.Path] && rec.Code == http.StatusOK
		f.record[r.URL.Path] = append(f.record[r.URL.Path], bytes.Clone(body))
		replayed := f.replayed[r.URL.Path]
		f.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		code := rec.Code
		if on {
			switch mode {
			case "badsig":
				var env wire.Envelope
				if err := json.Unmarshal(body, &env); err == nil {
					env.Signature[5] ^= 0x40
					body, _ = json.Marshal(env)
				}
			case "truncate":
				// The header promises the whole body; the connection dies half-way.
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.WriteHeader(code)
				w.Write(body[:len(body)/2])
				panic(http.ErrAbortHandler)
			case "replay":
				body = replayed
			case "withhold":
				code, body = http.StatusBadGateway, []byte(`{"v":1,"error":"withheld by the test"}`)
			case "ratelimit":
				// A proxy in front of the hub, not the hub: plain text, no signature.
				code, body = http.StatusTooManyRequests, []byte("slow down")
			case "notfound":
				code, body = http.StatusNotFound, []byte("404 page not found")
			}
		}
		w.WriteHeader(code)
		w.Write(body)
	})
}

// TestBadSignature: a body whose signature does not verify is refused and changes nothing; the
// kiosk says why; once the hub answers properly again all is caught up.
func TestBadSignature(t *testing.T) {
	h := newHub(t, hub.Options{})
	f := newFaults()
	h.wrap = f.wrap
	putStatus(t, h.hub, 0, 200, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	cursor, _, _ := k.db.Meta(bg, "sync.status")
	fresh, _, _ := k.db.Meta(bg, store.MetaReplicaIssuedAt)

	putStatus(t, h.hub, 100, 200, 1)
	k.appendVisits(300)
	for _, path := range []string{wire.PathHead, wire.PathDelta} {
		f.set("badsig", path)
		err := k.c.Pull(bg)
		if err == nil || !strings.Contains(err.Error(), "bad signature") {
			t.Fatalf("%s with a bad signature: pull error %v", path, err)
		}
		if c2, _, _ := k.db.Meta(bg, "sync.status"); !bytes.Equal(c2, cursor) {
			t.Fatalf("%s: cursor moved on a refused batch: %s → %s", path, cursor, c2)
		}
		if f2, _, _ := k.db.Meta(bg, store.MetaReplicaIssuedAt); !bytes.Equal(f2, fresh) {
			t.Fatalf("%s: freshness advanced on a refused batch", path)
		}
	}
	if hl := k.c.Health(); hl.State != client.Degraded || !strings.Contains(hl.Reason, "bad signature") {
		t.Errorf("health does not say why: %v", hl)
	}
	f.set("badsig", wire.PathVisits)
	if _, err := k.c.Push(bg); err == nil || !strings.Contains(err.Error(), "bad signature") {
		t.Fatalf("ack with a bad signature: %v", err)
	}
	if n := depth(k.db); n != 300 {
		t.Fatalf("outbox %d after an unverifiable ack, want all 300 kept", n)
	}
	f.set("")
	drain(t, k)
	sameReplica(t, h.hub, k.db)
	sameVisits(t, h.hub, k.db) // the batch stored behind the bad ack went up again, stored once
}

// TestReplayedOldBatch: old answers served again (a stale cache or an attacker on the path) are
// refused: a head that answers another nonce, a delta that starts at another cursor, and a delta
// for the right cursor but signed before the round began.
func TestReplayedOldBatch(t *testing.T) {
	var skew atomic.Int64 // the hub's clock, moved by the test
	h := newHub(t, hub.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	f := newFaults()
	h.wrap = f.wrap
	putStatus(t, h.hub, 0, 100, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	putStatus(t, h.hub, 0, 50, 1)
	if err := k.c.Pull(bg); err != nil { // a delta from the first cursor, recorded
		t.Fatal(err)
	}
	oldHead, oldDelta := f.last(wire.PathHead), f.last(wire.PathDelta)
	putStatus(t, h.hub, 0, 50, 2)

	f.replay(wire.PathHead, oldHead)
	if err := k.c.Pull(bg); err == nil || !strings.Contains(err.Error(), "replayed head") {
		t.Fatalf("replayed head: %v", err)
	}
	f.replay(wire.PathDelta, oldDelta)
	if err := k.c.Pull(bg); err == nil || !strings.Contains(err.Error(), "replayed") {
		t.Fatalf("replayed delta from another cursor: %v", err)
	}
	// An eavesdropper keeps the delta for the current cursor (the kiosk never got it) and serves
	// it a minute later.
	f.set("withhold", wire.PathDelta)
	if err := k.c.Pull(bg); err == nil {
		t.Fatal("withheld delta: pull succeeded")
	}
	kept := f.last(wire.PathDelta)
	skew.Store(int64(time.Minute))
	f.replay(wire.PathDelta, kept)
	if err := k.c.Pull(bg); err == nil || !strings.Contains(err.Error(), "replayed old batch") {
		t.Fatalf("stale delta: %v", err)
	}
	f.set("")
	drain(t, k)
	sameReplica(t, h.hub, k.db)
}

// TestTruncatedBody: answers cut off mid-body, downstream and upstream. An upload whose answer
// is lost after the hub stored it goes up again and is stored once.
func TestTruncatedBody(t *testing.T) {
	h := newHub(t, hub.Options{ChunkBytes: 16 << 10})
	f := newFaults()
	h.wrap = f.wrap
	putStatus(t, h.hub, 0, 2000, 3)
	k := newKiosk(t)
	k.enroll(h, nil)
	for _, path := range []string{wire.PathHead, wire.PathKeys, wire.PathSnapshot} {
		f.set("truncate", path)
		if err := k.c.Pull(bg); err == nil {
			t.Fatalf("%s truncated: pull succeeded", path)
		}
	}
	f.set("")
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	putStatus(t, h.hub, 1000, 2000, 1)
	f.set("truncate", wire.PathDelta)
	if err := k.c.Pull(bg); err == nil {
		t.Fatal("truncated delta accepted")
	}
	k.appendVisits(1200)
	f.set("truncate", wire.PathVisits)
	if _, err := k.c.Push(bg); err == nil {
		t.Fatal("truncated ack accepted")
	}
	if got, _ := h.hub.VisitIDs(bg); len(got) == 0 {
		t.Fatal("the hub did not store the batch whose answer was cut: the test proves nothing")
	}
	if n := depth(k.db); n != 1200 {
		t.Fatalf("outbox %d after a lost ack, want 1200", n)
	}
	f.set("")
	drain(t, k)
	sameReplica(t, h.hub, k.db)
	sameVisits(t, h.hub, k.db)
}

// TestRevokedDevice: the hub refuses a revoked device from its next request on; the kiosk keeps
// every visit and says so; after re-enrollment everything goes up.
func TestRevokedDevice(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	k.appendVisits(100)
	drain(t, k)
	if err := h.hub.RevokeDevice(bg, k.c.Device()); err != nil {
		t.Fatal(err)
	}
	k.appendVisits(150)
	_, err := k.c.Push(bg)
	if err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("push after revocation: %v", err)
	}
	if err := k.c.Pull(bg); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("pull after revocation: %v", err)
	}
	if hl := k.c.Health(); hl.State != client.Down || !strings.Contains(hl.Reason, "revoked") {
		t.Errorf("health: %v", hl)
	}
	if n := depth(k.db); n != 150 {
		t.Fatalf("outbox %d, want the 150 visits kept", n)
	}
	k.enroll(h, nil) // a technician re-enrolls with a new token
	drain(t, k)
	sameVisits(t, h.hub, k.db)
	devs, _ := h.hub.Devices(bg)
	if len(devs) != 2 || devs[0].RevokedAt.IsZero() || !devs[1].RevokedAt.IsZero() {
		t.Errorf("devices: %+v", devs)
	}
}

// TestOutboxDiskFull: the disk holding the outbox fills up. Appends fail loudly (the lane then
// shows "out of service"), every visit appended before is kept and uploaded, acknowledgements
// that cannot be written just mean a harmless resend, and once space is back all is in order.
func TestOutboxDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	if err := k.c.Pull(bg); err != nil {
		t.Fatal(err)
	}
	k.c.Close()
	c := startChild(t, diskFullChildEnv+"="+k.dir+"|"+h.url+"|"+base64.StdEncoding.EncodeToString(h.root()))
	lines := c.wait(t)
	var ids []string
	var full, pushed string
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "FULL"):
			full = l
		case strings.HasPrefix(l, "PUSHED"), strings.HasPrefix(l, "HEALTH"):
			pushed += l + "\n"
		default:
			ids = append(ids, l)
		}
	}
	t.Logf("%d visits before the disk filled; %s\n%s", len(ids), full, pushed)
	if !strings.Contains(full, "full") && !strings.Contains(full, "I/O") {
		t.Fatalf("the append did not fail as on a full disk: %q", full)
	}
	if len(ids) == 0 {
		t.Fatal("no visit appended before the disk filled")
	}
	if strings.Contains(strings.Join(lines, "\n"), "but an append succeeded") {
		t.Fatal("an append succeeded on a full disk")
	}
	// Uploading still works on a full disk; deleting the acknowledged rows may or may not (the
	// WAL may have room): either way the child said so rather than crashing.
	if !strings.Contains(pushed, "PUSHED ") {
		t.Fatalf("the child did not report its upload:\n%s", strings.Join(lines, "\n"))
	}
	// Space is back (a new process without the limit).
	k.connect(h, nil)
	if err := k.db.IntegrityCheck(bg); err != nil {
		t.Fatal(err)
	}
	have := visitIDs(t, k.db)
	for _, id := range ids {
		if !have[id] {
			t.Fatalf("visit %s reported durable, lost", id)
		}
	}
	drain(t, k)
	sameVisits(t, h.hub, k.db)
}

// TestOutboxLimitAlarm: over the limit the kiosk raises the alarm and keeps every record.
func TestOutboxLimitAlarm(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	k.enroll(h, func(c *client.Config) {
		c.OutboxLimit = 50
		c.Logger = logger(&lockedWriter{w: &logs, mu: &mu})
	})
	h.down()
	k.appendVisits(80)
	if _, err := k.c.Push(bg); err == nil {
		t.Fatal("push to a stopped hub succeeded")
	}
	hl := k.c.Health()
	if hl.State != client.Down || !strings.Contains(hl.Reason, "ALARM") {
		t.Fatalf("health over the limit: %v", hl)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "ALARM") {
		t.Errorf("no alarm in the log:\n%s", logs.String())
	}
	mu.Unlock()
	if n := depth(k.db); n != 80 {
		t.Fatalf("outbox %d, want all 80 kept", n)
	}
	h.start()
	drain(t, k)
	sameVisits(t, h.hub, k.db)
	if hl := k.c.Health(); hl.State != client.OK {
		t.Errorf("health after draining: %v", hl)
	}
}

// TestQuarantine: a record the hub refuses for good leaves the outbox into the quarantine, with
// the hub's reason, and does not hold up the others.
func TestQuarantine(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	k.appendVisits(10)
	// The store no longer queues what the hub refuses: this one was written by an older kiosk.
	bad := &store.Visit{ID: uuid.Must(uuid.NewV7()).String(), At: time.Now(), Lane: "1", Method: "levitation", MaskedName: "x", Outcome: "PASS", Reason: "ok"}
	appendUnchecked(t, k, bad)
	k.appendVisits(10)
	n, err := k.c.Push(bg)
	if err != nil || n != 21 {
		t.Fatalf("push: %d %v", n, err)
	}
	q, err := k.db.QuarantinedRecords(bg, 10)
	if err != nil || len(q) != 1 || q[0].ID != bad.ID || !strings.Contains(q[0].Reason, "levitation") {
		t.Fatalf("quarantine: %+v %v", q, err)
	}
	got, _ := h.hub.VisitIDs(bg)
	if len(got) != 20 || got[bad.ID] {
		t.Fatalf("hub holds %d visits (bad one: %v)", len(got), got[bad.ID])
	}
	if hl := k.c.Health(); hl.State != client.Degraded || !strings.Contains(hl.Reason, "quarantined") {
		t.Errorf("health: %v", hl)
	}
}

// appendUnchecked writes a visit and queues it behind the store's back, as a kiosk did before
// the store checked the hub's rule.
func appendUnchecked(t *testing.T, k *kiosk, v *store.Visit) {
	t.Helper()
	db, err := sql.Open("sqlite3", sqlitedb.DSN(filepath.Join(k.dir, "onepass.db"), 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	id := uuid.MustParse(v.ID)
	if _, err := db.Exec(`INSERT INTO visits (id, at, lane, method, masked_name, temp_c, outcome, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id[:], wire.UnixMS(v.At), v.Lane, v.Method, v.MaskedName, v.TempC, v.Outcome, v.Reason); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO outbox (visit_id) VALUES (?)`, id[:]); err != nil {
		t.Fatal(err)
	}
}

// TestHotCupIsAccepted: a hot cup in front of the thermometer (99.9 °C) is RETRY "remeasure" and
// the lane stores it without a temperature; the real hub accepts it, so nothing sits in
// quarantine and sync stays healthy. A fever at the range edge (43.0 °C) goes up as it is.
func TestHotCupIsAccepted(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, nil)
	edge := 43.0
	hot := &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(1), MaskedName: "张*", Outcome: "RETRY", Reason: "remeasure"}
	fever := &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(1), MaskedName: "张*", TempC: &edge, Outcome: "DENY", Reason: "fever"}
	for _, v := range []*store.Visit{hot, fever} {
		if err := k.db.Append(bg, v); err != nil {
			t.Fatal(err)
		}
	}
	drain(t, k)
	sameVisits(t, h.hub, k.db)
	if q, err := k.db.QuarantinedRecords(bg, 10); err != nil || len(q) != 0 {
		t.Fatalf("quarantine: %+v %v", q, err)
	}
	if hl := k.c.Health(); hl.State != client.OK {
		t.Errorf("health: %v", hl)
	}
	got := map[string]hub.VisitRecord{}
	if err := h.hub.Visits(bg, time.Time{}, func(r hub.VisitRecord) error { got[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := got[hot.ID]; r.TempC != nil || r.Outcome != "RETRY" || r.Reason != "remeasure" || r.MaskedName != "张*" {
		t.Errorf("hot cup at the hub: %+v", r)
	}
	if r := got[fever.ID]; r.TempC == nil || *r.TempC != 43.0 || r.Reason != "fever" {
		t.Errorf("fever at the hub: %+v", r)
	}
}

// TestKioskAndHubShareOneRule: whatever the kiosk's store queues the hub accepts, and whatever
// the hub refuses the store does not queue.
func TestKioskAndHubShareOneRule(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	temp := func(c float64) *float64 { return &c }
	for _, v := range []store.Visit{
		{Lane: "1", Method: "card", MaskedName: "张*", TempC: temp(36.6), Outcome: "PASS", Reason: "ok"},
		{Lane: "1", Method: "card", MaskedName: "张*", TempC: temp(99.9), Outcome: "RETRY", Reason: "remeasure"},
		{Lane: "1", Method: "card", MaskedName: "张*", Outcome: "RETRY", Reason: "remeasure"},
		{Lane: "1", Method: "temp", TempC: temp(43), Outcome: "DENY", Reason: "fever"},
		{Lane: "1", Method: "manual", TempC: temp(-1), Outcome: "RETRY", Reason: "remeasure"},
		{Lane: "1", Method: "levitation", Outcome: "PASS", Reason: "ok"},
		{Lane: "1", Method: "card", PersonKey: []byte{1, 2}, Outcome: "PASS", Reason: "ok"},
		{Lane: strings.Repeat("1", 33), Method: "card", Outcome: "PASS", Reason: "ok"},
		{Lane: "1", Method: "card", MaskedName: strings.Repeat("*", 65), Outcome: "PASS", Reason: "ok"},
	} {
		v.ID, v.At = uuid.Must(uuid.NewV7()).String(), time.Now()
		ack, err := h.hub.Ingest(bg, "device-1", []wire.Record{{ID: v.ID, Kind: store.KindVisit, At: v.At, Visit: new(v.WireVisit())}})
		if err != nil {
			t.Fatal(err)
		}
		stored := k.db.Append(bg, &v) == nil
		if accepted := len(ack.Accepted) == 1; stored != accepted {
			t.Errorf("%+v: the store queues it %v, the hub accepts it %v (%v)", v, stored, accepted, ack.Rejected)
		}
	}
}

// TestProxyErrorsAreNotRefusals: a 429 or 404 from a proxy during a deploy is a passing fault, not
// the hub refusing records: nothing may go to the quarantine, and all goes up afterwards.
func TestProxyErrorsAreNotRefusals(t *testing.T) {
	h := newHub(t, hub.Options{})
	f := newFaults()
	h.wrap = f.wrap
	k := newKiosk(t)
	k.enroll(h, nil)
	k.appendVisits(20)
	for _, mode := range []string{"ratelimit", "notfound"} {
		f.set(mode, wire.PathVisits)
		if _, err := k.c.Push(bg); err == nil {
			t.Fatalf("%s: push reported success", mode)
		}
		if q, err := k.db.QuarantinedRecords(bg, 100); err != nil || len(q) != 0 {
			t.Fatalf("%s: %d records quarantined (%v)", mode, len(q), err)
		}
		if n := depth(k.db); n != 20 {
			t.Fatalf("%s: outbox %d, want 20", mode, n)
		}
	}
	f.set("")
	drain(t, k)
	sameVisits(t, h.hub, k.db)
}

// TestBackoff: the retry wait doubles up to the cap, with jitter within [d/2, d].
func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{30, 150 * time.Second, 300 * time.Second},
	} {
		for range 100 {
			d := client.Backoff(tc.n, time.Second, 5*time.Minute)
			if d < tc.min || d > tc.max {
				t.Fatalf("Backoff(%d) = %s, want %s–%s", tc.n, d, tc.min, tc.max)
			}
		}
	}
}
