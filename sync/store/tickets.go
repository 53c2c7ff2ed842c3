package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
)

// Ticket is one queue ticket as stored (kiosk/queue owns the rules; this is the record).
type Ticket struct {
	ID          string // UUIDv7
	Day         string // business day, YYYY-MM-DD
	Number      string // A012
	Origin      string // the service that numbered it
	Service     string // the service whose queue holds it now
	Priority    string // "", elderly, disabled, pregnant
	Source      string // kiosk, staff, appointment
	VisitID     string // the PASS it was taken after, "" for none
	Appointment string // booking reference of an appointment check-in, "" for none
	Slot        time.Time
	State       string // waiting, called, served, no_show, expired
	Rank        int64  // queue order within the day
	IssuedAt    time.Time
	CalledAt    time.Time // first call
	Counter     string
	Recalls     int
	DoneAt      time.Time
}

// TicketEvent is one thing that happened to a ticket, as uploaded to the platform. It carries
// no personal data: a ticket is anonymous (the visit it follows is uploaded on its own).
type TicketEvent struct {
	ID          string // UUIDv7; WriteTickets fills it when empty
	TicketID    string
	At          time.Time
	Kind        string // issued, called, recalled, transferred, served, no_show, expired
	Day         string
	Number      string
	Service     string
	FromService string // transferred: the service it left
	Counter     string
	Priority    string
	Source      string
	Slot        time.Time
	Waited      time.Duration // issued → first call (→ close when never called)
}

// TicketWrite is one change to the queue: the ticket's new row, the event that records it
// (queued in the outbox) and, for a new ticket, the number it used.
type TicketWrite struct {
	Ticket Ticket
	Event  TicketEvent
	// Seq > 0 records that Ticket.Origin's counter for Ticket.Day reached Seq.
	Seq int
}

// TicketBatch is an open write transaction for queue changes (see WriteTickets).
type TicketBatch struct {
	ctx context.Context
	tx  *sql.Tx
	n   int
}

// WriteTickets runs fn in one write transaction and commits it, so many queue changes share one
// fsync. Each Write inside is all-or-nothing on its own (a savepoint): a write that fails (a
// number used twice, a pass that already has a ticket) leaves the others in the batch intact.
// When WriteTickets returns nil every successful Write is on disk.
func (s *Store) WriteTickets(ctx context.Context, fn func(b *TicketBatch) error) error {
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error { return fn(&TicketBatch{ctx: ctx, tx: tx}) })
	if err != nil {
		return fmt.Errorf("store: write tickets: %w", err)
	}
	return nil
}

// Write stores the changes of one queue operation, all or none. It fills each Event.ID that is
// empty (only when the whole call succeeds, so a retry gets fresh IDs for nothing stored).
func (b *TicketBatch) Write(ws ...*TicketWrite) error {
	b.n++
	sp := fmt.Sprintf("tw%d", b.n)
	if _, err := b.tx.ExecContext(b.ctx, "SAVEPOINT "+sp); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	ids := make([]string, len(ws))
	for i, w := range ws {
		id, err := b.write(w)
		if err != nil {
			if _, rerr := b.tx.ExecContext(b.ctx, "ROLLBACK TO "+sp+"; RELEASE "+sp); rerr != nil {
				return fmt.Errorf("store: ticket %s: %w (and rollback: %v)", w.Ticket.Number, err, rerr)
			}
			return fmt.Errorf("store: ticket %s: %w", w.Ticket.Number, err)
		}
		ids[i] = id
	}
	if _, err := b.tx.ExecContext(b.ctx, "RELEASE "+sp); err != nil {
		return fmt.Errorf("store: release savepoint: %w", err)
	}
	for i, w := range ws {
		w.Event.ID = ids[i]
	}
	return nil
}

func (b *TicketBatch) write(w *TicketWrite) (string, error) {
	tid, err := uuid.Parse(w.Ticket.ID)
	if err != nil {
		return "", fmt.Errorf("ticket id %q: %w", w.Ticket.ID, err)
	}
	var eid uuid.UUID
	if w.Event.ID == "" {
		eid, err = uuid.NewV7()
	} else {
		eid, err = uuid.Parse(w.Event.ID)
	}
	if err != nil {
		return "", fmt.Errorf("ticket event id %q: %w", w.Event.ID, err)
	}
	var visit []byte
	if w.Ticket.VisitID != "" {
		v, err := uuid.Parse(w.Ticket.VisitID)
		if err != nil {
			return "", fmt.Errorf("ticket visit id %q: %w", w.Ticket.VisitID, err)
		}
		visit = v[:]
	}
	return eid.String(), b.exec(tid, eid, visit, w)
}

