package queue

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"onepass/sync/store"
)

// state is the open part of today's queue, kept in memory by Run. The database has all of it;
// this is what deciding and showing need, without a query per request.
type state struct {
	day     string
	numbers map[string]int           // last number per prefix today
	rank    int64                    // last rank given today
	open    map[string]*store.Ticket // waiting or called, by id
	lines   map[string]*line         // waiting tickets per service
	current map[string]string        // counter → id of its called ticket
	byVisit map[string]string        // visit id → ticket number (today's passes, also closed tickets)
	calls   []Call                   // latest first
	callSeq uint64
	stale   []store.Ticket // open tickets of earlier days, closed at the next write
	served  map[string]int // per service, today (since start)
}

// line is one service's waiting tickets, each list in the order it is called.
type line struct {
	prio   []*store.Ticket // by rank
	appt   []*store.Ticket // by slot, then rank
	normal []*store.Ticket // by rank
}

func (l *line) size() int { return len(l.prio) + len(l.appt) + len(l.normal) }

func (l *line) list(t *store.Ticket) *[]*store.Ticket {
	switch {
	case t.Priority != "":
		return &l.prio
	case !t.Slot.IsZero():
		return &l.appt
	}
	return &l.normal
}

func before(a, b *store.Ticket) bool {
	if !a.Slot.Equal(b.Slot) {
		return a.Slot.Before(b.Slot)
	}
	return a.Rank < b.Rank
}

func (l *line) add(t *store.Ticket) {
	lst := l.list(t)
	i, _ := slices.BinarySearchFunc(*lst, t, func(e, t *store.Ticket) int {
		if before(e, t) {
			return -1
		}
		return 1
	})
	*lst = slices.Insert(*lst, i, t)
}

func (l *line) remove(t *store.Ticket) {
	lst := l.list(t)
	if i := slices.Index(*lst, t); i >= 0 {
		*lst = slices.Delete(*lst, i, i+1)
	}
}

// class orders candidates: a priority ticket, an appointment whose slot began, anyone else.
const (
	classPriority = iota
	classDue
	classNormal
)

// next is the ticket this line would call now, with its class.
func (l *line) next(now time.Time) (*store.Ticket, int) {
	if len(l.prio) > 0 {
		return l.prio[0], classPriority
	}
	if len(l.appt) > 0 && !now.Before(l.appt[0].Slot) {
		return l.appt[0], classDue
	}
	if len(l.normal) > 0 {
		if len(l.appt) > 0 && l.appt[0].Rank < l.normal[0].Rank {
			return l.appt[0], classNormal // an early check-in waits its turn like a walk-in
		}
		return l.normal[0], classNormal
	}
	if len(l.appt) > 0 {
		return l.appt[0], classNormal
	}
	return nil, 0
}

// ahead counts the tickets this line calls before t, as things stand now. The lists are sorted,
// so this is a few binary searches, not a walk over a long queue.
func (l *line) ahead(t *store.Ticket, now time.Time) int {
	due, _ := slices.BinarySearchFunc(l.appt, now, func(e *store.Ticket, now time.Time) int {
		if now.Before(e.Slot) {
			return 1
		}
		return -1
	})
	byRank := func(lst []*store.Ticket) int {
		i, _ := slices.BinarySearchFunc(lst, t.Rank, func(e *store.Ticket, r int64) int {
			if e.Rank < r {
				return -1
			}
			return 1
		})
		return i
	}
	switch classOf(t, now) {
	case classPriority:
		return byRank(l.prio)
	case classDue:
		return len(l.prio) + slices.Index(l.appt, t)
	}
	n := len(l.prio) + due + byRank(l.normal)
	for _, e := range l.appt[due:] { // booked but early: they wait by check-in order
		if e.Rank < t.Rank {
			n++
		}
	}
	return n
}

func classOf(t *store.Ticket, now time.Time) int {
	switch {
	case t.Priority != "":
		return classPriority
	case !t.Slot.IsZero() && !now.Before(t.Slot):
		return classDue
	}
	return classNormal
}

// Call is one call on the hall screen.
type Call struct {
	Seq     uint64    `json:"seq"` // increases with every call and recall: the hall chimes on a new one
	Number  string    `json:"number"`
	Counter string    `json:"counter"`
	Service string    `json:"service"`
	At      time.Time `json:"at"`
	Recall  bool      `json:"recall,omitempty"`
}

func newState(day string) *state {
	return &state{
		day: day, numbers: map[string]int{}, open: map[string]*store.Ticket{}, lines: map[string]*line{},
		current: map[string]string{}, byVisit: map[string]string{}, served: map[string]int{},
	}
}

