package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
)

func newTicket(day, number string, rank int64) Ticket {
	return Ticket{ID: uuid.Must(uuid.NewV7()).String(), Day: day, Number: number, Origin: number[:1],
		Service: number[:1], Source: "staff", State: "waiting", Rank: rank,
		IssuedAt: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
}

func issued(t Ticket, seq int) *TicketWrite {
	return &TicketWrite{Ticket: t, Seq: seq, Event: TicketEvent{TicketID: t.ID, At: t.IssuedAt, Kind: "issued",
		Day: t.Day, Number: t.Number, Service: t.Service, Source: t.Source}}
}

func TestTicketWritesAndOutbox(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	// A visit first, so the outbox holds both kinds.
	v := &Visit{Lane: "1", Method: "card", Outcome: "PASS"}
	if err := s.Append(ctx, v); err != nil {
		t.Fatal(err)
	}
	a1, a2, dup := newTicket("2026-11-26", "A001", 1), newTicket("2026-11-26", "A002", 2), newTicket("2026-11-26", "A001", 3)
	a2.VisitID = v.ID
	var errs []error
	err := s.WriteTickets(ctx, func(b *TicketBatch) error {
		for _, w := range []*TicketWrite{issued(a1, 1), issued(dup, 1), issued(a2, 2)} {
			errs = append(errs, b.Write(w))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The duplicate number fails alone; the writes around it stay.
	if errs[0] != nil || errs[2] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "UNIQUE") {
		t.Fatalf("write errors = %v; want only the second (number A001 twice) to fail", errs)
	}
	open, err := s.OpenTickets(ctx)
	if err != nil || len(open) != 2 || open[0].Number != "A001" || open[1].Number != "A002" || open[1].VisitID != v.ID {
		t.Fatalf("OpenTickets = %+v, %v", open, err)
	}
	if nums, err := s.TicketNumbers(ctx, "2026-11-26"); err != nil || nums["A"] != 2 {
		t.Fatalf("TicketNumbers = %v, %v", nums, err)
	}
	if r, err := s.MaxTicketRank(ctx, "2026-11-26"); err != nil || r != 2 {
		t.Fatalf("MaxTicketRank = %d, %v", r, err)
	}
	if got, ok, err := s.TicketByVisit(ctx, v.ID); err != nil || !ok || got.Number != "A002" {
		t.Fatalf("TicketByVisit = %+v %v %v", got, ok, err)
	}

	// Call A001: the row changes, another event is queued.
	a1.State, a1.CalledAt, a1.Counter = "called", a1.IssuedAt.Add(5*time.Minute), "3"
	call := &TicketWrite{Ticket: a1, Event: TicketEvent{TicketID: a1.ID, At: a1.CalledAt, Kind: "called", Day: a1.Day,
		Number: a1.Number, Service: "A", Counter: "3", Source: "staff", Waited: 5 * time.Minute}}
	if err := s.WriteTickets(ctx, func(b *TicketBatch) error { return b.Write(call) }); err != nil {
		t.Fatal(err)
	}
	calls, err := s.LastCalls(ctx, "2026-11-26", 5)
	if err != nil || len(calls) != 1 || calls[0].Counter != "3" || !calls[0].CalledAt.Equal(a1.CalledAt) {
		t.Fatalf("LastCalls = %+v, %v", calls, err)
	}

	// Visits and ticket events share the outbox but are listed and acknowledged apart.
	if n, err := s.OutboxDepth(ctx); err != nil || n != 4 {
		t.Fatalf("OutboxDepth = %d, %v; want 4 (1 visit, 3 ticket events)", n, err)
	}
	if p, err := s.Pending(ctx, 10); err != nil || len(p) != 1 || p[0].ID != v.ID {
		t.Fatalf("Pending = %+v, %v; want the visit only", p, err)
	}
	pt, err := s.PendingTickets(ctx, 10)
	if err != nil || len(pt) != 3 {
		t.Fatalf("PendingTickets = %+v, %v", pt, err)
	}
	if pt[0].Number != "A001" || pt[0].Kind != "issued" || pt[2].Kind != "called" || pt[2].Waited != 5*time.Minute || pt[2].ID != call.Event.ID {
		t.Errorf("PendingTickets order/content: %+v", pt)
	}
	if n, err := s.AckTickets(ctx, []string{pt[0].ID, pt[0].ID, "junk", v.ID}); err != nil || n != 1 {
		t.Fatalf("AckTickets = %d, %v; want 1 (a visit ID is not a ticket event)", n, err)
	}
	if n, err := s.TicketOutboxDepth(ctx); err != nil || n != 2 {
		t.Fatalf("TicketOutboxDepth = %d, %v", n, err)
	}
	if n, err := s.Ack(ctx, []string{v.ID, pt[1].ID}); err != nil || n != 1 {
		t.Fatalf("Ack = %d, %v; want 1 (a ticket event ID is not a visit)", n, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// A database at schema 2 with visits waiting keeps them, in order, after the outbox rebuild.
func TestTicketMigrationKeepsOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onepass.db")
	db, err := sql.Open("sqlite3", sqlitedb.DSN(path, busyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for i, m := range migrations[:2] {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 2"); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for i := range 3 {
		id := uuid.Must(uuid.NewV7())
		ids = append(ids, id)
		if _, err := db.ExecContext(ctx, `INSERT INTO visits (id, at, lane, method, masked_name, outcome, reason)
			VALUES (?, ?, '1', 'card', '', 'PASS', 'ok')`, id[:], i+1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO outbox (visit_id) VALUES (?)`, id[:]); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Pending(ctx, 10)
	if err != nil || len(p) != 3 {
		t.Fatalf("Pending after migration = %v, %v", p, err)
	}
	for i := range p {
		if p[i].ID != ids[i].String() {
			t.Errorf("pending[%d] = %s, want %s", i, p[i].ID, ids[i])
		}
	}
	// The new outbox refuses a row naming both kinds or neither.
	if _, err := s.w.ExecContext(ctx, `INSERT INTO outbox (visit_id, ticket_event_id) VALUES (NULL, NULL)`); err == nil {
		t.Error("an outbox row naming nothing was accepted")
	}
}
