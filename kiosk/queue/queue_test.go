package queue

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/sync/store"
)

var cst = time.FixedZone("CST", 8*3600)

// day1 09:00 in the hall's time zone.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, cst)

type harness struct {
	t     *testing.T
	q     *Queue
	db    *store.Store
	path  string
	clock *clockwork.FakeClock
	stop  func()
}

func testConfig() Config {
	c := DefaultConfig()
	c.Location = cst
	c.Hall = "测试大厅"
	c.TicketURL = "https://hall.example/t/{id}"
	return c
}

// start opens (or reopens) the store at path and runs a queue on it.
func start(t *testing.T, cfg Config, path string, clock *clockwork.FakeClock, printer device.TicketPrinter) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	q, err := New(ctx, cfg, db, Options{Clock: clock, Logger: slog.New(slog.DiscardHandler), Printer: printer})
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(rctx) }()
	h := &harness{t: t, q: q, db: db, path: path, clock: clock}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(h.stop)
	return h
}

func newHarness(t *testing.T) *harness {
	return start(t, testConfig(), filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), nil)
}

func (h *harness) issue(svc string, p Priority) Ticket {
	h.t.Helper()
	is, err := h.q.Issue(context.Background(), IssueRequest{Service: svc, Priority: p})
	if err != nil {
		h.t.Fatalf("issue %s %s: %v", svc, p, err)
	}
	return is.Ticket
}

func (h *harness) call(counter string) string {
	h.t.Helper()
	t, err := h.q.CallNext(context.Background(), counter)
	if err != nil {
		h.t.Fatalf("call to counter %s: %v", counter, err)
	}
	return t.Number
}

// pass records a visit with the given outcome, as the lane does, and returns its id.
func (h *harness) pass(outcome string, at time.Time) string {
	h.t.Helper()
	v := &store.Visit{At: at, Lane: "1", Method: "card", MaskedName: "张*", Outcome: outcome, Reason: "ok"}
	if err := h.db.Append(context.Background(), v); err != nil {
		h.t.Fatal(err)
	}
	return v.ID
}

