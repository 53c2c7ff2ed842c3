package hub

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// enrollIn enrolls a device in hall and answers its ID.
func enrollIn(t testing.TB, h *Hub, hall string) string {
	t.Helper()
	tok, err := h.NewToken(bg, hall, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	resp, _, err := h.Enroll(bg, wire.EnrollRequest{V: wire.Major, Token: tok, CSR: csr(t, k)})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Device
}

func visitAt(at time.Time, method, outcome, reason string) wire.Record {
	return rec(uuid.Must(uuid.NewV7()).String(), func(r *wire.Record) {
		r.At, r.Visit.Method, r.Visit.Outcome, r.Visit.Reason = at, method, outcome, reason
		if method == "staff" {
			r.Visit.StaffID, r.Visit.Overrides, r.Visit.Note = "7", uuid.NewString(), "elderly_no_phone"
		}
	})
}

func ticketAt(at time.Time, id, event, service string, waited time.Duration) wire.Record {
	body := fmt.Sprintf(`{"ticket_id":%q,"event":%q,"day":"2026-11-26","number":"A1","service":%q,"source":"kiosk","waited_ms":%d}`,
		id, event, service, waited.Milliseconds())
	return wire.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: "ticket", At: at, Body: json.RawMessage(body)}
}

func ingestAll(t testing.TB, h *Hub, device string, recs ...wire.Record) {
	t.Helper()
	ack, err := h.Ingest(bg, device, recs)
	if err != nil || len(ack.Rejected) > 0 {
		t.Fatalf("ingest: %+v %v", ack.Rejected, err)
	}
}

// TestHallDay: a hall's day counts its own devices' visits by local hour and outcome, fever
// denials, manual entries and staff decisions apart; tickets issued per service and the wait from
// issue to first call (average and nearest-rank p90); another hall's and another day's records
// are not counted.
func TestHallDay(t *testing.T) { forBackends(t, testHallDay) }

