package hub

import (
	"encoding/json"
	"testing"
	"time"

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
