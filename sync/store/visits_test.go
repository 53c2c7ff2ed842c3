package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

func ptr(f float64) *float64 { return &f }

func sameVisit(a, b Visit) bool {
	tempEq := (a.TempC == nil) == (b.TempC == nil) && (a.TempC == nil || *a.TempC == *b.TempC)
	// nil and empty byte slices are distinct in the store (NULL vs x'').
	bytesEq := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	return a.ID == b.ID && a.At.Equal(b.At) && a.Lane == b.Lane && a.Method == b.Method &&
		bytesEq(a.PersonKey, b.PersonKey) && bytesEq(a.SealedID, b.SealedID) &&
		a.MaskedName == b.MaskedName && tempEq && a.Outcome == b.Outcome && a.Reason == b.Reason &&
		a.StaffID == b.StaffID && a.Overrides == b.Overrides && a.Note == b.Note
}

// A staff decision keeps who decided, the visit it overrides and the chosen reason through the
// outbox and the lookups; a second decision on the same visit is refused, even when both are
// sent at once.
func TestOverrideColumns(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	at := time.UnixMilli(1_760_000_000_000).UTC()
	manual := Visit{At: at, Lane: "1", Method: "card", PersonKey: key(1), MaskedName: "王*", Outcome: "MANUAL", Reason: "status_unknown"}
	if err := s.Append(ctx, &manual); err != nil {
		t.Fatal(err)
	}
	staff := Visit{At: at.Add(time.Minute), Lane: "1", Method: "staff", PersonKey: key(1), MaskedName: "王*", Outcome: "PASS", Reason: "staff_override",
		StaffID: "7", Overrides: strings.ToUpper(manual.ID), Note: "elderly_no_phone"}
	if err := s.Append(ctx, &staff); err != nil {
		t.Fatal(err)
	}
	if staff.Overrides != manual.ID {
		t.Errorf("Overrides kept as %q, want the canonical %q", staff.Overrides, manual.ID)
	}
	got, ok, err := s.VisitByID(ctx, staff.ID)
	if err != nil || !ok || !sameVisit(got, staff) {
		t.Fatalf("VisitByID = %+v, %v, %v\nwant %+v", got, ok, err, staff)
	}
	if got, _, _ := s.VisitByID(ctx, manual.ID); got.StaffID != "" || got.Overrides != "" || got.Note != "" {
		t.Errorf("the lane's own visit got staff fields: %+v", got)
	}
	p, err := s.Pending(ctx, 10)
	if err != nil || len(p) != 2 || !sameVisit(p[1], staff) {
		t.Fatalf("Pending = %+v, %v", p, err)
	}
	again := Visit{Lane: "1", Method: "staff", Outcome: "DENY", Reason: "staff_override", StaffID: "8", Overrides: manual.ID}
	if err := s.Append(ctx, &again); !errors.Is(err, ErrAlreadyOverridden) {
		t.Fatalf("second override: %v, want ErrAlreadyOverridden", err)
	}
	if err := s.Append(ctx, &Visit{Lane: "1", Method: "staff", Outcome: "PASS", Overrides: "not-a-uuid"}); err == nil {
		t.Error("an override naming no UUID was stored")
	}

	// Two decisions on another visit at once: exactly one is stored.
	other := Visit{Lane: "1", Method: "manual", Outcome: "MANUAL", Reason: "status_stale"}
	if err := s.Append(ctx, &other); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for _, o := range []string{"PASS", "DENY"} {
		go func() {
			errs <- s.Append(ctx, &Visit{Lane: "1", Method: "staff", Outcome: o, Reason: "staff_override", StaffID: "7", Overrides: other.ID})
		}()
	}
	var stored, refused int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			stored++
		case errors.Is(err, ErrAlreadyOverridden):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if stored != 1 || refused != 1 {
		t.Errorf("concurrent overrides: %d stored, %d refused", stored, refused)
	}
}

func TestVisitRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	t0 := time.UnixMilli(1_760_000_000_000).UTC()
	fixedID := "01890a5d-ac96-774b-bcce-b302099a8057"

	visits := []Visit{
		{At: t0, Lane: "A", Method: "card", PersonKey: key(1), SealedID: []byte("sealed-1"),
			MaskedName: "张*", TempC: ptr(36.5), Outcome: "PASS"},
		{At: t0.Add(time.Second), Lane: "A", Method: "temp", TempC: ptr(38.2), Outcome: "DENY", Reason: "fever"},
		{At: t0.Add(2 * time.Second), Lane: "B", Method: "code", PersonKey: key(2), Outcome: "RETRY", Reason: "no temperature"},
		{ID: fixedID, At: t0.Add(3 * time.Second), Lane: "B", Method: "card+code", PersonKey: key(3),
			SealedID: []byte{}, MaskedName: "李*", Outcome: "MANUAL"},
		// Out-of-order clock: still uploaded in append order.
		{At: t0.Add(-time.Hour), Lane: "A", Method: "card", Outcome: "PASS"},
	}
	for i := range visits {
		if err := s.Append(ctx, &visits[i]); err != nil {
			t.Fatal(err)
		}
		u, err := uuid.Parse(visits[i].ID)
		if err != nil || u.Version() != 7 && visits[i].ID != fixedID {
			t.Fatalf("Append set ID %q (%v), want a UUIDv7", visits[i].ID, err)
		}
	}
	if visits[3].ID != fixedID {
		t.Fatalf("given ID replaced: %s", visits[3].ID)
	}

	if n, err := s.OutboxDepth(ctx); err != nil || n != len(visits) {
		t.Fatalf("OutboxDepth = %d, %v", n, err)
	}
	all, err := s.Pending(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(visits) {
		t.Fatalf("Pending returned %d, want %d", len(all), len(visits))
	}
	for i := range visits {
		if !sameVisit(all[i], visits[i]) {
			t.Errorf("Pending[%d] =\n %+v\nwant\n %+v", i, all[i], visits[i])
		}
	}
	if p, _ := s.Pending(ctx, 2); len(p) != 2 || p[0].ID != visits[0].ID || p[1].ID != visits[1].ID {
		t.Fatalf("Pending(2) = %v", p)
	}
	if _, err := s.Pending(ctx, 0); err == nil {
		t.Fatal("Pending(0) succeeded")
	}

	// Recent: newest first by time, whatever the outbox holds.
	rec, err := s.Recent(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{3, 2, 1} {
		if !sameVisit(rec[i], visits[want]) {
			t.Errorf("Recent[%d] = %+v, want visit %d", i, rec[i], want)
		}
	}

	ackTests := []struct {
		name string
		ids  []string
		want int
	}{
		{"unknown and malformed", []string{uuid.NewString(), "not-a-uuid", ""}, 0},
		{"none", nil, 0},
		{"two, one repeated", []string{visits[0].ID, visits[2].ID, visits[0].ID}, 2},
		{"already acked", []string{visits[0].ID}, 0},
		{"mixed", []string{visits[1].ID, uuid.NewString()}, 1},
	}
	depth := len(visits)
	for _, tt := range ackTests {
		n, err := s.Ack(ctx, tt.ids)
		if err != nil || n != tt.want {
			t.Fatalf("Ack %s = %d, %v; want %d", tt.name, n, err, tt.want)
		}
		depth -= n
		if d, _ := s.OutboxDepth(ctx); d != depth {
			t.Fatalf("after Ack %s: depth %d, want %d", tt.name, d, depth)
		}
	}
	p, _ := s.Pending(ctx, 100)
	if len(p) != 2 || p[0].ID != visits[3].ID || p[1].ID != visits[4].ID {
		t.Fatalf("Pending after acks = %v", p)
	}
	// Acknowledged visits stay in the staff console's history.
	if rec, _ := s.Recent(ctx, 100); len(rec) != len(visits) {
		t.Fatalf("Recent after acks has %d visits, want %d", len(rec), len(visits))
	}

	// A duplicate ID is refused, not silently merged.
	dup := visits[0]
	if err := s.Append(ctx, &dup); err == nil {
		t.Fatal("Append of a duplicate ID succeeded")
	}
	if err := s.Append(ctx, &Visit{ID: "bogus"}); err == nil {
		t.Fatal("Append with malformed ID succeeded")
	}
	if err := s.Append(ctx, nil); err == nil {
		t.Fatal("Append(nil) succeeded")
	}
}

func TestAppendDefaultsAt(t *testing.T) {
	s := newStore(t)
	before := time.Now()
	v := Visit{Lane: "A", Method: "card", Outcome: "PASS"}
	if err := s.Append(context.Background(), &v); err != nil {
		t.Fatal(err)
	}
	if v.At.Before(before) || time.Since(v.At) > time.Minute {
		t.Fatalf("At = %v, want about now", v.At)
	}
}

// TestConcurrentUse runs the daemon's three users at once: lanes append,
// the uploader drains the outbox, the console reads recent visits.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	const lanes, perLane = 3, 100

	var wg sync.WaitGroup
	appended := make(chan struct{})
	errs := make(chan error, 16)
	var lanesWG sync.WaitGroup
	for l := range lanes {
		lanesWG.Go(func() {
			for i := range perLane {
				v := &Visit{Lane: fmt.Sprint(l), Method: "card", Outcome: "PASS", TempC: ptr(36 + float64(i%10)/10)}
				if err := s.Append(ctx, v); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() { lanesWG.Wait(); close(appended) }()

	acked := 0
	wg.Go(func() { // uploader
		done := false
		for {
			select {
			case <-appended:
				done = true
			default:
			}
			p, err := s.Pending(ctx, 25)
			if err != nil {
				errs <- err
				return
			}
			if len(p) == 0 && done {
				return
			}
			ids := make([]string, len(p))
			for i, v := range p {
				ids[i] = v.ID
			}
			n, err := s.Ack(ctx, ids)
			if err != nil {
				errs <- err
				return
			}
			acked += n
		}
	})
	wg.Go(func() { // staff console
		for {
			select {
			case <-appended:
				return
			default:
			}
			if _, err := s.Recent(ctx, 20); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if acked != lanes*perLane {
		t.Fatalf("acked %d, want %d", acked, lanes*perLane)
	}
	if d, _ := s.OutboxDepth(ctx); d != 0 {
		t.Fatalf("depth %d, want 0", d)
	}
	if r, _ := s.Recent(ctx, 10*lanes*perLane); len(r) != lanes*perLane {
		t.Fatalf("visits %d, want %d", len(r), lanes*perLane)
	}
}

// TestAppendRefusesWhatTheHubRefuses: the store checks the hub's rule (wire.CheckVisit) before it
// queues a visit, so nothing it queues ends in quarantine.
func TestAppendRefusesWhatTheHubRefuses(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, v := range []*Visit{
		{Lane: "1", Method: "card", MaskedName: "张*", TempC: ptr(99.9), Outcome: "RETRY", Reason: "remeasure"},
		{Lane: "1", Method: "levitation", MaskedName: "张*", Outcome: "PASS", Reason: "ok"},
		{Lane: "", Method: "card", MaskedName: "张*", Outcome: "PASS", Reason: "ok"},
	} {
		err := s.Append(ctx, v)
		var ve *wire.VisitError
		if !errors.As(err, &ve) {
			t.Errorf("Append(%+v) = %v, want a wire.VisitError", *v, err)
		}
	}
	good := &Visit{Lane: "1", Method: "card", MaskedName: "张*", TempC: ptr(36.6), Outcome: "PASS", Reason: "ok"}
	hot := &Visit{Lane: "1", Method: "card", MaskedName: "张*", TempC: ptr(99.9), Outcome: "RETRY", Reason: "remeasure"}
	if err := s.AppendBatch(ctx, []*Visit{good, hot}); !errors.As(err, new(*wire.VisitError)) {
		t.Errorf("AppendBatch with a hot cup = %v, want a wire.VisitError", err)
	}
	// A hot cup as the lane now stores it: no temperature, RETRY remeasure.
	if err := s.Append(ctx, &Visit{Lane: "1", Method: "card", MaskedName: "张*", Outcome: "RETRY", Reason: "remeasure"}); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Pending(ctx, 10); err != nil || len(p) != 1 {
		t.Fatalf("pending %d (%v), want only the valid visit", len(p), err)
	}
}

// A database at schema 4 with visits the hub refused for an implausible temperature (one in
// quarantine, one still waiting) and names masked the old way comes out of migration 5 with
// every visit acceptable and queued, and no name given away.
func TestMigrationRepairsRefusedVisits(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "onepass.db")
	db, err := sql.Open("sqlite3", sqlitedb.DSN(path, busyTimeout))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	for i, m := range migrations[:4] {
		if _, err := db.ExecContext(ctx, m); err != nil {
			t.Fatalf("migration %d: %v", i+1, err)
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA user_version = 4"); err != nil {
		t.Fatal(err)
	}
	type row struct {
		name     string
		temp     any
		queued   string // outbox, quarantine
		wantName string
		wantTemp *float64
	}
	rows := []row{
		{"张*三", 99.9, "quarantine", "张**", nil},
		{"林*美", 36.6, "outbox", "林**", ptr(36.6)},
		{"欧**娜", -3.0, "outbox", "欧**娜", nil},
		{"Z**** S**", nil, "outbox", "Z**** S**", nil},
		{"A*B", 37.0, "quarantine", "A*B", ptr(37.0)}, // refused for another reason: stays
	}
	var ids []uuid.UUID
	for i, r := range rows {
		id := uuid.Must(uuid.NewV7())
		ids = append(ids, id)
		if _, err := db.ExecContext(ctx, `INSERT INTO visits (id, at, lane, method, masked_name, temp_c, outcome, reason)
			VALUES (?, ?, '1', 'card', ?, ?, 'RETRY', 'remeasure')`, id[:], i+1, r.name, r.temp); err != nil {
			t.Fatal(err)
		}
		q := `INSERT INTO outbox (visit_id) VALUES (?)`
		if r.queued == "quarantine" {
			q = `INSERT INTO quarantine (id, kind, at, reason) VALUES (?, 'visit', 1, 'refused by the hub')`
		}
		if _, err := db.ExecContext(ctx, q, id[:]); err != nil {
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
	if err != nil || len(p) != 4 || p[3].ID != ids[0].String() {
		t.Fatalf("pending after migration: %+v, %v; want the three waiting, then the requeued one", p, err)
	}
	got := map[string]Visit{}
	for _, v := range p {
		got[v.ID] = v
		if err := wire.CheckVisit(v.WireVisit()); err != nil {
			t.Errorf("visit %s still refused: %v", v.ID, err)
		}
	}
	q, err := s.QuarantinedRecords(ctx, 10)
	if err != nil || len(q) != 1 || q[0].ID != ids[4].String() {
		t.Fatalf("quarantine after migration: %+v, %v", q, err)
	}
	for i, r := range rows[:4] {
		v := got[ids[i].String()]
		if v.MaskedName != r.wantName || !sameVisit(Visit{TempC: v.TempC}, Visit{TempC: r.wantTemp}) {
			t.Errorf("%s: now %q, %v; want %q, %v", r.name, v.MaskedName, v.TempC, r.wantName, r.wantTemp)
		}
	}
}
