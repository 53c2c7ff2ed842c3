package kiosk

import (
	"context"
	"errors"
	"testing"

	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// recentLog answers Recent with vs (newest first) and looks IDs up in vs and older.
type recentLog struct {
	vs    []store.Visit
	older []store.Visit
	err   error
}

func (r recentLog) Recent(context.Context, int) ([]store.Visit, error) { return r.vs, r.err }

func (r recentLog) VisitByID(_ context.Context, id string) (store.Visit, bool, error) {
	for _, v := range append(r.vs, r.older...) {
		if v.ID == id {
			return v, true, r.err
		}
	}
	return store.Visit{}, false, r.err
}

// manualAt is a MANUAL visit "m1" on lane by method; staffOn a staff decision on it.
func manualAt(lane string, m Method) store.Visit {
	return store.Visit{ID: "m1", Lane: lane, Method: string(m), Outcome: string(policy.Manual), Reason: string(policy.ReasonStatusUnknown)}
}

func staffOn(lane, outcome string) store.Visit {
	return store.Visit{ID: "decided", Lane: lane, Method: string(MethodStaff), Outcome: outcome, Reason: string(policy.ReasonStaffOverride),
		StaffID: "7", Overrides: "m1"}
}

func TestCheckInPass(t *testing.T) {
	showingPass := View{Lane: "L1", State: PhaseShowing, Outcome: policy.Pass, PassID: "on-screen"}
	idle := View{Lane: "L1", State: PhaseIdle}
	pass := func(lane string, m Method) store.Visit {
		return store.Visit{ID: "logged", Lane: lane, Method: string(m), Outcome: string(policy.Pass)}
	}
	tests := []struct {
		name string
		view View
		log  RecentVisits
		want string
	}{
		{"the pass on the screen", showingPass, recentLog{vs: []store.Visit{pass("L1", MethodCard)}}, "on-screen"},
		{"the pass on the screen, no log", showingPass, nil, "on-screen"},
		{"a deny on the screen, a pass logged before it is the previous citizen's",
			View{Lane: "L1", State: PhaseShowing, Outcome: policy.Deny, PassID: "denied"},
			recentLog{vs: []store.Visit{{ID: "denied", Lane: "L1", Method: "card", Outcome: string(policy.Deny)}}}, ""},
		{"screen gone: this lane's newest visit, a pass by card", idle, recentLog{vs: []store.Visit{pass("L1", MethodCard)}}, "logged"},
		{"screen gone: a pass by code", idle, recentLog{vs: []store.Visit{pass("L1", MethodCode)}}, "logged"},
		{"another lane's pass", idle, recentLog{vs: []store.Visit{pass("L2", MethodCard)}}, ""},
		{"a staff console's manual pass", idle, recentLog{vs: []store.Visit{pass("L1", MethodManual)}}, ""},
		{"the newest visit is not a pass", idle, recentLog{vs: []store.Visit{{ID: "x", Lane: "L1", Method: "card", Outcome: string(policy.Manual)}}}, ""},
		{"screen gone: a staff PASS on this lane's MANUAL visit", idle, recentLog{vs: []store.Visit{staffOn("L1", "PASS")}, older: []store.Visit{manualAt("L1", MethodCard)}}, "decided"},
		{"a staff DENY", idle, recentLog{vs: []store.Visit{staffOn("L1", "DENY")}, older: []store.Visit{manualAt("L1", MethodCard)}}, ""},
		{"a staff PASS on a manual check at the desk", idle, recentLog{vs: []store.Visit{staffOn("L1", "PASS")}, older: []store.Visit{manualAt("L1", MethodManual)}}, ""},
		{"a staff PASS on a visit not in the log", idle, recentLog{vs: []store.Visit{staffOn("L1", "PASS")}}, ""},
		{"a staff PASS on another lane's visit", idle, recentLog{vs: []store.Visit{staffOn("L2", "PASS")}, older: []store.Visit{manualAt("L2", MethodCard)}}, ""},
		{"an empty log", idle, recentLog{}, ""},
		{"an unreadable log", idle, recentLog{vs: []store.Visit{pass("L1", MethodCard)}, err: errors.New("disk")}, ""},
		{"no log", idle, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckInPass(context.Background(), tt.view, tt.log); got != tt.want {
				t.Errorf("CheckInPass = %q, want %q", got, tt.want)
			}
		})
	}
}