func (h *harness) events() []store.TicketEvent {
	h.t.Helper()
	ev, err := h.db.PendingTickets(context.Background(), 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

func TestNumberingAndOrder(t *testing.T) {
	h := newHarness(t)
	got := []string{h.issue("A", Normal).Number, h.issue("B", Normal).Number, h.issue("A", Normal).Number, h.issue("C", Normal).Number}
	if want := []string{"A001", "B001", "A002", "C001"}; !slices.Equal(got, want) {
		t.Fatalf("numbers %v, want %v", got, want)
	}
	// Counter 1 serves A only; counter 3 serves A, B, C and takes the oldest ticket of them.
	for _, c := range []struct{ counter, want string }{{"1", "A001"}, {"3", "B001"}, {"3", "A002"}, {"2", ""}, {"3", "C001"}} {
		tk, err := h.q.CallNext(context.Background(), c.counter)
		if c.want == "" {
			if !errors.Is(err, ErrQueueEmpty) {
				t.Fatalf("counter %s: %v, %v; want queue empty", c.counter, tk.Number, err)
			}
			continue
		}
		if err != nil || tk.Number != c.want || tk.Counter != c.counter || tk.State != Called {
			t.Fatalf("counter %s called %+v, %v; want %s", c.counter, tk, err, c.want)
		}
	}
	b := h.q.Board()
	if b.Calls[0].Number != "C001" || b.Calls[0].Counter != "3" || len(b.Calls) != 4 {
		t.Errorf("calls %+v", b.Calls)
	}
	// Calling C001 to counter 3 closed A002 as served.
	if cur := b.Counters[2].Current; cur == nil || cur.Number != "C001" {
		t.Errorf("counter 3 current = %+v", cur)
	}
	if b.Services[0].Served != 1 || b.Services[0].Issued != 2 {
		t.Errorf("service A board %+v", b.Services[0])
	}
	if _, err := h.q.CallNext(context.Background(), "9"); !errors.Is(err, ErrUnknownCounter) {
		t.Errorf("unknown counter: %v", err)
	}
	if _, err := h.q.Issue(context.Background(), IssueRequest{Service: "Z"}); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := h.q.Issue(context.Background(), IssueRequest{Service: "A", Priority: "vip"}); !errors.Is(err, ErrBadPriority) {
		t.Errorf("bad priority: %v", err)
	}
}

func TestPriorityCalledFirstWithinService(t *testing.T) {
	for _, c := range []struct {
		name    string
		issue   []Priority
		counter string
		want    []string
	}{
		{"elderly before earlier walk-ins", []Priority{Normal, Elderly, Normal}, "1", []string{"A002", "A001", "A003"}},
		{"priority classes among themselves by issue order", []Priority{Pregnant, Normal, Disabled, Elderly}, "1", []string{"A001", "A003", "A004", "A002"}},
		{"all normal: issue order", []Priority{Normal, Normal, Normal}, "1", []string{"A001", "A002", "A003"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			for _, p := range c.issue {
				h.issue("A", p)
			}
			var got []string
			for range c.issue {
				got = append(got, h.call(c.counter))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("call order %v, want %v", got, c.want)
			}
		})
	}
	// Across a counter's services, a priority ticket of one service goes before an older
	// walk-in of another.
	h := newHarness(t)
	h.issue("B", Normal)
	h.issue("A", Normal)
	h.issue("A", Elderly)
	if got := []string{h.call("3"), h.call("3"), h.call("3")}; !slices.Equal(got, []string{"A002", "B001", "A001"}) {
		t.Errorf("counter 3 order %v", got)
	}
}

func TestIssueAfterPass(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	ok := h.pass("PASS", t0.Add(-30*time.Second))
	is, err := h.q.IssueAfterPass(ctx, ok, "B")
	if err != nil || is.Ticket.Number != "B001" || is.Ticket.Source != FromKiosk || is.Existing {
		t.Fatalf("IssueAfterPass = %+v, %v", is, err)
	}
	// A second tap, even for another service, gets the same ticket.
	again, err := h.q.IssueAfterPass(ctx, ok, "A")
	if err != nil || !again.Existing || again.Ticket.Number != "B001" {
		t.Fatalf("second IssueAfterPass = %+v, %v", again, err)
	}
	for _, c := range []struct {
		name string
		id   string
		want error
	}{
		{"denied", h.pass("DENY", t0), ErrNotPassed},
		{"too old", h.pass("PASS", t0.Add(-3*time.Minute)), ErrPassExpired},
		{"unknown", "0194b2c4-0000-7000-8000-000000000000", ErrNoPass},
		{"garbage", "not-a-uuid", ErrNoPass},
	} {
		if _, err := h.q.IssueAfterPass(ctx, c.id, "A"); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	b := h.q.Board()
	if b.Kiosk == nil || b.Kiosk.Number != "B001" || b.Kiosk.PassID != ok || b.Kiosk.Print != "off" {
		t.Errorf("board kiosk ticket %+v", b.Kiosk)
	}
}

func TestRecallTransferAndFinish(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.issue("A", Normal) // A001
	h.clock.Advance(time.Minute)
	h.issue("B", Normal) // B001, issued after A001
	h.clock.Advance(4 * time.Minute)
	if n := h.call("1"); n != "A001" {
		t.Fatalf("called %s", n)
	}
	if tk, err := h.q.Recall(ctx, "1"); err != nil || tk.Recalls != 1 {
		t.Fatalf("recall = %+v, %v", tk, err)
	}
	b := h.q.Board()
	if len(b.Calls) != 2 || !b.Calls[0].Recall || b.Calls[0].Seq != b.Calls[1].Seq+1 {
		t.Errorf("calls after recall %+v", b.Calls)
	}
	// The person is at the wrong counter: A001 goes to service B, ahead of B001 (issued later).
	tk, err := h.q.Transfer(ctx, "1", "B")
	if err != nil || tk.Service != "B" || tk.State != Waiting || tk.Number != "A001" {
		t.Fatalf("transfer = %+v, %v", tk, err)
	}
	if _, err := h.q.Recall(ctx, "1"); !errors.Is(err, ErrNoCurrent) {
		t.Errorf("recall after transfer: %v", err)
	}
	if n := h.call("2"); n != "A001" {
		t.Fatalf("counter 2 called %s, want the transferred A001", n)
	}
	if tk, err := h.q.Transfer(ctx, "2", "B"); !errors.Is(err, ErrSameService) {
		t.Errorf("transfer to own service = %+v, %v", tk, err)
	}
	h.clock.Advance(3 * time.Minute)
	if tk, err := h.q.Served(ctx, "2"); err != nil || tk.State != Served {
		t.Fatalf("served = %+v, %v", tk, err)
	}
	if n := h.call("2"); n != "B001" {
		t.Fatalf("counter 2 called %s", n)
	}
	if tk, err := h.q.NoShow(ctx, "2"); err != nil || tk.State != NoShow {
		t.Fatalf("no-show = %+v, %v", tk, err)
	}
	var kinds []string
	for _, e := range h.events() {
		kinds = append(kinds, e.Number+" "+e.Kind)
		switch {
		case e.Number == "A001" && e.Kind == "called" && e.Counter == "1" && e.Waited != 5*time.Minute:
			t.Errorf("A001 first call waited %s, want 5m", e.Waited)
		case e.Number == "A001" && e.Kind == "served" && e.Waited != 5*time.Minute:
			t.Errorf("A001 served: waited %s (issue → first call), want 5m", e.Waited)
		case e.Kind == "transferred" && (e.FromService != "A" || e.Service != "B" || e.Counter != "1"):
			t.Errorf("transfer event %+v", e)
		}
	}
	want := []string{"A001 issued", "B001 issued", "A001 called", "A001 recalled", "A001 transferred", "A001 called", "A001 served", "B001 called", "B001 no_show"}
	if !slices.Equal(kinds, want) {
		t.Errorf("outbox events\n got %v\nwant %v", kinds, want)
	}
}

// Calling the next ticket closes the counter's current one as served.
func TestCallNextServesCurrent(t *testing.T) {
	h := newHarness(t)
	h.issue("A", Normal)
	h.issue("A", Normal)
	h.call("1")
	h.call("1")
	ev := h.events()
	if last := ev[len(ev)-2]; last.Number != "A001" || last.Kind != "served" {
		t.Errorf("event before the second call: %+v", last)
	}
}

func TestDailyResetAndNumbersNeverReused(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.clock.Advance(14 * time.Hour) // 23:00, still day 1 (reset at 04:00)
	for range 3 {
		h.issue("A", Normal)
	}
	h.call("1")
	day1 := h.q.Board().Day
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	boards := h.q.Subscribe(sub)
	// Run waits on the reset timer; move to 04:00 and it closes the day by itself.
	if err := h.clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5 * time.Hour)
	var b Board
	for b = range boards {
		if b.Day != day1 {
			break
		}
	}
	if b.Day != "2026-11-27" || b.Services[0].Waiting != 0 || b.Counters[0].Current != nil || len(b.Calls) != 0 {
		t.Fatalf("board after the reset: day %s, waiting %d, counter 1 %+v, calls %v", b.Day, b.Services[0].Waiting, b.Counters[0].Current, b.Calls)
	}
	expired := 0
	for _, e := range h.events() {
		if e.Kind == "expired" {
			expired++
			if e.Day != day1 {
				t.Errorf("expired event of day %s", e.Day)
			}
		}
	}
	if expired != 3 {
		t.Errorf("%d tickets expired at the reset, want 3 (two waiting, one called)", expired)
	}
	if n := h.issue("A", Normal).Number; n != "A001" {
		t.Errorf("first number of the new day = %s, want A001", n)
	}
	// The clock is set back into day 1: its numbering continues, never repeats.
	h.clock.Advance(-5 * time.Hour)
	if tk := h.issue("A", Normal); tk.Number != "A004" || tk.Day != day1 {
		t.Errorf("after the clock went back: %s of %s, want A004 of %s", tk.Number, tk.Day, day1)
	}
}

func TestRestartKeepsQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onepass.db")
	clock := clockwork.NewFakeClockAt(t0)
	h := start(t, testConfig(), path, clock, nil)
	for _, p := range []Priority{Normal, Normal, Elderly, Normal} {
		h.issue("A", p)
	}
	h.issue("B", Normal)
	h.call("1") // A003 (elderly)
	clock.Advance(time.Minute)
	h.call("3") // A001
	before := h.q.Board()
	h.stop()

	h = start(t, testConfig(), path, clock, nil)
	after := h.q.Board()
	for i := range before.Services {
		b, a := before.Services[i], after.Services[i]
		if b.Waiting != a.Waiting || !slices.Equal(numbers(b.Next), numbers(a.Next)) || b.Issued != a.Issued {
			t.Errorf("service %s before restart %+v, after %+v", b.Code, b, a)
		}
	}
	for i := range before.Counters {
		b, a := before.Counters[i].Current, after.Counters[i].Current
		if (b == nil) != (a == nil) || (b != nil && b.Number != a.Number) {
			t.Errorf("counter %s current before %+v, after %+v", before.Counters[i].ID, b, a)
		}
	}
	if len(after.Calls) != 2 || after.Calls[0].Number != "A001" {
		t.Errorf("last calls after restart %+v", after.Calls)
	}
	if n := h.issue("A", Normal).Number; n != "A005" {
		t.Errorf("next number after restart %s, want A005", n)
	}
	// The recalled state continues: counter 3 still holds A001.
	if tk, err := h.q.Served(context.Background(), "3"); err != nil || tk.Number != "A001" {
		t.Errorf("served at counter 3 after restart = %+v, %v", tk, err)
	}
	if got := []string{h.call("1"), h.call("1"), h.call("1")}; !slices.Equal(got, []string{"A002", "A004", "A005"}) {
		t.Errorf("order after restart %v", got)
	}
}

func numbers(ws []Waiter) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Number)
	}
	return out
}

