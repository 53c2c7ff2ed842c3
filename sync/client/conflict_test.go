package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
)

// TestConflictIsQuarantined is the second enrolled device pushing visit IDs the hub
// already holds: the hub refuses them as conflicts, and that kiosk keeps its records in
// quarantine (never deleted) while the hub keeps the first device's rows. A visit dated far
// ahead of the hub's clock ends the same way; the rest of the batch goes up.
func TestConflictIsQuarantined(t *testing.T) {
	h := newHub(t, hub.Options{})
	a, b := newKiosk(t), newKiosk(t)
	a.enroll(h, nil)
	b.enroll(h, nil)
	temp := 36.5
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	visit := func(i int) store.Visit {
		return store.Visit{ID: uuid.Must(uuid.NewV7()).String(), At: at, Lane: "1", Method: "card", PersonKey: pkey(i), MaskedName: "张*",
			TempC: &temp, Outcome: "PASS", Reason: "ok"}
	}
	held, twin := visit(1), visit(2)
	for _, v := range []*store.Visit{&held, &twin} {
		if err := a.db.Append(bg, v); err != nil {
			t.Fatal(err)
		}
	}
	drain(t, a)

	other := held // a's ID with other content
	other.Outcome, other.Reason = "DENY", "status_red"
	future := visit(3)
	future.At = time.Now().Add(48 * time.Hour)
	fine := visit(4)
	want := map[string]string{other.ID: "conflict", twin.ID: "conflict", future.ID: "ahead of the hub's clock"}
	for _, v := range []*store.Visit{&other, &twin, &future, &fine} { // twin: a's very record, from b
		if err := b.db.Append(bg, v); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := b.c.Push(bg); err != nil || n != 4 {
		t.Fatalf("push: %d %v", n, err)
	}
	q, err := b.db.QuarantinedRecords(bg, 10)
	if err != nil || len(q) != len(want) {
		t.Fatalf("quarantine: %+v %v", q, err)
	}
	for _, r := range q {
		if !strings.Contains(r.Reason, want[r.ID]) || !strings.HasPrefix(r.Reason, "refused by the hub: ") {
			t.Errorf("quarantined %s: reason %q, want %q", r.ID, r.Reason, want[r.ID])
		}
	}
	for id := range want { // kept, not deleted
		if v, ok, err := b.db.VisitByID(bg, id); err != nil || !ok || v.ID != id {
			t.Errorf("b's visit %s: %+v %v %v", id, v, ok, err)
		}
	}
	if n, err := b.db.OutboxDepth(bg); err != nil || n != 0 {
		t.Errorf("b's outbox: %d %v", n, err)
	}
	if hl := b.c.Health(); hl.State != client.Degraded || !strings.Contains(hl.Reason, "quarantined") {
		t.Errorf("b's health: %v", hl)
	}
	got := map[string]hub.VisitRecord{}
	if err := h.hub.Visits(bg, time.Time{}, func(r hub.VisitRecord) error { got[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[held.ID].Outcome != "PASS" || got[held.ID].Device != got[twin.ID].Device || got[fine.ID].Device == got[held.ID].Device {
		t.Errorf("hub holds %+v", got)
	}
}
