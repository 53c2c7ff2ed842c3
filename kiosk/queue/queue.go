// Package queue runs the hall's queue tickets: services with a letter prefix (A001…), counters
// that serve a set of services, priority tickets called first within a service, appointment
// check-in, calling (next, recall, transfer, served, no-show) and a daily reset at a configured
// hour. Every change is written to the local database (sync/store) before anyone sees it, with
// an event in the outbox for upload; numbers are never reused within a business day, also
// across restarts (the database refuses a number twice).
//
// One goroutine (Run) owns the queue's state and writes every change. Requests that arrive
// together are written in one transaction, so they share one fsync: that is what lets the kiosk
// and several counters issue and call at once without waiting on the disk in turn.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/kiosk/broadcast"
	"onepass/sync/store"
)

// Priority is a priority class: called before the others within a service.
type Priority string

// Priority classes (老年人、残疾人、孕妇优先).
const (
	Normal   Priority = ""
	Elderly  Priority = "elderly"
	Disabled Priority = "disabled"
	Pregnant Priority = "pregnant"
)

// Priorities lists the priority classes with their screen names.
var Priorities = []struct {
	Class  Priority `json:"class"`
	Zh, En string
}{{Elderly, "老年人优先", "Elderly"}, {Disabled, "残疾人优先", "Disabled"}, {Pregnant, "孕妇优先", "Pregnant"}}

func (p Priority) valid() bool { return p == Normal || p == Elderly || p == Disabled || p == Pregnant }

// Source is where a ticket was issued.
type Source string

// Sources.
const (
	FromKiosk       Source = "kiosk"       // the citizen after a PASS
	FromStaff       Source = "staff"       // the staff console or onepassctl
	FromAppointment Source = "appointment" // a booked appointment checked in
)

// State is where a ticket stands.
type State string

// Ticket states: waiting → called → served | no_show; waiting or called → expired at the daily reset.
const (
	Waiting State = "waiting"
	Called  State = "called"
	Served  State = "served"
	NoShow  State = "no_show"
	Expired State = "expired"
)

// Ticket is a queue ticket as the screens and the API show it.
type Ticket struct {
	ID          string    `json:"id"`
	Day         string    `json:"day"`
	Number      string    `json:"number"`
	Service     string    `json:"service"`
	ServiceName string    `json:"service_name"`
	Priority    Priority  `json:"priority,omitempty"`
	Source      Source    `json:"source"`
	State       State     `json:"state"`
	IssuedAt    time.Time `json:"issued_at"`
	CalledAt    time.Time `json:"called_at,omitzero"`
	Counter     string    `json:"counter,omitempty"`
	Recalls     int       `json:"recalls,omitempty"`
	Slot        time.Time `json:"slot,omitzero"` // appointment: the booked slot's start
}

// Options are the queue's collaborators.
type Options struct {
	Clock   clockwork.Clock
	Logger  *slog.Logger
	Printer device.TicketPrinter // nil: tickets are not printed (the screen shows the number)
}

// Queue is the hall's queue. Its methods are safe for concurrent use; they wait for Run.
type Queue struct {
	cfg     Config
	db      *store.Store
	clock   clockwork.Clock
	log     *slog.Logger
	printer device.TicketPrinter

	ops     chan *op
	stopped chan struct{} // closed when Run returns: nobody will answer any more
	prints  chan printJob

	st *state // owned by Run

	mu      sync.Mutex // guards what follows
	board   Board
	subs    broadcast.Latest[Board]
	version uint64
	pstate  PrinterState
	kiosk   *KioskTicket
}

// New loads the queue's state from the database. Run must be running for requests to be served.
func New(ctx context.Context, cfg Config, db *store.Store, o Options) (*Queue, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("queue: config: %w", err)
	}
	if db == nil {
		return nil, errors.New("queue: no database")
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	q := &Queue{
		cfg: cfg, db: db, clock: o.Clock, log: o.Logger.With("component", "queue"), printer: o.Printer,
		ops: make(chan *op, 256), stopped: make(chan struct{}), prints: make(chan printJob, 64),
		pstate: PrinterState{Configured: o.Printer != nil, OK: o.Printer != nil},
	}
	st, err := q.load(ctx)
	if err != nil {
		return nil, err
	}
	q.st = st
	q.publish()
	return q, nil
}

// Config returns the queue's configuration.
func (q *Queue) Config() Config { return q.cfg }