func testHallDay(t *testing.T, be string) {
	cst := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, cst)
	h := newHub(t, be, Options{Now: func() time.Time { return now }})
	a1, a2, b := enrollIn(t, h, "东城"), enrollIn(t, h, "东城"), enrollIn(t, h, "西城")
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	at := func(hh, mm int) time.Time {
		return day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	ingestAll(t, h, a1,
		visitAt(at(9, 0), "card", "PASS", "ok"), visitAt(at(9, 10), "code", "PASS", "ok"),
		visitAt(at(9, 59), "card", "DENY", "fever"), visitAt(at(10, 5), "card", "MANUAL", "status_stale"),
		visitAt(at(10, 6), "staff", "PASS", "staff_override"), visitAt(at(23, 59), "temp", "RETRY", "no_temperature"),
		visitAt(at(-1, 0), "card", "PASS", "ok"), // yesterday 23:00
		ticketAt(at(9, 0), "t1", "issued", "A", 0), ticketAt(at(9, 10), "t1", "called", "A", 10*time.Minute),
		ticketAt(at(9, 12), "t1", "called", "A", 12*time.Minute), // a recall: not a second wait
		ticketAt(at(9, 1), "t2", "issued", "A", 0), ticketAt(at(9, 31), "t2", "called", "A", 30*time.Minute),
		ticketAt(at(9, 2), "t3", "issued", "B", 0),
		ticketAt(at(8, 0), "t0", "called", "B", 40*time.Minute), // issued yesterday: the kiosk's measure
	)
	ingestAll(t, h, a2, visitAt(at(10, 30), "manual", "PASS", "ok"), ticketAt(at(11, 0), "t1", "issued", "A", 0),
		ticketAt(at(11, 2), "t1", "called", "A", 2*time.Minute)) // the same ticket ID on another kiosk: another ticket
	ingestAll(t, h, b, visitAt(at(9, 0), "card", "PASS", "ok"), ticketAt(at(9, 0), "x", "issued", "A", 0))

	d, err := h.HallDay(bg, "东城", day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var hourly [24]int
	hourly[9], hourly[10], hourly[23] = 3, 2, 1
	if d.Hourly != hourly {
		t.Errorf("hourly %v, want %v", d.Hourly, hourly)
	}
	if d.Visits != 6 || d.Fever != 1 || d.Manual != 1 || d.Issued != 4 {
		t.Errorf("visits %d fever %d manual %d issued %d, want 6 1 1 4", d.Visits, d.Fever, d.Manual, d.Issued)
	}
	if want := map[string]int{"PASS": 3, "DENY": 1, "MANUAL": 1, "RETRY": 1}; !reflect.DeepEqual(d.Outcomes, want) {
		t.Errorf("outcomes %v, want %v", d.Outcomes, want)
	}
	if want := map[string]int{"PASS": 1}; !reflect.DeepEqual(d.Overrides, want) {
		t.Errorf("overrides %v, want %v", d.Overrides, want)
	}
	want := []ServiceDay{
		// A: waits 10, 30 and 2 min: average 14, p90 (rank 3 of 3) 30.
		{Service: "A", Issued: 3, Called: 3, AvgWait: 14 * time.Minute, P90Wait: 30 * time.Minute},
		{Service: "B", Issued: 1, Called: 1, AvgWait: 40 * time.Minute, P90Wait: 40 * time.Minute},
	}
	if !reflect.DeepEqual(d.Services, want) {
		t.Errorf("services %+v, want %+v", d.Services, want)
	}
	if _, err := h.HallDay(bg, "东城", day, day.AddDate(0, 0, 7)); err == nil {
		t.Error("a week's range was accepted: queries are bounded to a day")
	}
}

func TestPercentile(t *testing.T) {
	m := func(ns ...int) []time.Duration {
		var ds []time.Duration
		for _, n := range ns {
			ds = append(ds, time.Duration(n)*time.Minute)
		}
		return ds
	}
	tests := []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{nil, 90, 0},
		{m(5), 90, 5 * time.Minute},
		{m(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Minute},
		{m(10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 11), 90, 10 * time.Minute}, // rank ceil(9.9) = 10
		{m(3, 1, 2), 50, 2 * time.Minute},
	}
	for _, tc := range tests {
		if got := Percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %d) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

// TestAudit: the day's staff decisions and manual entries (of a hall, or all), code, device and
// issuer revocations and policy versions, newest first; never a person key or sealed ID.
func TestAudit(t *testing.T) { forBackends(t, testAudit) }

func testAudit(t *testing.T, be string) {
	cst := time.FixedZone("CST", 8*3600)
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	now := day.Add(9 * time.Hour)
	h := newHub(t, be, Options{Now: func() time.Time { return now }})
	a, b := enrollIn(t, h, "东城"), enrollIn(t, h, "西城")
	ingestAll(t, h, a, visitAt(day.Add(10*time.Hour), "staff", "DENY", "staff_override"), visitAt(day.Add(11*time.Hour), "card", "PASS", "ok"))
	ingestAll(t, h, b, visitAt(day.Add(12*time.Hour), "manual", "MANUAL", "status_stale"))
	now = day.Add(13 * time.Hour)
	if _, err := h.RevokeCode(bg, make([]byte, 16), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	now = day.Add(14 * time.Hour)
	if err := h.RevokeDevice(bg, b); err != nil {
		t.Fatal(err)
	}
	now = day.Add(15 * time.Hour)
	if _, err := h.SetPolicy(bg, wire.PolicyVersion{FeverC: 37.5, ValidFrom: day.Add(20 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	all, more, err := h.Audit(bg, "", day, day.AddDate(0, 0, 1))
	if err != nil || more {
		t.Fatal(err, more)
	}
	var kinds []string
	for _, e := range all {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "policy device_revoked code_revoked manual override" {
		t.Fatalf("kinds %q", got)
	}
	ov := all[4]
	if ov.Who != "7" || ov.Subject != "张*" || ov.Outcome != "DENY" || ov.Hall != "东城" || ov.Detail != "elderly_no_phone" || !ov.At.Equal(day.Add(10*time.Hour)) {
		t.Errorf("override %+v", ov)
	}
	if all[1].Device != b || all[1].Hall != "西城" || all[2].Subject != strings.Repeat("00", 16) || !strings.Contains(all[0].Detail, "fever_c=37.5") {
		t.Errorf("entries %+v", all[:3])
	}
	east, _, err := h.Audit(bg, "东城", day, day.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(east) != 4 || east[3].Kind != "override" {
		t.Errorf("东城's audit %+v: want its override and the hub's own three", east)
	}
	yesterday, _, _ := h.Audit(bg, "", day.AddDate(0, 0, -1), day)
	if len(yesterday) != 0 {
		t.Errorf("yesterday %+v", yesterday)
	}
}

// TestOperatorLogins: operators are added once and removed with their sessions; a failure
// count locks a key at the limit for the lock-out time and survives reopening the database (a
// restart does not unlock); a success forgets the name's counter and ends the address's streak.
func TestOperatorLogins(t *testing.T) { forBackends(t, testOperatorLogins) }

func testOperatorLogins(t *testing.T, be string) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	h := newHub(t, be, Options{Now: func() time.Time { return now }})
	if err := h.AddOperator(bg, "li.ming", "$2a$10$x"); err != nil {
		t.Fatal(err)
	}
	if err := h.AddOperator(bg, "li.ming", "$2a$10$y"); err == nil {
		t.Error("a second add of the same name was accepted")
	}
	if err := h.AddOperator(bg, "110101199003074477", "$2a$10$y"); err == nil {
		t.Error("an ID number was accepted as an operator name")
	}
	if hash, ok, err := h.OperatorHash(bg, "li.ming"); err != nil || !ok || hash != "$2a$10$x" {
		t.Fatalf("hash %q %v %v", hash, ok, err)
	}
	for i := 1; i <= 3; i++ {
		c, err := h.CountLoginFailure(bg, "u:li.ming", 3, 5*time.Minute, 5*time.Minute, true)
		if err != nil {
			t.Fatal(err)
		}
		if locked := !c.Until.IsZero(); locked != (i == 3) {
			t.Fatalf("failure %d: counter %+v", i, c)
		}
	}
	again, err := Open(bg, h.dir, Options{DB: h.opt.DB, Now: h.now, Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if c, _ := again.LoginCounter(bg, "u:li.ming"); !c.Until.Equal(now.Add(5*time.Minute)) || c.Streak != 3 {
		t.Errorf("after reopening: %+v", c)
	}
	now = now.Add(6 * time.Minute)
	if c, _ := h.CountLoginFailure(bg, "u:li.ming", 3, 5*time.Minute, 5*time.Minute, true); !c.Until.IsZero() || c.Failed != 1 {
		t.Errorf("after the lock-out and the idle time: %+v, want a fresh count", c)
	}
	h.CountLoginFailure(bg, "ip:10.0.0.9", 9, 5*time.Minute, 5*time.Minute, true)
	h.CountLoginFailure(bg, "ip:10.0.0.9", 9, 5*time.Minute, 5*time.Minute, true)
	if err := h.LoginSucceeded(bg, "u:li.ming", "ip:10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.LoginCounter(bg, "u:li.ming"); c.Failed != 0 || c.Streak != 0 {
		t.Errorf("name after success %+v", c)
	}
	if c, _ := h.LoginCounter(bg, "ip:10.0.0.9"); c.Failed != 1 || c.Streak != 0 {
		t.Errorf("address after success %+v", c)
	}

	tok, s, err := h.NewOperatorSession(bg, "li.ming", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := h.OperatorSessionFor(bg, tok, 30*time.Minute); err != nil || !ok || got != s {
		t.Fatalf("session %+v %v %v", got, ok, err)
	}
	var stored int
	h.r.QueryRowContext(bg, `SELECT count(*) FROM operator_sessions WHERE hash = ?`, []byte(tok)).Scan(&stored)
	if stored != 0 {
		t.Error("the cookie's token is stored as is: a database dump would log in")
	}
	now = now.Add(31 * time.Minute)
	if _, ok, _ := h.OperatorSessionFor(bg, tok, 30*time.Minute); ok {
		t.Error("an idle session is still live")
	}
	// A new password: the hash replaced, every session of the operator ended, the name unlocked;
	// another operator's session and lock-out stay.
	h.AddOperator(bg, "zhao.lei", "$2a$10$z")
	other, _, _ := h.NewOperatorSession(bg, "zhao.lei", 30*time.Minute)
	tok, _, _ = h.NewOperatorSession(bg, "li.ming", 30*time.Minute)
	for _, k := range []string{OperatorNameKey("li.ming"), OperatorNameKey("zhao.lei")} {
		h.CountLoginFailure(bg, k, 1, 5*time.Minute, 5*time.Minute, true)
	}
	if err := h.SetOperatorPassword(bg, "li.ming", "$2a$10$new"); err != nil {
		t.Fatal(err)
	}
	if hash, _, _ := h.OperatorHash(bg, "li.ming"); hash != "$2a$10$new" {
		t.Errorf("hash after a new password %q", hash)
	}
	if _, ok, _ := h.OperatorSessionFor(bg, tok, 30*time.Minute); ok {
		t.Error("a session begun with the old password is still live")
	}
	if _, ok, _ := h.OperatorSessionFor(bg, other, 30*time.Minute); !ok {
		t.Error("another operator's session ended")
	}
	if c, _ := h.LoginCounter(bg, "u:li.ming"); !c.Until.IsZero() || c.Failed != 0 {
		t.Errorf("the name is still locked after a new password: %+v", c)
	}
	if c, _ := h.LoginCounter(bg, "u:zhao.lei"); c.Until.IsZero() {
		t.Errorf("another name's lock-out cleared: %+v", c)
	}
	if err := h.SetOperatorPassword(bg, "nobody", "$2a$10$new"); err == nil {
		t.Error("a new password for no operator")
	}
	h.RemoveOperator(bg, "zhao.lei")
	tok, _, _ = h.NewOperatorSession(bg, "li.ming", 30*time.Minute)
	if err := h.RemoveOperator(bg, "li.ming"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.OperatorSessionFor(bg, tok, 30*time.Minute); ok {
		t.Error("a removed operator's session is still live")
	}
	if ops, _ := h.Operators(bg); len(ops) != 0 {
		t.Errorf("operators %+v", ops)
	}
}