// load reads the queue of the current business day from the database.
func (q *Queue) load(ctx context.Context) (*state, error) {
	day := q.cfg.businessDay(q.clock.Now())
	st, err := q.loadDay(ctx, day)
	if err != nil {
		return nil, err
	}
	open, err := q.db.OpenTickets(ctx)
	if err != nil {
		return nil, fmt.Errorf("queue: load: %w", err)
	}
	for _, t := range open {
		if t.Day != day {
			st.stale = append(st.stale, t)
			continue
		}
		t := t
		if _, ok := q.cfg.service(t.Service); !ok {
			// The service was removed from the configuration: the ticket can never be called.
			st.stale = append(st.stale, t)
			continue
		}
		st.open[t.ID] = &t
		if t.VisitID != "" {
			st.byVisit[t.VisitID] = t.Number
		}
		switch State(t.State) {
		case Waiting:
			st.line(t.Service).add(&t)
		case Called:
			if _, ok := q.cfg.counter(t.Counter); ok && st.current[t.Counter] == "" {
				st.current[t.Counter] = t.ID
			} else {
				// Its counter is gone (or holds another): back to waiting, in its place.
				t.State, t.Counter = string(Waiting), ""
				st.line(t.Service).add(&t)
			}
		}
	}
	return st, nil
}

func (q *Queue) loadDay(ctx context.Context, day string) (*state, error) {
	st := newState(day)
	nums, err := q.db.TicketNumbers(ctx, day)
	if err != nil {
		return nil, fmt.Errorf("queue: load: %w", err)
	}
	st.numbers = nums
	if st.rank, err = q.db.MaxTicketRank(ctx, day); err != nil {
		return nil, fmt.Errorf("queue: load: %w", err)
	}
	calls, err := q.db.LastCalls(ctx, day, q.cfg.LastCalls)
	if err != nil {
		return nil, fmt.Errorf("queue: load: %w", err)
	}
	for i, t := range calls {
		st.calls = append(st.calls, Call{Seq: uint64(len(calls) - i), Number: t.Number, Counter: t.Counter, Service: t.Service, At: t.CalledAt})
	}
	st.callSeq = uint64(len(calls))
	return st, nil
}

func (st *state) line(svc string) *line {
	l := st.lines[svc]
	if l == nil {
		l = &line{}
		st.lines[svc] = l
	}
	return l
}

// event builds the outbox event for ticket t.
func event(t store.Ticket, kind string, now time.Time) store.TicketEvent {
	e := store.TicketEvent{TicketID: t.ID, At: now, Kind: kind, Day: t.Day, Number: t.Number, Service: t.Service,
		Counter: t.Counter, Priority: t.Priority, Source: t.Source, Slot: t.Slot}
	switch {
	case !t.CalledAt.IsZero() && kind != "called" && kind != "recalled":
		e.Waited = t.CalledAt.Sub(t.IssuedAt)
	default:
		e.Waited = now.Sub(t.IssuedAt)
	}
	if kind == "issued" {
		e.Waited = 0
	}
	return e
}

// planRollover closes the open tickets of earlier days (expired) and starts the new day's
// numbering. The new day's numbers come from the database, so a clock set back to a day already
// used continues its numbers instead of reusing them.
func (q *Queue) planRollover(ctx context.Context, now time.Time) (plan, error) {
	st := q.st
	day := q.cfg.businessDay(now)
	var ws []*store.TicketWrite
	closeTicket := func(t store.Ticket) {
		t.State, t.DoneAt = string(Expired), now
		ws = append(ws, &store.TicketWrite{Ticket: t, Event: event(t, "expired", now)})
	}
	for _, t := range st.stale {
		closeTicket(t)
	}
	next := st
	if st.day != day {
		for _, t := range st.open {
			closeTicket(*t)
		}
		var err error
		if next, err = q.loadDay(ctx, day); err != nil {
			return plan{}, err
		}
		// Passes of the last minutes before the reset keep their ticket.
		next.byVisit = st.byVisit
	}
	return plan{writes: ws, apply: func() any {
		next.stale = nil
		q.st = next
		q.log.Info("queue day started", "day", day, "closed", len(ws))
		return nil
	}}, nil
}

// planIssue numbers a new ticket.
func (q *Queue) planIssue(st *state, now time.Time, r IssueRequest) (plan, error) {
	if r.VisitID != "" {
		if num, ok := st.byVisit[r.VisitID]; ok {
			for _, t := range st.open {
				if t.Number == num {
					is := Issued{Ticket: q.view(*t), Existing: true, Ahead: st.line(t.Service).ahead(t, now)}
					return plan{apply: func() any { return is }}, nil
				}
			}
			return plan{}, errTicketNotActive.with("（%s）", " (%s)", num)
		}
	}
	seq := st.numbers[r.Service] + 1
	id, err := uuid.NewV7()
	if err != nil {
		return plan{}, fmt.Errorf("queue: ticket id: %w", err)
	}
	t := store.Ticket{
		ID: id.String(), Day: st.day, Number: numberOf(r.Service, seq), Origin: r.Service, Service: r.Service,
		Priority: string(r.Priority), Source: string(r.Source), VisitID: r.VisitID, State: string(Waiting),
		Rank: st.rank + 1, IssuedAt: now,
	}
	if r.appt != nil {
		t.Source, t.Appointment, t.Slot = string(FromAppointment), r.appt.Ref, r.appt.Slot
	}
	w := &store.TicketWrite{Ticket: t, Seq: seq, Event: event(t, "issued", now)}
	return plan{writes: []*store.TicketWrite{w}, apply: func() any {
		st.numbers[r.Service] = seq
		st.rank = t.Rank
		tp := &t
		st.open[t.ID] = tp
		if t.VisitID != "" {
			st.byVisit[t.VisitID] = t.Number
		}
		l := st.line(t.Service)
		l.add(tp)
		return Issued{Ticket: q.view(t), Ahead: l.ahead(tp, now)}
	}}, nil
}

