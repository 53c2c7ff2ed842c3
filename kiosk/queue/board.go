package queue

import (
	"context"
	"slices"
	"time"

	"onepass/sync/store"
)

// Board is the queue as the hall screen, the staff console and the kiosk show it. It holds no
// personal data: numbers, services and counters only. Every change gives a new Board with a
// higher Version.
type Board struct {
	Version  uint64           `json:"version"`
	Day      string           `json:"day"`
	At       time.Time        `json:"at"`
	Hall     string           `json:"hall,omitempty"`
	Services []ServiceBoard   `json:"services"`
	Counters []CounterBoard   `json:"counters"`
	Calls    []Call           `json:"calls"` // latest first
	Printer  PrinterState     `json:"printer"`
	Kiosk    *KioskTicket     `json:"kiosk,omitempty"`
	Priority []PriorityOption `json:"priorities"`

	// AnnounceEn: the hall screen says each call in English too (config [queue] announce_en).
	AnnounceEn bool `json:"announce_en,omitempty"`
}

// PriorityOption is a priority class with its screen names.
type PriorityOption struct {
	Class Priority `json:"class"`
	Zh    string   `json:"zh"`
	En    string   `json:"en"`
}

// ServiceBoard is one service's queue.
type ServiceBoard struct {
	Service
	Waiting int `json:"waiting"`
	// Next lists the first waiting tickets in the order they would be called now.
	Next   []Waiter `json:"next"`
	Served int      `json:"served"` // today, since the daemon started
	Issued int      `json:"issued"` // numbers given today
}

// Waiter is a waiting ticket on the board.
type Waiter struct {
	Number   string    `json:"number"`
	Priority Priority  `json:"priority,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	Slot     time.Time `json:"slot,omitzero"`
}

// CounterBoard is one counter and the ticket it called.
type CounterBoard struct {
	Counter
	Current *Ticket `json:"current,omitempty"`
}

// PrinterState is how the last prints went; a ticket that could not be printed is listed until
// a print succeeds again, so no number silently vanishes.
type PrinterState struct {
	Configured bool      `json:"configured"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Unprinted  []string  `json:"unprinted,omitempty"` // numbers whose print failed, latest last
}

// KioskTicket is the last ticket taken at the kiosk, for the citizen's screen.
type KioskTicket struct {
	Seq         uint64    `json:"seq"`
	PassID      string    `json:"pass_id,omitempty"`
	Number      string    `json:"number"`
	Service     string    `json:"service"`
	ServiceName string    `json:"service_name"`
	ServiceEn   string    `json:"service_en"`
	Ahead       int       `json:"ahead"`
	Slot        time.Time `json:"slot,omitzero"`
	Print       string    `json:"print"` // printing, printed, failed, off
	PrintError  string    `json:"print_error,omitempty"`
	At          time.Time `json:"at"`
}

const boardNext = 20

// build makes the board from the state. Called by Run (or New) only.
func (q *Queue) build() Board {
	st := q.st
	now := q.clock.Now()
	b := Board{Day: st.day, At: now, Hall: q.cfg.Hall, AnnounceEn: q.cfg.AnnounceEn, Calls: slices.Clone(st.calls)}
	for _, p := range Priorities {
		b.Priority = append(b.Priority, PriorityOption{Class: p.Class, Zh: p.Zh, En: p.En})
	}
	for _, s := range q.cfg.Services {
		l := st.line(s.Code)
		sb := ServiceBoard{Service: s, Waiting: l.size(), Served: st.served[s.Code], Issued: st.numbers[s.Code]}
		sb.Next = l.first(now, boardNext)
		b.Services = append(b.Services, sb)
	}
	for _, c := range q.cfg.Counters {
		cb := CounterBoard{Counter: c}
		if id := st.current[c.ID]; id != "" {
			if t, ok := st.open[id]; ok {
				v := q.view(*t)
				cb.Current = &v
			}
		}
		b.Counters = append(b.Counters, cb)
	}
	if b.Calls == nil {
		b.Calls = []Call{}
	}
	return b
}

// first lists up to n waiting tickets in calling order.
func (l *line) first(now time.Time, n int) []Waiter {
	// Merge the three lists the way next() picks from them.
	p, a, o := l.prio, l.appt, l.normal
	out := []Waiter{}
	for len(out) < n && len(p)+len(a)+len(o) > 0 {
		var t *store.Ticket
		switch {
		case len(p) > 0:
			t, p = p[0], p[1:]
		case len(a) > 0 && !now.Before(a[0].Slot):
			t, a = a[0], a[1:]
		case len(o) > 0 && (len(a) == 0 || o[0].Rank < a[0].Rank):
			t, o = o[0], o[1:]
		default:
			t, a = a[0], a[1:]
		}
		out = append(out, Waiter{Number: t.Number, Priority: Priority(t.Priority), IssuedAt: t.IssuedAt, Slot: t.Slot})
	}
	return out
}

// publish makes the current state the Board everyone sees. Called by Run (or New) only.
func (q *Queue) publish() {
	b := q.build()
	q.mu.Lock()
	defer q.mu.Unlock()
	q.setBoard(b)
}

// setBoard stamps and delivers a board; q.mu is held.
func (q *Queue) setBoard(b Board) {
	q.version++
	b.Version = q.version
	b.Printer = q.pstate
	b.Printer.Unprinted = slices.Clone(q.pstate.Unprinted)
	if q.kiosk != nil {
		k := *q.kiosk
		b.Kiosk = &k
	}
	q.board = b
	q.subs.Send(b)
}

// republish sends the last board again with new printer or kiosk fields; q.mu is held.
func (q *Queue) republish() { q.setBoard(q.board) }

// Board returns the current board.
func (q *Queue) Board() Board {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.board
}

// Subscribe delivers every new Board until ctx is done, then closes the channel. A slow reader
// may miss intermediate boards but always gets the latest.
func (q *Queue) Subscribe(ctx context.Context) <-chan Board { return q.subs.Subscribe(ctx) }