// op is one request to the Run goroutine: plan decides against the state without changing it.
type op struct {
	plan  func(st *state, now time.Time) (plan, error)
	res   any
	err   error
	reply chan struct{}
}

// plan is what an operation does: the rows it writes (all or none) and, once they are written,
// the change to the in-memory state, which returns the result for the caller.
type plan struct {
	writes []*store.TicketWrite
	apply  func() any
}

// Run serves requests and resets the numbering at the configured hour until ctx is done.
func (q *Queue) Run(ctx context.Context) error {
	defer close(q.stopped)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { q.printLoop(ctx) })
	for {
		next := q.cfg.nextReset(q.clock.Now())
		timer := q.clock.NewTimer(next.Sub(q.clock.Now()))
		select {
		case <-ctx.Done():
			timer.Stop()
			q.drain()
			return nil
		case o := <-q.ops:
			timer.Stop()
			batch := []*op{o}
		more:
			for len(batch) < cap(q.ops) {
				select {
				case o := <-q.ops:
					batch = append(batch, o)
				default:
					break more
				}
			}
			q.execute(ctx, batch)
		case <-timer.Chan():
			q.execute(ctx, nil) // the reset hour: close the day even if nobody asks anything
		}
	}
}

// drain answers requests still queued when Run stops.
func (q *Queue) drain() {
	for {
		select {
		case o := <-q.ops:
			o.err = ErrStopped
			close(o.reply)
		default:
			return
		}
	}
}

// execute plans and writes a batch in one transaction, then answers every request in it.
func (q *Queue) execute(ctx context.Context, batch []*op) {
	now := q.clock.Now()
	done := make([]bool, len(batch))
	err := q.db.WriteTickets(ctx, func(b *store.TicketBatch) error {
		if q.st.day != q.cfg.businessDay(now) || len(q.st.stale) > 0 {
			p, err := q.planRollover(ctx, now)
			if err != nil {
				return err
			}
			if err := b.Write(p.writes...); err != nil {
				return fmt.Errorf("daily reset: %w", err)
			}
			_ = p.apply()
		}
		for i, o := range batch {
			p, err := o.plan(q.st, now)
			if err != nil {
				o.err = err
				continue
			}
			if len(p.writes) > 0 {
				if err := b.Write(p.writes...); err != nil {
					o.err = fmt.Errorf("queue: %w", err)
					continue
				}
			}
			o.res, done[i] = p.apply(), true
		}
		return nil
	})
	if err != nil {
		// Nothing of the batch is on disk: whatever the state says now may be wrong, so read it
		// again from the database, the only truth.
		q.log.Error("queue change not written", "err", err)
		for i, o := range batch {
			if done[i] || o.err == nil {
				o.res, o.err = nil, fmt.Errorf("queue: %w", err)
			}
		}
		if st, lerr := q.load(ctx); lerr != nil {
			q.log.Error("queue state not reloaded", "err", lerr)
		} else {
			q.st = st
		}
	}
	// The board first: a caller answered must never read a board without its own change.
	q.publish()
	for _, o := range batch {
		close(o.reply)
	}
}