// The kiosk and the staff consoles issue at the same time: every number is given once, in an
// unbroken sequence, and every ticket is on disk with its outbox event.
func TestConcurrentIssueFromKioskAndStaff(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const kiosks, staff, each = 4, 4, 25
	passes := make([][]string, kiosks)
	for k := range passes {
		for range each {
			passes[k] = append(passes[k], h.pass("PASS", t0))
		}
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		got  = map[string]int{}
		errs []error
	)
	record := func(is Issued, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		got[is.Ticket.Number]++
	}
	for k := range kiosks {
		wg.Go(func() {
			for _, id := range passes[k] {
				record(h.q.IssueAfterPass(ctx, id, "A"))
			}
		})
	}
	for s := range staff {
		wg.Go(func() {
			for i := range each {
				record(h.q.Issue(ctx, IssueRequest{Service: "A", Priority: []Priority{Normal, Elderly}[(s+i)%2]}))
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d issues failed, first: %v", len(errs), errs[0])
	}
	n := (kiosks + staff) * each
	for i := 1; i <= n; i++ {
		if c := got[numberOf("A", i)]; c != 1 {
			t.Errorf("%s given %d times", numberOf("A", i), c)
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct numbers, want %d", len(got), n)
	}
	if ev := h.events(); len(ev) != n {
		t.Errorf("%d outbox events, want %d", len(ev), n)
	}
	open, err := h.db.OpenTickets(ctx)
	if err != nil || len(open) != n {
		t.Errorf("%d tickets on disk, %v; want %d", len(open), err, n)
	}
	if b := h.q.Board(); b.Services[0].Waiting != n {
		t.Errorf("board waiting %d, want %d", b.Services[0].Waiting, n)
	}
}

func TestAppointmentCheckIn(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(nil)
	cfg := testConfig()
	cfg.AppointmentKeys = []ed25519.PublicKey{pub}
	h := start(t, cfg, filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), nil)
	ctx := context.Background()
	code := func(key ed25519.PrivateKey, ref, svc string, slot time.Time) string {
		s, err := SignAppointment(key, Appointment{Ref: ref, Service: svc, Slot: slot, Length: 30 * time.Minute}, cst)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h.issue("A", Normal) // A001, a walk-in before the booking
	due := code(priv, "BK-1", "A", t0.Add(-5*time.Minute))
	is, err := h.q.CheckIn(ctx, due, "")
	if err != nil || is.Ticket.Number != "A002" || is.Ticket.Source != FromAppointment || !is.Ticket.Slot.Equal(t0.Add(-5*time.Minute)) {
		t.Fatalf("check-in = %+v, %v", is, err)
	}
	early := code(priv, "BK-2", "A", t0.Add(90*time.Minute))
	if is, err := h.q.CheckIn(ctx, early, ""); err != nil || is.Ticket.Number != "A003" {
		t.Fatalf("early check-in = %+v, %v", is, err)
	}
	h.issue("A", Normal) // A004
	for _, c := range []struct {
		name, code string
		want       error
	}{
		{"used twice", due, ErrApptUsed},
		{"forged", code(other, "BK-3", "A", t0), ErrAppointment},
		{"tampered", due[:7] + "X" + due[8:], ErrAppointment},
		{"garbage", "APPT1:hello", ErrAppointment},
		{"too early", code(priv, "BK-4", "A", t0.Add(3*time.Hour)), ErrApptTooEarly},
		{"too late", code(priv, "BK-5", "A", t0.Add(-20*time.Minute)), ErrApptTooLate},
		{"other day", code(priv, "BK-6", "A", t0.Add(24*time.Hour)), ErrApptWrongDay},
		{"unknown service", code(priv, "BK-7", "Q", t0), ErrUnknownService},
	} {
		if is, err := h.q.CheckIn(ctx, c.code, ""); !errors.Is(err, c.want) {
			t.Errorf("%s: %+v, %v; want %v", c.name, is.Ticket.Number, err, c.want)
		}
	}
	// The due booking goes first; the early one waits its turn by check-in order.
	if got := []string{h.call("1"), h.call("1"), h.call("1"), h.call("1")}; !slices.Equal(got, []string{"A002", "A001", "A003", "A004"}) {
		t.Errorf("call order %v", got)
	}
	// Without keys check-in is off.
	h2 := newHarness(t)
	if _, err := h2.q.CheckIn(ctx, due, ""); !errors.Is(err, ErrAppointmentOff) {
		t.Errorf("check-in without keys: %v", err)
	}
}

// failPrinter fails while out is set.
type failPrinter struct {
	mu      sync.Mutex
	out     bool
	printed []device.Ticket
}

func (p *failPrinter) Print(ctx context.Context, t device.Ticket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out {
		return errors.New("paper out")
	}
	p.printed = append(p.printed, t)
	return nil
}
func (p *failPrinter) Status(context.Context) (device.PrinterStatus, error) {
	return device.PrinterStatus{}, nil
}
func (p *failPrinter) Health() device.Health          { return device.Healthy(t0) }
func (p *failPrinter) SelfTest(context.Context) error { return nil }
func (p *failPrinter) Close() error                   { return nil }

func TestPrintFailureKeepsNumberVisible(t *testing.T) {
	pr := &failPrinter{out: true}
	h := start(t, testConfig(), filepath.Join(t.TempDir(), "onepass.db"), clockwork.NewFakeClockAt(t0), pr)
	ctx := context.Background()
	sub, cancel := context.WithCancel(ctx)
	defer cancel()
	boards := h.q.Subscribe(sub)
	pass := h.pass("PASS", t0)
	is, err := h.q.IssueAfterPass(ctx, pass, "A")
	if err != nil || !is.Printing {
		t.Fatalf("issue = %+v, %v", is, err)
	}
	b := waitBoard(t, boards, func(b Board) bool { return b.Kiosk != nil && b.Kiosk.Print == "failed" })
	if b.Printer.OK || !slices.Equal(b.Printer.Unprinted, []string{"A001"}) || b.Kiosk.Number != "A001" || b.Kiosk.PrintError != "paper out" {
		t.Errorf("board after a failed print: printer %+v, kiosk %+v", b.Printer, b.Kiosk)
	}
	pr.mu.Lock()
	pr.out = false
	pr.mu.Unlock()
	pass2 := h.pass("PASS", t0)
	if _, err := h.q.IssueAfterPass(ctx, pass2, "B"); err != nil {
		t.Fatal(err)
	}
	b = waitBoard(t, boards, func(b Board) bool { return b.Kiosk != nil && b.Kiosk.Print == "printed" })
	if !b.Printer.OK || len(b.Printer.Unprinted) != 0 || b.Kiosk.Number != "B001" {
		t.Errorf("board after a good print: printer %+v, kiosk %+v", b.Printer, b.Kiosk)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	want := device.Ticket{Number: "B001", Service: "医保", Hall: "测试大厅", IssuedAt: t0, Waiting: 0,
		URL: "https://hall.example/t/" + pr.printed[0].URL[len("https://hall.example/t/"):]}
	if got := pr.printed[0]; got.Number != want.Number || got.Service != want.Service || got.Hall != want.Hall || !got.IssuedAt.Equal(t0) || got.URL == "https://hall.example/t/" {
		t.Errorf("printed %+v", got)
	}
}

func waitBoard(t *testing.T, boards <-chan Board, ok func(Board) bool) Board {
	t.Helper()
	for b := range boards {
		if ok(b) {
			return b
		}
	}
	t.Fatal("board stream ended")
	return Board{}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"two-letter code", func(c *Config) { c.Services[0].Code = "AB" }, "one capital letter"},
		{"duplicate code", func(c *Config) { c.Services[1].Code = "A" }, "used twice"},
		{"counter of unknown service", func(c *Config) { c.Counters[0].Services = []string{"Z"} }, `unknown service "Z"`},
		{"service nobody serves", func(c *Config) { c.Counters = c.Counters[:2] }, `"C": no counter serves it`},
		{"reset hour", func(c *Config) { c.ResetHour = 24 }, "reset_hour 24"},
		{"no services", func(c *Config) { c.Services = nil; c.Counters = nil }, "at least one service"},
		{"bad url", func(c *Config) { c.TicketURL = "ftp://x" }, "ticket_url"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
}

func TestBusinessDay(t *testing.T) {
	c := testConfig() // reset at 04:00
	for _, x := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 3, 59, 0, 0, cst), "2026-11-25"},
		{time.Date(2026, 11, 26, 4, 0, 0, 0, cst), "2026-11-26"},
		{time.Date(2026, 11, 26, 23, 59, 0, 0, cst), "2026-11-26"},
		{time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), "2026-11-26"}, // 04:00 CST
	} {
		if got := c.businessDay(x.at); got != x.want {
			t.Errorf("businessDay(%s) = %s, want %s", x.at, got, x.want)
		}
	}
	if got := c.nextReset(time.Date(2026, 11, 26, 4, 0, 0, 0, cst)); !got.Equal(time.Date(2026, 11, 27, 4, 0, 0, 0, cst)) {
		t.Errorf("nextReset at the boundary = %s", got)
	}
}
