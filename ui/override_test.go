package ui

import (
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"onepass/kiosk/queue"
	"onepass/ui/api"
)

// TestStaffOverride: POST /staff/api/override needs a login and the CSRF token, refuses an
// unknown visit (404) and a visit that is not MANUAL (409), logs the decision under the
// logged-in staff ID, and a PASS lets the person take a ticket at the kiosk.
func TestStaffOverride(t *testing.T) {
	e := newQueueEnv(t)
	ctx := context.Background()
	manual := e.manual("card")
	passed := e.pass()
	c := e.client()
	var qe queue.Error
	pass := api.OverrideRequest{VisitID: manual, Outcome: "PASS", Note: "elderly_no_phone"}
	if code := c.do("POST", "/staff/api/override", pass, &qe); code != 401 {
		t.Fatalf("without login: %d %+v", code, qe)
	}
	if code := c.login("7", testPIN); code != 200 {
		t.Fatalf("login: %d", code)
	}
	tok := c.csrf
	c.csrf = ""
	if code := c.do("POST", "/staff/api/override", pass, &qe); code != 403 || qe.Code != "csrf" {
		t.Errorf("without the CSRF token: %d %+v", code, qe)
	}
	c.csrf = tok
	if code := c.do("POST", "/staff/api/override", pass, &qe, "Origin", "http://evil.example"); code != 403 {
		t.Errorf("from another origin: %d", code)
	}
	for _, tc := range []struct {
		name string
		req  api.OverrideRequest
		code int
		err  string
	}{
		{"unknown visit", api.OverrideRequest{VisitID: uuid.Must(uuid.NewV7()).String(), Outcome: "PASS", Note: "other"}, 404, "no_visit"},
		{"not a visit ID", api.OverrideRequest{VisitID: "x", Outcome: "PASS", Note: "other"}, 404, "no_visit"},
		{"a PASS visit", api.OverrideRequest{VisitID: passed, Outcome: "DENY", Note: "other"}, 409, "not_manual"},
		{"outcome MANUAL", api.OverrideRequest{VisitID: manual, Outcome: "MANUAL", Note: "other"}, 400, "bad_override"},
		{"a reason not on the list", api.OverrideRequest{VisitID: manual, Outcome: "PASS", Note: "friend of mine"}, 400, "bad_override"},
	} {
		qe = queue.Error{}
		if code := c.do("POST", "/staff/api/override", tc.req, &qe); code != tc.code || qe.Code != tc.err {
			t.Errorf("%s: %d %+v, want %d %s", tc.name, code, qe, tc.code, tc.err)
		}
	}

	// The console lists the MANUAL visit, masked, with the reasons to choose from.
	var st StaffState
	if code := c.do("GET", "/staff/api/state", nil, &st); code != 200 || len(st.Pending) != 1 || st.Pending[0].ID != manual ||
		st.Pending[0].MaskedName != "王*" || len(st.Notes) < 3 {
		t.Fatalf("state: %d pending %+v notes %+v", code, st.Pending, st.Notes)
	}

	var ov api.Override
	if code := c.do("POST", "/staff/api/override", pass, &ov); code != 200 || ov.Outcome != "PASS" || ov.Overrides != manual ||
		ov.VisitID == "" || !ov.Shown || ov.AtDesk {
		t.Fatalf("override: %d %+v", code, ov)
	}
	v, ok, err := e.db.VisitByID(ctx, ov.VisitID)
	if err != nil || !ok || v.Method != "staff" || v.Outcome != "PASS" || v.Reason != "staff_override" || v.StaffID != "7" ||
		v.Overrides != manual || v.Note != "elderly_no_phone" {
		t.Fatalf("logged decision %+v %v %v", v, ok, err)
	}
	if view := e.lane.View(); view.PassID != ov.VisitID || view.Outcome != "PASS" {
		t.Errorf("the lane's screen: %+v", view)
	}
	if code := c.do("POST", "/staff/api/override", api.OverrideRequest{VisitID: manual, Outcome: "DENY", Note: "other"}, &qe); code != 409 || qe.Code != "already_decided" {
		t.Errorf("second decision: %d %+v", code, qe)
	}
	st = StaffState{}
	c.do("GET", "/staff/api/state", nil, &st)
	if len(st.Pending) != 0 || !slices.ContainsFunc(st.Recent, func(r RecentVisit) bool { return r.ID == ov.VisitID && r.StaffID == "7" && r.Overrides == manual }) {
		t.Errorf("after the decision: pending %+v recent %+v", st.Pending, st.Recent)
	}

	// The ticket after the staff PASS, as after any pass.
	var is queue.Issued
	if code := c.do("POST", "/api/tickets/kiosk", KioskRequest{PassID: ov.VisitID, Service: "A"}, &is); code != 200 || is.Ticket.Number != "A001" {
		t.Fatalf("ticket after the staff PASS: %d %+v", code, is)
	}

	// A manual entry at the desk: decided, not shown on the lane.
	desk := e.manual("manual")
	if code := c.do("POST", "/staff/api/override", api.OverrideRequest{VisitID: desk, Outcome: "DENY", Note: "status_not_cleared"}, &ov); code != 200 || ov.Shown || !ov.AtDesk {
		t.Errorf("desk decision: %d %+v", code, ov)
	}
}