// do hands a request to Run and waits for its answer.
func (q *Queue) do(ctx context.Context, f func(st *state, now time.Time) (plan, error)) (any, error) {
	o := &op{plan: f, reply: make(chan struct{})}
	select {
	case q.ops <- o:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// Once handed over, the change is made whatever the caller does next (a ticket is issued even
	// if the browser went away), so wait for Run's answer: the caller's follow-up (printing the
	// ticket) must not be skipped. Run answers each batch right after its commit.
	select {
	case <-o.reply:
		return o.res, o.err
	case <-q.stopped:
		return nil, ErrStopped
	}
}

// IssueRequest asks for a ticket.
type IssueRequest struct {
	Service  string
	Priority Priority
	Source   Source // FromKiosk or FromStaff; check-ins go through CheckIn
	VisitID  string // the PASS the ticket follows (kiosk), "" for none
	Print    bool   // print it on the ticket printer
	// WaitPrint waits (up to twice the print timeout) for the printer's answer and reports it in
	// Printed and PrintProblem: staff and onepassctl must know whether to tell the number.
	// The kiosk does not wait: its screen shows the number at once and follows the board.
	WaitPrint bool
	// set by CheckIn
	appt *Appointment
}

// Issued is the answer to an issue request.
type Issued struct {
	Ticket   Ticket `json:"ticket"`
	Ahead    int    `json:"ahead"`              // tickets called before it, as things stand
	Existing bool   `json:"existing,omitempty"` // the pass or booking already had this ticket
	Printing bool   `json:"printing"`           // queued for the printer; the board tells how it went
	// With WaitPrint: whether the printer printed it, and if a print was wanted but did not
	// happen, why (Chinese and English; empty without a printer).
	Printed        bool   `json:"printed"`
	PrintProblem   string `json:"print_problem,omitempty"`
	PrintProblemZh string `json:"print_problem_zh,omitempty"`
}

// Issue gives a new ticket. A request for a pass that already has a ticket answers that ticket
// (Existing), so a double tap never gives two numbers.
func (q *Queue) Issue(ctx context.Context, r IssueRequest) (Issued, error) {
	if _, ok := q.cfg.service(r.Service); !ok {
		return Issued{}, ErrUnknownService.with("：%s", ": %s", r.Service)
	}
	if !r.Priority.valid() {
		return Issued{}, ErrBadPriority.with("：%s", ": %s", r.Priority)
	}
	if r.Source == "" {
		r.Source = FromStaff
	}
	if r.VisitID != "" {
		// A pass ticketed before a restart is not in memory: ask the database.
		if t, ok, err := q.db.TicketByVisit(ctx, r.VisitID); err != nil {
			return Issued{}, fmt.Errorf("queue: issue: %w", err)
		} else if ok {
			return Issued{Ticket: q.view(t), Existing: true}, nil
		}
	}
	res, err := q.do(ctx, func(st *state, now time.Time) (plan, error) { return q.planIssue(st, now, r) })
	if err != nil {
		return Issued{}, err
	}
	is := res.(Issued)
	if r.Print && !is.Existing {
		var done <-chan printResult
		is.Printing, done = q.enqueuePrint(is, r.VisitID, r.Source == FromKiosk, r.WaitPrint)
		if r.WaitPrint {
			q.awaitPrint(ctx, &is, done)
		}
	}
	return is, nil
}

// IssueAfterPass gives the citizen at the kiosk a ticket for service, for the pass visitID: the
// visit must be a PASS no older than the pass window.
func (q *Queue) IssueAfterPass(ctx context.Context, visitID, service string) (Issued, error) {
	if err := q.checkPass(ctx, visitID); err != nil {
		return Issued{}, err
	}
	return q.Issue(ctx, IssueRequest{Service: service, Source: FromKiosk, VisitID: visitID, Print: true})
}

func (q *Queue) checkPass(ctx context.Context, visitID string) error {
	if _, err := uuid.Parse(visitID); err != nil {
		return ErrNoPass
	}
	v, ok, err := q.db.VisitByID(ctx, visitID)
	switch {
	case err != nil:
		return fmt.Errorf("queue: pass: %w", err)
	case !ok:
		return ErrNoPass
	case v.Outcome != "PASS":
		return ErrNotPassed
	case q.clock.Since(v.At) > q.cfg.PassWindow:
		return ErrPassExpired
	}
	return nil
}

// CheckIn turns a booked appointment's code into a ticket for its service, marked with its slot
// and called before walk-ins once the slot has begun. visitID binds it to a pass at the kiosk
// ("" at the staff console).
func (q *Queue) CheckIn(ctx context.Context, code, visitID string) (Issued, error) {
	if len(q.cfg.AppointmentKeys) == 0 {
		return Issued{}, ErrAppointmentOff
	}
	a, err := ParseAppointment(strings.TrimSpace(code), q.cfg.AppointmentKeys, q.cfg.location())
	if err != nil {
		return Issued{}, err
	}
	if _, ok := q.cfg.service(a.Service); !ok {
		return Issued{}, ErrUnknownService.with("：%s", ": %s", a.Service)
	}
	now := q.clock.Now()
	switch {
	case q.cfg.businessDay(a.Slot) != q.cfg.businessDay(now):
		return Issued{}, ErrApptWrongDay.with("（%s）", " (%s)", a.Slot.In(q.cfg.location()).Format("2006-01-02 15:04"))
	case now.Before(a.Slot.Add(-q.cfg.AppointmentEarly)):
		return Issued{}, ErrApptTooEarly.with("，请于 %s 后签到", "; check in after %s", a.Slot.Add(-q.cfg.AppointmentEarly).In(q.cfg.location()).Format("15:04"))
	case now.After(a.Slot.Add(q.cfg.AppointmentLate)):
		return Issued{}, ErrApptTooLate
	}
	if t, ok, err := q.db.TicketByAppointment(ctx, a.Ref); err != nil {
		return Issued{}, fmt.Errorf("queue: check-in: %w", err)
	} else if ok {
		return Issued{}, ErrApptUsed.with("（%s）", " (%s)", t.Number)
	}
	src := FromStaff
	if visitID != "" {
		if err := q.checkPass(ctx, visitID); err != nil {
			return Issued{}, err
		}
		src = FromKiosk
	}
	return q.Issue(ctx, IssueRequest{Service: a.Service, Source: src, VisitID: visitID, Print: true, WaitPrint: visitID == "", appt: &a})
}

// CallNext calls the next ticket to counter: priority tickets first, then appointments whose
// slot has begun, then everyone else in issue order; across the counter's services the same
// order holds. The ticket the counter had called before is marked served.
func (q *Queue) CallNext(ctx context.Context, counter string) (Ticket, error) {
	if _, ok := q.cfg.counter(counter); !ok {
		return Ticket{}, ErrUnknownCounter.with("：%s", ": %s", counter)
	}
	res, err := q.do(ctx, func(st *state, now time.Time) (plan, error) { return q.planCall(st, now, counter) })
	if err != nil {
		return Ticket{}, err
	}
	return res.(Ticket), nil
}

// Recall calls the counter's current ticket again.
func (q *Queue) Recall(ctx context.Context, counter string) (Ticket, error) {
	return q.counterOp(ctx, counter, q.planRecall)
}

// Served marks the counter's current ticket served.
func (q *Queue) Served(ctx context.Context, counter string) (Ticket, error) {
	return q.counterOp(ctx, counter, func(st *state, now time.Time, c string) (plan, error) {
		return q.planFinish(st, now, c, Served)
	})
}

// NoShow marks the counter's current ticket as not come.
func (q *Queue) NoShow(ctx context.Context, counter string) (Ticket, error) {
	return q.counterOp(ctx, counter, func(st *state, now time.Time, c string) (plan, error) {
		return q.planFinish(st, now, c, NoShow)
	})
}

// Transfer sends the counter's current ticket to another service's queue. It keeps its number,
// its priority and its place by issue time, so the person does not start again at the back.
func (q *Queue) Transfer(ctx context.Context, counter, service string) (Ticket, error) {
	if _, ok := q.cfg.service(service); !ok {
		return Ticket{}, ErrUnknownService.with("：%s", ": %s", service)
	}
	return q.counterOp(ctx, counter, func(st *state, now time.Time, c string) (plan, error) {
		return q.planTransfer(st, now, c, service)
	})
}

func (q *Queue) counterOp(ctx context.Context, counter string, f func(*state, time.Time, string) (plan, error)) (Ticket, error) {
	if _, ok := q.cfg.counter(counter); !ok {
		return Ticket{}, ErrUnknownCounter.with("：%s", ": %s", counter)
	}
	res, err := q.do(ctx, func(st *state, now time.Time) (plan, error) { return f(st, now, counter) })
	if err != nil {
		return Ticket{}, err
	}
	return res.(Ticket), nil
}

// ticketURL fills the check-in URL template for t.
func (q *Queue) ticketURL(t Ticket) string {
	if q.cfg.TicketURL == "" {
		return ""
	}
	return strings.NewReplacer("{id}", t.ID, "{number}", t.Number, "{day}", t.Day).Replace(q.cfg.TicketURL)
}

// view turns a stored ticket into the API's form.
func (q *Queue) view(t store.Ticket) Ticket {
	s, _ := q.cfg.service(t.Service)
	return Ticket{
		ID: t.ID, Day: t.Day, Number: t.Number, Service: t.Service, ServiceName: s.Name,
		Priority: Priority(t.Priority), Source: Source(t.Source), State: State(t.State),
		IssuedAt: t.IssuedAt, CalledAt: t.CalledAt, Counter: t.Counter, Recalls: t.Recalls, Slot: t.Slot,
	}
}

// numberOf formats a display number: the prefix and at least three digits.
func numberOf(prefix string, seq int) string { return fmt.Sprintf("%s%03d", prefix, seq) }

// sortedCodes is the services of a counter in configuration order.
func (q *Queue) sortedCodes(c Counter) []string {
	out := make([]string, 0, len(c.Services))
	for _, s := range q.cfg.Services {
		if slices.Contains(c.Services, s.Code) {
			out = append(out, s.Code)
		}
	}
	return out
}