func (b *TicketBatch) exec(tid, eid uuid.UUID, visit []byte, w *TicketWrite) error {
	t, e := &w.Ticket, &w.Event
	appt := sql.NullString{String: t.Appointment, Valid: t.Appointment != ""}
	if _, err := b.tx.ExecContext(b.ctx, `
INSERT INTO tickets (id, day, number, origin, service, priority, source, visit_id, appointment, slot,
	state, rank, issued_at, called_at, counter, recalls, done_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET service = excluded.service, priority = excluded.priority,
	state = excluded.state, rank = excluded.rank, called_at = excluded.called_at,
	counter = excluded.counter, recalls = excluded.recalls, done_at = excluded.done_at`,
		tid[:], t.Day, t.Number, t.Origin, t.Service, t.Priority, t.Source, visit, appt, wire.UnixMS(t.Slot),
		t.State, t.Rank, wire.UnixMS(t.IssuedAt), wire.UnixMS(t.CalledAt), t.Counter, t.Recalls, wire.UnixMS(t.DoneAt)); err != nil {
		return err
	}
	if w.Seq > 0 {
		if _, err := b.tx.ExecContext(b.ctx, `
INSERT INTO ticket_numbers (day, service, last) VALUES (?, ?, ?)
ON CONFLICT (day, service) DO UPDATE SET last = max(last, excluded.last)`, t.Day, t.Origin, w.Seq); err != nil {
			return err
		}
	}
	if _, err := b.tx.ExecContext(b.ctx, `
INSERT INTO ticket_events (id, ticket_id, at, kind, day, number, service, from_svc, counter, priority, source, slot, waited_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		eid[:], tid[:], wire.UnixMS(e.At), e.Kind, e.Day, e.Number, e.Service, e.FromService, e.Counter, e.Priority,
		e.Source, wire.UnixMS(e.Slot), e.Waited.Milliseconds()); err != nil {
		return err
	}
	_, err := b.tx.ExecContext(b.ctx, `INSERT INTO outbox (ticket_event_id) VALUES (?)`, eid[:])
	return err
}

const ticketCols = `id, day, number, origin, service, priority, source, visit_id, appointment, slot,
	state, rank, issued_at, called_at, counter, recalls, done_at`

// OpenTickets returns the tickets still waiting or called, of every day, in rank order within a
// day (the queue loads today's and closes earlier days' at start).
func (s *Store) OpenTickets(ctx context.Context) ([]Ticket, error) {
	ts, err := s.queryTickets(ctx, `SELECT `+ticketCols+` FROM tickets
		WHERE state IN ('waiting', 'called') ORDER BY day, rank`)
	if err != nil {
		return nil, fmt.Errorf("store: open tickets: %w", err)
	}
	return ts, nil
}

// LastCalls returns up to n tickets of day that were called, latest call first.
func (s *Store) LastCalls(ctx context.Context, day string, n int) ([]Ticket, error) {
	ts, err := s.queryTickets(ctx, `SELECT `+ticketCols+` FROM tickets
		WHERE day = ? AND called_at > 0 ORDER BY called_at DESC, rank DESC LIMIT ?`, day, n)
	if err != nil {
		return nil, fmt.Errorf("store: last calls: %w", err)
	}
	return ts, nil
}

// TicketByAppointment finds the ticket a booking was checked in with.
func (s *Store) TicketByAppointment(ctx context.Context, ref string) (Ticket, bool, error) {
	return s.oneTicket(ctx, `SELECT `+ticketCols+` FROM tickets WHERE appointment = ?`, ref)
}

// TicketByVisit finds the ticket taken after a pass.
func (s *Store) TicketByVisit(ctx context.Context, visitID string) (Ticket, bool, error) {
	id, err := uuid.Parse(visitID)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("store: visit id %q: %w", visitID, err)
	}
	return s.oneTicket(ctx, `SELECT `+ticketCols+` FROM tickets WHERE visit_id = ?`, id[:])
}

func (s *Store) oneTicket(ctx context.Context, q string, arg any) (Ticket, bool, error) {
	ts, err := s.queryTickets(ctx, q, arg)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("store: ticket lookup: %w", err)
	}
	if len(ts) == 0 {
		return Ticket{}, false, nil
	}
	return ts[0], true, nil
}

// TicketNumbers returns the last number given per service on day.
func (s *Store) TicketNumbers(ctx context.Context, day string) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT service, last FROM ticket_numbers WHERE day = ?`, day)
	if err != nil {
		return nil, fmt.Errorf("store: ticket numbers: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var svc string
		var last int
		if err := rows.Scan(&svc, &last); err != nil {
			return nil, fmt.Errorf("store: ticket numbers: %w", err)
		}
		out[svc] = last
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: ticket numbers: %w", err)
	}
	return out, nil
}

// MaxTicketRank returns the highest rank used on day (0 when none), so ranks stay increasing
// across restarts.
func (s *Store) MaxTicketRank(ctx context.Context, day string) (int64, error) {
	var r sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(rank) FROM tickets WHERE day = ?`, day).Scan(&r); err != nil {
		return 0, fmt.Errorf("store: max ticket rank: %w", err)
	}
	return r.Int64, nil
}

func (s *Store) queryTickets(ctx context.Context, q string, args ...any) ([]Ticket, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Ticket
	for rows.Next() {
		var (
			t                          Ticket
			id, visit                  []byte
			appt                       sql.NullString
			slot, issued, called, done int64
		)
		if err := rows.Scan(&id, &t.Day, &t.Number, &t.Origin, &t.Service, &t.Priority, &t.Source, &visit, &appt,
			&slot, &t.State, &t.Rank, &issued, &called, &t.Counter, &t.Recalls, &done); err != nil {
			return nil, err
		}
		u, err := uuid.FromBytes(id)
		if err != nil {
			return nil, fmt.Errorf("ticket id %x: %w", id, err)
		}
		t.ID = u.String()
		if visit != nil {
			v, err := uuid.FromBytes(visit)
			if err != nil {
				return nil, fmt.Errorf("ticket %s: visit id %x: %w", t.ID, visit, err)
			}
			t.VisitID = v.String()
		}
		t.Appointment = appt.String
		t.Slot, t.IssuedAt, t.CalledAt, t.DoneAt = wire.FromUnixMS(slot), wire.FromUnixMS(issued), wire.FromUnixMS(called), wire.FromUnixMS(done)
		out = append(out, t)
	}
	return out, rows.Err()
}

// PendingTickets returns up to limit ticket events waiting in the outbox, oldest first. Visits
// in the same outbox are returned by Pending; the two kinds are uploaded as separate record kinds.
func (s *Store) PendingTickets(ctx context.Context, limit int) ([]TicketEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: pending tickets: limit %d must be positive", limit)
	}
	rows, err := s.r.QueryContext(ctx, `
SELECT e.id, e.ticket_id, e.at, e.kind, e.day, e.number, e.service, e.from_svc, e.counter, e.priority, e.source, e.slot, e.waited_ms
FROM outbox o JOIN ticket_events e ON e.id = o.ticket_event_id ORDER BY o.seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending tickets: %w", err)
	}
	defer rows.Close()
	var out []TicketEvent
	for rows.Next() {
		var (
			e               TicketEvent
			id, tid         []byte
			at, slot, waitd int64
		)
		if err := rows.Scan(&id, &tid, &at, &e.Kind, &e.Day, &e.Number, &e.Service, &e.FromService, &e.Counter,
			&e.Priority, &e.Source, &slot, &waitd); err != nil {
			return nil, fmt.Errorf("store: pending tickets: %w", err)
		}
		eu, err1 := uuid.FromBytes(id)
		tu, err2 := uuid.FromBytes(tid)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("store: pending tickets: %w", err)
		}
		e.ID, e.TicketID = eu.String(), tu.String()
		e.At, e.Slot, e.Waited = wire.FromUnixMS(at), wire.FromUnixMS(slot), time.Duration(waitd)*time.Millisecond
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending tickets: %w", err)
	}
	return out, nil
}

