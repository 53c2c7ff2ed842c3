package ui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
	"onepass/kiosk/queue"
	"onepass/sync/store"
	"onepass/ui/api"
)

// testPrinter prints into memory and fails while out is set.
type testPrinter struct {
	mu      sync.Mutex
	out     bool
	printed []device.Ticket
}

func (p *testPrinter) Print(ctx context.Context, t device.Ticket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out {
		return errors.New("paper out")
	}
	p.printed = append(p.printed, t)
	return nil
}
func (p *testPrinter) setOut(out bool) { p.mu.Lock(); p.out = out; p.mu.Unlock() }
func (p *testPrinter) Status(context.Context) (device.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return device.PrinterStatus{Online: true, PaperOut: p.out}, nil
}
func (p *testPrinter) Health() device.Health          { return device.Healthy(t0) }
func (p *testPrinter) SelfTest(context.Context) error { return nil }
func (p *testPrinter) Close() error                   { return nil }

// fakeManual passes every check with a temperature below 37.3.
// storeVisits lists the store's visits as the daemon's adapter does.
type storeVisits struct{ db *store.Store }

func (v storeVisits) Recent(ctx context.Context, n int) ([]Visit, error) {
	vs, err := v.db.Recent(ctx, n)
	out := make([]Visit, 0, len(vs))
	for _, x := range vs {
		out = append(out, Visit{ID: x.ID, At: x.At, Method: x.Method, MaskedName: x.MaskedName, Outcome: x.Outcome, Reason: x.Reason,
			StaffID: x.StaffID, Overrides: x.Overrides})
	}
	return out, err
}

type fakeManual struct{ db *store.Store }

func (m fakeManual) CheckManual(ctx context.Context, in kiosk.ManualInput) (kiosk.ManualResult, error) {
	r := kiosk.ManualResult{Outcome: policy.Pass, Reason: policy.ReasonOK}
	if in.TempC >= 37.3 {
		r.Outcome, r.Reason = policy.Deny, policy.ReasonFever
	}
	tx := policy.TextFor(r.Reason)
	r.TitleZh, r.TextZh, r.TitleEn, r.TextEn = tx.TitleZh, tx.Zh, tx.TitleEn, tx.En
	v := &store.Visit{Lane: "1", Method: "manual", MaskedName: "张*", Outcome: string(r.Outcome), Reason: string(r.Reason)}
	if err := m.db.Append(ctx, v); err != nil {
		return r, err
	}
	r.VisitID = v.ID
	return r, nil
}

const testPIN = "2468"

type queueEnv struct {
	t       *testing.T
	k       *fakeKiosk
	lane    *kiosk.Lane // a real lane on the same database: staff decisions go through it
	q       *queue.Queue
	db      *store.Store
	srv     *Server
	ts      *httptest.Server
	printer *testPrinter
	now     *time.Time
	nowMu   sync.Mutex
}

// newQueueEnv runs a real queue on a real database behind the UI, with staff 7 (counter 1) and
// 8 (counter 3), PIN 2468. The kiosk screen is a fake the test drives.
func newQueueEnv(t *testing.T) *queueEnv { return newQueueEnvScreen(t, false) }