// planCall picks the next ticket for counter and calls it; the counter's previous ticket is
// marked served.
func (q *Queue) planCall(st *state, now time.Time, counter string) (plan, error) {
	c, _ := q.cfg.counter(counter)
	var (
		best      *store.Ticket
		bestClass int
	)
	for _, svc := range q.sortedCodes(c) {
		t, class := st.line(svc).next(now)
		if t == nil {
			continue
		}
		if best == nil || class < bestClass || (class == bestClass && t.Rank < best.Rank) {
			best, bestClass = t, class
		}
	}
	if best == nil {
		return plan{}, ErrQueueEmpty.with("（%s 号窗口）", " (counter %s)", counter)
	}
	var ws []*store.TicketWrite
	var prev *store.Ticket
	if id := st.current[counter]; id != "" {
		prev = st.open[id]
		d := *prev
		d.State, d.DoneAt = string(Served), now
		ws = append(ws, &store.TicketWrite{Ticket: d, Event: event(d, "served", now)})
	}
	t := *best
	t.State, t.Counter = string(Called), counter
	if t.CalledAt.IsZero() {
		t.CalledAt = now
	}
	ev := event(t, "called", now)
	ws = append(ws, &store.TicketWrite{Ticket: t, Event: ev})
	return plan{writes: ws, apply: func() any {
		if prev != nil {
			delete(st.open, prev.ID)
			st.served[prev.Service]++
		}
		st.line(best.Service).remove(best)
		*best = t
		st.current[counter] = t.ID
		st.addCall(Call{Number: t.Number, Counter: counter, Service: t.Service, At: now}, q.cfg.LastCalls)
		return q.view(t)
	}}, nil
}

func (st *state) addCall(c Call, keep int) {
	st.callSeq++
	c.Seq = st.callSeq
	st.calls = slices.Insert(st.calls, 0, c)
	if len(st.calls) > keep {
		st.calls = st.calls[:keep]
	}
}

func (st *state) currentOf(counter string) (*store.Ticket, error) {
	id := st.current[counter]
	if id == "" {
		return nil, ErrNoCurrent.with("（%s 号窗口）", " (counter %s)", counter)
	}
	return st.open[id], nil
}

func (q *Queue) planRecall(st *state, now time.Time, counter string) (plan, error) {
	cur, err := st.currentOf(counter)
	if err != nil {
		return plan{}, err
	}
	t := *cur
	t.Recalls++
	w := &store.TicketWrite{Ticket: t, Event: event(t, "recalled", now)}
	return plan{writes: []*store.TicketWrite{w}, apply: func() any {
		*cur = t
		st.addCall(Call{Number: t.Number, Counter: counter, Service: t.Service, At: now, Recall: true}, q.cfg.LastCalls)
		return q.view(t)
	}}, nil
}

func (q *Queue) planFinish(st *state, now time.Time, counter string, to State) (plan, error) {
	cur, err := st.currentOf(counter)
	if err != nil {
		return plan{}, err
	}
	t := *cur
	t.State, t.DoneAt = string(to), now
	w := &store.TicketWrite{Ticket: t, Event: event(t, string(to), now)}
	return plan{writes: []*store.TicketWrite{w}, apply: func() any {
		delete(st.open, t.ID)
		delete(st.current, counter)
		if to == Served {
			st.served[t.Service]++
		}
		return q.view(t)
	}}, nil
}

func (q *Queue) planTransfer(st *state, now time.Time, counter, service string) (plan, error) {
	cur, err := st.currentOf(counter)
	if err != nil {
		return plan{}, err
	}
	if cur.Service == service {
		return plan{}, ErrSameService
	}
	t := *cur
	from := t.Service
	t.State, t.Service, t.Counter = string(Waiting), service, ""
	ev := event(t, "transferred", now)
	ev.FromService, ev.Counter = from, counter
	w := &store.TicketWrite{Ticket: t, Event: ev}
	return plan{writes: []*store.TicketWrite{w}, apply: func() any {
		*cur = t
		delete(st.current, counter)
		st.line(service).add(cur)
		return q.view(t)
	}}, nil
}
