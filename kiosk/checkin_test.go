package kiosk

import (
	"context"
	"errors"
	"testing"

	"onepass/kiosk/policy"
	"onepass/sync/store"
)

type recentLog struct {
	vs  []store.Visit
	err error
}

func (r recentLog) Recent(context.Context, int) ([]store.Visit, error) { return r.vs, r.err }

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