// newQueueEnvScreen is newQueueEnv; with laneScreen the kiosk screen is the real lane's (which
// has no parts: it only shows staff decisions).
func newQueueEnvScreen(t *testing.T, laneScreen bool) *queueEnv {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := queue.DefaultConfig()
	cfg.Hall = "测试大厅"
	e := &queueEnv{t: t, k: newFake(idleView()), db: db, printer: &testPrinter{}}
	q, err := queue.New(ctx, cfg, db, queue.Options{Logger: quiet(), Printer: e.printer, Clock: clockwork.NewRealClock()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e.q = q
	e.lane = kiosk.New(kiosk.DefaultConfig(), kiosk.Parts{}, kiosk.Options{Log: db, Logger: quiet()})
	lctx, lcancel := context.WithCancel(ctx)
	ldone := make(chan struct{})
	go func() { e.lane.Run(lctx); close(ldone) }()
	t.Cleanup(func() { lcancel(); <-ldone })
	var screen Kiosk = e.k
	if laneScreen {
		screen = e.lane
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte(testPIN), bcrypt.MinCost)
	now := time.Now()
	e.now = &now
	e.srv = New(screen, Options{Logger: quiet(), Heartbeat: time.Second, Queue: q, Manual: fakeManual{db}, Visits: storeVisits{db}, Override: e.lane,
		Staff: StaffOptions{Users: []StaffUser{{ID: "7", Name: "王芳", Counter: "1", PINHash: string(hash)}, {ID: "8", Name: "李雷", Counter: "3", PINHash: string(hash)}},
			LockoutAfter: 3, LockoutFor: 5 * time.Minute, SessionIdle: 30 * time.Minute, Now: e.clock},
		Status: func(context.Context) Status { n := 4; return Status{OutboxDepth: &n} }})
	e.ts = httptest.NewServer(e.srv.Handler())
	t.Cleanup(e.ts.Close)
	return e
}

func (e *queueEnv) clock() time.Time {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	return *e.now
}

func (e *queueEnv) advance(d time.Duration) {
	e.nowMu.Lock()
	defer e.nowMu.Unlock()
	*e.now = e.now.Add(d)
}

// pass logs a PASS visit and shows it on the fake lane, as the lane does after a pass.
func (e *queueEnv) pass() string {
	e.t.Helper()
	v := &store.Visit{Lane: "1", Method: "card", MaskedName: "张*", Outcome: "PASS", Reason: "ok"}
	if err := e.db.Append(context.Background(), v); err != nil {
		e.t.Fatal(err)
	}
	e.k.publish(decided(policy.ReasonOK, policy.Pass, v.ID, 36.5))
	return v.ID
}

// manual logs a MANUAL visit of lane 1 (a card, status unknown), as the lane does for someone
// whose status it cannot decide.
func (e *queueEnv) manual(method string) string {
	e.t.Helper()
	v := &store.Visit{Lane: "1", Method: method, MaskedName: "王*", Outcome: "MANUAL", Reason: "status_unknown"}
	if err := e.db.Append(context.Background(), v); err != nil {
		e.t.Fatal(err)
	}
	return v.ID
}

type client struct {
	t          *testing.T
	base       string
	c          *http.Client
	csrf       string
	retryAfter string // of the last answer
}

func (e *queueEnv) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: e.ts.URL, c: &http.Client{Jar: jar}}
}