// AckTickets removes the given ticket events from the outbox in one transaction and reports
// how many were removed; unknown, repeated or malformed IDs are skipped, as in Ack.
func (s *Store) AckTickets(ctx context.Context, ids []string) (int, error) {
	n, err := s.ackOutbox(ctx, "ticket_event_id", ids)
	if err != nil {
		return 0, fmt.Errorf("store: ack %d ticket events: %w", len(ids), err)
	}
	return n, nil
}

// TicketOutboxDepth reports how many ticket events wait for upload (OutboxDepth counts every
// record kind).
func (s *Store) TicketOutboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE ticket_event_id IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: ticket outbox depth: %w", err)
	}
	return n, nil
}

// VisitByID returns one visit, for the queue's "a ticket after a pass" check.
func (s *Store) VisitByID(ctx context.Context, id string) (Visit, bool, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return Visit{}, false, fmt.Errorf("store: visit id %q: %w", id, err)
	}
	vs, err := s.queryVisits(ctx, `SELECT `+visitCols+` FROM visits v WHERE v.id = ?`, u[:])
	if err != nil {
		return Visit{}, false, fmt.Errorf("store: visit %s: %w", id, err)
	}
	if len(vs) == 0 {
		return Visit{}, false, nil
	}
	return vs[0], true, nil
}
