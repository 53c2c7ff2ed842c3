package hub

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// TestVisitRecordJSON pins the export's JSON (visits export --format jsonl): the record's own
// fields, then the visit's as the kiosk sent it, flat and in this order.
func TestVisitRecordJSON(t *testing.T) {
	temp := 36.6
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	v := VisitRecord{ID: "0193", Device: "d-1", ReceivedAt: at, At: at,
		Visit: wire.Visit{Lane: "1", Method: "card", PersonKey: []byte{1}, SealedID: []byte{2}, MaskedName: "张*",
			TempC: &temp, Outcome: "pass", Reason: "ok"}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0193","device":"d-1","received_at":"2026-11-26T09:30:00Z","at":"2026-11-26T09:30:00Z",` +
		`"lane":"1","method":"card","person_key":"AQ==","sealed_id":"Ag==","masked_name":"张*","temp_c":36.6,"outcome":"pass","reason":"ok"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

// A staff decision's export carries who decided, the overridden visit and the chosen reason;
// other visits' JSON has none of these fields.
func TestVisitRecordJSONStaff(t *testing.T) {
	at := time.Date(2026, 11, 26, 9, 31, 0, 0, time.UTC)
	v := VisitRecord{ID: "0194", Device: "d-1", ReceivedAt: at, At: at,
		Visit: wire.Visit{Lane: "1", Method: "staff", MaskedName: "张*", Outcome: "PASS", Reason: "staff_override",
			StaffID: "7", Overrides: "0193", Note: "elderly_no_phone"}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"0194","device":"d-1","received_at":"2026-11-26T09:31:00Z","at":"2026-11-26T09:31:00Z",` +
		`"lane":"1","method":"staff","masked_name":"张*","outcome":"PASS","reason":"staff_override",` +
		`"staff_id":"7","overrides":"0193","note":"elderly_no_phone"}`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
}

// TestIngestConflicts: an ID the hub holds is accepted again only as sent (same device, same
// canonical content: a retry after a lost answer); from another device or with other content it
// is refused as a conflict and the held row stays as it was. A record dated more than MaxSkew and
// a day ahead of the hub's clock is refused.
func TestIngestConflicts(t *testing.T) { forBackends(t, testIngestConflicts) }

func testIngestConflicts(t *testing.T, be string) {
	now := time.Date(2026, 11, 26, 9, 30, 0, 123_000_000, time.UTC)
	h := newHub(t, be, Options{Now: func() time.Time { return now }, MaxSkew: 5 * time.Minute})
	at := now.Add(-time.Minute)
	visit := func(mod func(*wire.Record)) wire.Record {
		r := rec("01a21950-8d65-7153-94b4-e9b4bb700d05", func(r *wire.Record) {
			r.At = at
			r.Visit.SealedID = []byte("sealed")
		})
		if mod != nil {
			mod(&r)
		}
		return r
	}
	ticket := func(body string, mod func(*wire.Record)) wire.Record {
		r := wire.Record{ID: "01a21950-8d65-7153-94b4-e9b4bb700d06", Kind: "ticket", At: at, Body: json.RawMessage(body)}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	staffID := "01a21950-8d65-7153-94b4-e9b4bb700d07"
	staff := func(mod func(*wire.Record)) wire.Record {
		r := rec(staffID, staffDecision)
		r.At = at
		if mod != nil {
			mod(&r)
		}
		return r
	}
	// What the hub holds first, all from d-1.
	if ack, err := h.Ingest(bg, "d-1", []wire.Record{visit(nil), ticket(`{"event":"issued","number":"A012"}`, nil), staff(nil)}); err != nil || len(ack.Accepted) != 3 {
		t.Fatalf("first upload: %+v %v", ack, err)
	}
	for _, tc := range []struct {
		name   string
		device string
		r      wire.Record
		why    string // "" accepted
	}{
		{"retry as sent", "d-1", visit(nil), ""},
		{"retry, time spelled in another zone, below the millisecond", "d-1", visit(func(r *wire.Record) {
			r.At = at.In(time.FixedZone("CST", 8*3600)).Add(400 * time.Microsecond)
		}), ""},
		{"retry, overrides in capitals", "d-1", staff(func(r *wire.Record) { r.Visit.Overrides = strings.ToUpper(r.Visit.Overrides) }), ""},
		{"retry of a ticket, other spacing and key order", "d-1", ticket(`{ "number": "A012", "event": "issued" }`, nil), ""},
		{"same visit from another device", "d-2", visit(nil), conflictDevice},
		{"other outcome", "d-1", visit(func(r *wire.Record) { r.Visit.Outcome, r.Visit.Reason = "DENY", "status_red" }), conflictContent},
		{"other content from another device", "d-2", visit(func(r *wire.Record) { r.Visit.Lane = "2" }), conflictDevice},
		{"other time", "d-1", visit(func(r *wire.Record) { r.At = at.Add(time.Millisecond) }), conflictContent},
		{"other person", "d-1", visit(func(r *wire.Record) { r.Visit.PersonKey = key(1) }), conflictContent},
		{"sealed id dropped", "d-1", visit(func(r *wire.Record) { r.Visit.SealedID = nil }), conflictContent},
		{"temperature dropped", "d-1", visit(func(r *wire.Record) { r.Visit.TempC = nil }), conflictContent},
		{"other temperature", "d-1", visit(func(r *wire.Record) { v := 36.7; r.Visit.TempC = &v }), conflictContent},
		{"other masked name", "d-1", visit(func(r *wire.Record) { r.Visit.MaskedName = "李*" }), conflictContent},
		{"other staff note", "d-1", staff(func(r *wire.Record) { r.Visit.Note = "other" }), conflictContent},
		{"other overridden visit", "d-1", staff(func(r *wire.Record) { r.Visit.Overrides = "01a21950-8d65-7153-94b4-e9b4bb700d08" }), conflictContent},
		{"other ticket body", "d-1", ticket(`{"event":"called","number":"A012"}`, nil), conflictContent},
		{"ticket from another device", "d-2", ticket(`{"event":"issued","number":"A012"}`, nil), conflictDevice},
		{"a day and max_skew ahead", "d-1", rec(uuid.NewString(), func(r *wire.Record) { r.At = now.Add(24*time.Hour + 5*time.Minute) }), ""},
		{"beyond a day and max_skew ahead", "d-1", rec(uuid.NewString(), func(r *wire.Record) {
			r.At = now.Add(24*time.Hour + 5*time.Minute + time.Millisecond)
		}), "ahead of the hub's clock"},
		{"ticket far ahead", "d-1", ticket(`{}`, func(r *wire.Record) { r.ID, r.At = uuid.NewString(), now.AddDate(1, 0, 0) }), "ahead of the hub's clock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ack, err := h.Ingest(bg, tc.device, []wire.Record{tc.r})
			if err != nil {
				t.Fatal(err)
			}
			if tc.why == "" {
				if len(ack.Accepted) != 1 || len(ack.Rejected) != 0 {
					t.Fatalf("want accepted: %+v", ack)
				}
				return
			}
			if len(ack.Accepted) != 0 || len(ack.Rejected) != 1 || ack.Rejected[0].ID != tc.r.ID || !strings.Contains(ack.Rejected[0].Reason, tc.why) {
				t.Fatalf("want rejected %q: %+v", tc.why, ack)
			}
		})
	}
	// The held rows are the first upload's.
	err := h.Visits(bg, time.Time{}, func(v VisitRecord) error {
		switch v.ID {
		case visit(nil).ID:
			if v.Device != "d-1" || v.Outcome != "PASS" || v.Lane != "1" || !v.At.Equal(at) || v.TempC == nil || *v.TempC != 36.6 {
				t.Errorf("held visit changed: %+v", v)
			}
		case staffID:
			if v.Note != "elderly_no_phone" || v.Overrides != "01a21950-8d65-7153-94b4-e9b4bb700d05" {
				t.Errorf("held staff decision changed: %+v", v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var body string
	if err := h.r.QueryRow(`SELECT body FROM records WHERE device = 'd-1' AND kind = 'ticket' AND body LIKE '%A012%'`).Scan(&body); err != nil || body != `{"event":"issued","number":"A012"}` {
		t.Errorf("held ticket %q %v", body, err)
	}
}

// TestIngestConflictInOneBatch: two records with one ID in one batch: the first is stored, the
// second with other content is refused, as it would be in a later batch.
func TestIngestConflictInOneBatch(t *testing.T) { forBackends(t, testIngestConflictInOneBatch) }

func testIngestConflictInOneBatch(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	a := rec(uuid.NewString(), nil)
	b := a
	v := *a.Visit
	v.Outcome, v.Reason = "DENY", "fever"
	b.Visit = &v
	ack, err := h.Ingest(bg, "d-1", []wire.Record{a, a, b})
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Accepted) != 2 || len(ack.Rejected) != 1 || !strings.HasPrefix(ack.Rejected[0].Reason, "conflict:") {
		t.Fatalf("ack %+v", ack)
	}
}

// TestIngestRefusesNUL: a text field holding NUL is refused for good on both backends
// (PostgreSQL's text cannot hold it: stored as is, the batch would fail, and the kiosk retry it
// forever), and the rest of the batch is stored.
func TestIngestRefusesNUL(t *testing.T) { forBackends(t, testIngestRefusesNUL) }

func testIngestRefusesNUL(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	for _, mod := range []func(v *wire.Visit){
		func(v *wire.Visit) { v.MaskedName = "张\x00" },
		func(v *wire.Visit) { v.Lane = "1\x00" },
		func(v *wire.Visit) { v.Reason = "ok\x00" },
	} {
		bad := rec(uuid.NewString(), func(r *wire.Record) { mod(r.Visit) })
		good := rec(uuid.NewString(), nil)
		ack, err := h.Ingest(bg, "d-1", []wire.Record{bad, good})
		if err != nil {
			t.Fatal(err)
		}
		if len(ack.Accepted) != 1 || ack.Accepted[0] != good.ID || len(ack.Rejected) != 1 || ack.Rejected[0].ID != bad.ID {
			t.Fatalf("ack %+v", ack)
		}
	}
}