// do sends JSON and decodes the JSON answer into out (if not nil); it returns the status.
func (c *client) do(method, path string, body any, out any, hdr ...string) int {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set(csrfHeader, c.csrf)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	c.retryAfter = resp.Header.Get("Retry-After")
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (c *client) login(staff, pin string) int {
	c.t.Helper()
	var me Me
	code := c.do("POST", "/staff/api/login", LoginRequest{Staff: staff, PIN: pin}, &me)
	if code == 200 {
		c.csrf = me.CSRF
	}
	return code
}

func TestLocalTicketAPI(t *testing.T) {
	e := newQueueEnv(t)
	c := e.client()
	var is queue.Issued
	if code := c.do("POST", "/api/tickets", IssueRequest{Service: "B", Priority: api.Priority(queue.Elderly)}, &is); code != 200 || is.Ticket.Number != "B001" || is.Ticket.Priority != queue.Elderly {
		t.Fatalf("issue: %d %+v", code, is)
	}
	var qe queue.Error
	if code := c.do("POST", "/api/tickets", IssueRequest{Service: "Z"}, &qe); code != 409 || qe.Code != "unknown_service" || qe.Zh == "" {
		t.Errorf("unknown service: %d %+v", code, qe)
	}
	if code := c.do("POST", "/api/tickets", map[string]any{"service": "A", "vip": true}, &qe); code != 400 {
		t.Errorf("unknown field: %d", code)
	}
	var tk queue.Ticket
	if code := c.do("POST", "/api/tickets/call", CounterRequest{Counter: "2"}, &tk); code != 200 || tk.Number != "B001" || tk.Counter != "2" {
		t.Fatalf("call: %d %+v", code, tk)
	}
	if code := c.do("POST", "/api/tickets/transfer", CounterRequest{Counter: "2", Service: "C"}, &tk); code != 200 || tk.Service != "C" {
		t.Fatalf("transfer: %d %+v", code, tk)
	}
	if code := c.do("POST", "/api/tickets/call", CounterRequest{Counter: "2"}, &qe); code != 409 || qe.Code != "queue_empty" {
		t.Errorf("call on an empty queue: %d %+v", code, qe)
	}
	var b queue.Board
	if code := c.do("GET", "/api/queue", nil, &b); code != 200 || b.Services[2].Waiting != 1 || b.Calls[0].Number != "B001" {
		t.Errorf("board: %d %+v", code, b)
	}

	// The citizen's ticket needs the pass on screen.
	pass := e.pass()
	var kis queue.Issued
	if code := c.do("POST", "/api/tickets/kiosk", KioskRequest{PassID: pass, Service: "A"}, &kis); code != 200 || kis.Ticket.Number != "A001" || !kis.Printing {
		t.Fatalf("kiosk ticket: %d %+v", code, kis)
	}
	if code := c.do("POST", "/api/tickets/kiosk", KioskRequest{PassID: "0194b2c4-0000-7000-8000-000000000000", Service: "A"}, &qe); code != 409 || qe.Code != "no_pass" {
		t.Errorf("kiosk ticket without a pass: %d %+v", code, qe)
	}
}

func TestHallEvents(t *testing.T) {
	e := newQueueEnv(t)
	req, _ := http.NewRequest("GET", e.ts.URL+"/hall/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	s := &sse{t: t, body: resp.Body, fr: make(chan frame)}
	go s.read(bufioReader(resp.Body))
	first := nextBoard(t, s)
	if _, err := e.q.Issue(context.Background(), queue.IssueRequest{Service: "A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.q.CallNext(context.Background(), "3"); err != nil {
		t.Fatal(err)
	}
	for {
		b := nextBoard(t, s)
		if b.Version <= first.Version {
			t.Fatalf("board version went from %d to %d", first.Version, b.Version)
		}
		if len(b.Calls) > 0 {
			if b.Calls[0].Number != "A001" || b.Calls[0].Counter != "3" {
				t.Errorf("call %+v", b.Calls[0])
			}
			break
		}
	}
}

func nextBoard(t *testing.T, s *sse) queue.Board {
	t.Helper()
	for {
		f := s.next()
		if f.err != nil {
			t.Fatalf("stream ended: %v", f.err)
		}
		if f.event != "board" {
			continue
		}
		var b queue.Board
		if err := json.Unmarshal([]byte(f.data), &b); err != nil {
			t.Fatal(err)
		}
		return b
	}
}

func TestStaffLoginCSRFAndLockout(t *testing.T) {
	e := newQueueEnv(t)
	c := e.client()
	var qe queue.Error
	if code := c.do("GET", "/staff/api/state", nil, &qe); code != 401 {
		t.Errorf("state without login: %d", code)
	}
	// Wrong PINs: refused, then locked out, even with the right PIN. Every refusal reads the same;
	// between two, this address waits 1 s, then 2 s, then 4 s (429 with Retry-After meanwhile).
	var refusal queue.Error
	for i, wait := range []string{"1", "2", "4", ""} {
		pin := "0000"
		if i == 3 {
			pin = testPIN
		}
		var qe queue.Error
		if code := c.do("POST", "/staff/api/login", LoginRequest{Staff: "7", PIN: pin}, &qe); code != 401 || (i > 0 && qe != refusal) {
			t.Fatalf("attempt %d: %d %+v, want 401 %+v", i+1, code, qe, refusal)
		}
		refusal = qe
		if wait == "" {
			break
		}
		if code := c.do("POST", "/staff/api/login", LoginRequest{Staff: "7", PIN: testPIN}, &qe); code != 429 || c.retryAfter != wait || qe.Code != "slow_down" {
			t.Fatalf("right after attempt %d: %d, Retry-After %q, %+v; want 429 after %s s", i+1, code, c.retryAfter, qe, wait)
		}
		secs, _ := strconv.Atoi(wait)
		e.advance(time.Duration(secs) * time.Second)
	}
	if refusal.Code != "bad_pin" || refusal.Zh != "登录失败：工号或密码错误，或已锁定（连续错误 3 次锁定 5 分钟）" {
		t.Errorf("refusal: %+v", refusal)
	}
	// Another member of staff is not locked by it (once this address's 8 s are over); time ends
	// the lock-out.
	e.advance(8 * time.Second)
	if code := e.client().login("8", testPIN); code != 200 {
		t.Errorf("staff 8 login during 7's lock-out: %d", code)
	}
	e.advance(6 * time.Minute)
	if code := c.login("7", testPIN); code != 200 {
		t.Fatalf("login after the lock-out: %d", code)
	}
	if code := c.do("POST", "/staff/api/login", LoginRequest{Staff: "8", PIN: testPIN, Counter: "99"}, &qe); code != 400 || qe.Code != "unknown_counter" {
		t.Errorf("login to a counter the hall does not have: %d %+v", code, qe)
	}
	if code := c.do("POST", "/staff/api/login", LoginRequest{Staff: "nobody", PIN: testPIN}, &qe); code != 401 || qe != refusal {
		t.Errorf("unknown staff: %d %+v", code, qe)
	}

	var st StaffState
	if code := c.do("GET", "/staff/api/state", nil, &st); code != 200 || st.Me.Counter != "1" || st.OutboxDepth == nil || *st.OutboxDepth != 4 {
		t.Fatalf("state: %d %+v", code, st.Me)
	}
	e.q.Issue(context.Background(), queue.IssueRequest{Service: "A"})
	// Without the CSRF token, or from another site, nothing happens.
	tok := c.csrf
	c.csrf = ""
	if code := c.do("POST", "/staff/api/call", struct{}{}, &qe); code != 403 || qe.Code != "csrf" {
		t.Errorf("call without CSRF token: %d %+v", code, qe)
	}
	c.csrf = tok
	if code := c.do("POST", "/staff/api/call", struct{}{}, &qe, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("call from another origin: %d", code)
	}
	var tk queue.Ticket
	if code := c.do("POST", "/staff/api/call", struct{}{}, &tk); code != 200 || tk.Number != "A001" || tk.Counter != "1" {
		t.Fatalf("call: %d %+v", code, tk)
	}
	// Manual ID entry goes through the check: a fever gets no ticket.
	var si StaffIssued
	if code := c.do("POST", "/staff/api/issue", StaffIssueRequest{Service: "A", IDNumber: "110101199003074477", Name: "张三", TempC: 36.6}, &si); code != 200 || si.Ticket.Number != "A002" || si.Check == nil || si.Check.Outcome != policy.Pass {
		t.Fatalf("manual issue: %d %+v", code, si)
	}
	var refused struct {
		queue.Error
		Check *kiosk.ManualResult `json:"check"`
	}
	if code := c.do("POST", "/staff/api/issue", StaffIssueRequest{Service: "A", IDNumber: "110101199003074477", Name: "张三", TempC: 38.4}, &refused); code != 409 || refused.Check == nil || refused.Check.Reason != policy.ReasonFever {
		t.Errorf("manual issue with fever: %d %+v", code, refused)
	}
	// Sessions end when idle, and on logout.
	e.advance(31 * time.Minute)
	if code := c.do("GET", "/staff/api/state", nil, nil); code != 401 {
		t.Errorf("state after 31 idle minutes: %d", code)
	}
	c.login("7", testPIN)
	if code := c.do("POST", "/staff/api/logout", struct{}{}, nil); code != 204 {
		t.Errorf("logout: %d", code)
	}
	if code := c.do("GET", "/staff/api/state", nil, nil); code != 401 {
		t.Errorf("state after logout: %d", code)
	}
}

// The LAN listener serves the staff console and the hall screen, never the kiosk's local API.
func TestLANHandler(t *testing.T) {
	e := newQueueEnv(t)
	lan := httptest.NewServer(e.srv.LANHandler())
	defer lan.Close()
	for path, want := range map[string]int{"/staff": 200, "/hall": 200, "/hall/state": 200, "/static/staff.js": 200,
		"/audio/chime.wav": 200, "/api/queue": 404, "/api/state": 404, "/events": 404, "/metrics": 404} {
		resp, _ := get(t, lan.URL+path)
		if resp.StatusCode != want {
			t.Errorf("LAN %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, _ := get(t, lan.URL+"/staff")
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("staff page without CSP")
	}
	if New(newFake(idleView()), Options{Logger: quiet()}).LANHandler() != nil {
		t.Error("a LAN handler without a queue")
	}
}

func bufioReader(r interface{ Read([]byte) (int, error) }) *bufio.Reader { return bufio.NewReader(r) }
