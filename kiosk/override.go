package kiosk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// Errors of Override; the staff console answers each with its own status.
var (
	ErrNoVisit        = errors.New("kiosk: no such visit")
	ErrNotManual      = errors.New("kiosk: only a MANUAL visit can be decided by staff")
	ErrAlreadyDecided = errors.New("kiosk: the visit already has a staff decision")
	ErrBadOverride    = errors.New("kiosk: bad staff decision")
)

// VisitFinder looks a visit up by ID (sync/store.Store). The lane overrides visits only when its
// visit log can also do this.
type VisitFinder interface {
	VisitByID(ctx context.Context, id string) (store.Visit, bool, error)
}

// OverrideNote is a reason a staff member gives for a decision, picked from a short list (never
// free text: nothing typed, so no ID number or name can reach the log by it).
type OverrideNote struct {
	Code     string           `json:"code"`
	Zh       string           `json:"zh"`
	En       string           `json:"en"`
	Outcomes []policy.Outcome `json:"outcomes"` // the decisions it may explain
}

// OverrideNotes lists the reasons a staff member may give, in the console's order.
func OverrideNotes() []OverrideNote {
	pass, deny, both := []policy.Outcome{policy.Pass}, []policy.Outcome{policy.Deny}, []policy.Outcome{policy.Pass, policy.Deny}
	return []OverrideNote{
		{"elderly_no_phone", "老人/无智能手机", "Elderly, no smartphone", pass},
		{"status_checked", "已人工核验健康状态", "Health status checked by staff", pass},
		{"id_checked", "证件核验通过", "ID checked by staff", pass},
		{"status_not_cleared", "健康状态未能核实", "Health status could not be confirmed", deny},
		{"id_mismatch", "人证不符", "Person does not match the ID", deny},
		{"other", "其他", "Other", both},
	}
}

// OverrideInput is a staff member's decision on a MANUAL visit.
type OverrideInput struct {
	VisitID string         // the MANUAL visit
	Outcome policy.Outcome // PASS or DENY
	Note    string         // an OverrideNotes code allowed for Outcome
	StaffID string         // the logged-in staff member
}

// OverrideResult is the logged decision.
type OverrideResult struct {
	VisitID    string         // the decision's own visit (a PASS lets the person take a ticket with it)
	Overrides  string         // the MANUAL visit
	Lane       string         // the lane of the MANUAL visit
	Method     string         // the MANUAL visit's method: manual for a staff console's entry
	Outcome    policy.Outcome // PASS or DENY
	MaskedName string
	Shown      bool // the lane's screen shows the decision to the citizen
}

// override is a logged decision handed to the Run goroutine, which answers on shown.
type override struct {
	visit *store.Visit
	shown chan bool
}

// showWait bounds how long Override waits for the lane to take the decision to its screen: the
// loop turns four times a second, so only a stuck lane (or none running) takes this long.
const showWait = 2 * time.Second

// Override records a staff member's decision on a MANUAL visit: a new visit (method "staff",
// reason staff_override) naming the staff member and the visit it overrides, committed before
// anything is answered or shown. When the MANUAL visit was this lane's own and the lane is free
// (idle, or still showing that visit), the screen then shows the decision to the citizen: after
// a PASS, the ticket buttons, as after any pass.
func (l *Lane) Override(ctx context.Context, in OverrideInput) (OverrideResult, error) {
	if in.Outcome != policy.Pass && in.Outcome != policy.Deny {
		return OverrideResult{}, fmt.Errorf("%w: outcome %q, want PASS or DENY", ErrBadOverride, in.Outcome)
	}
	if !noteAllowed(in.Note, in.Outcome) {
		return OverrideResult{}, fmt.Errorf("%w: reason %q is not one for %s", ErrBadOverride, in.Note, in.Outcome)
	}
	if in.StaffID == "" {
		return OverrideResult{}, fmt.Errorf("%w: no staff ID", ErrBadOverride)
	}
	finder, ok := l.log.(VisitFinder)
	if !ok {
		return OverrideResult{}, errors.New("kiosk: override: the visit log cannot look visits up")
	}
	if _, err := uuid.Parse(in.VisitID); err != nil {
		return OverrideResult{}, fmt.Errorf("%w: %q", ErrNoVisit, in.VisitID)
	}
	orig, found, err := finder.VisitByID(ctx, in.VisitID)
	switch {
	case err != nil:
		return OverrideResult{}, fmt.Errorf("kiosk: override: %w", err)
	case !found:
		return OverrideResult{}, fmt.Errorf("%w: %s", ErrNoVisit, in.VisitID)
	case policy.Outcome(orig.Outcome) != policy.Manual:
		return OverrideResult{}, fmt.Errorf("%w: visit %s is %s", ErrNotManual, orig.ID, orig.Outcome)
	}
	v := &store.Visit{
		At: l.clock.Now(), Lane: orig.Lane, Method: string(MethodStaff), PersonKey: orig.PersonKey, SealedID: orig.SealedID,
		MaskedName: orig.MaskedName, TempC: orig.TempC, Outcome: string(in.Outcome), Reason: string(policy.ReasonStaffOverride),
		StaffID: in.StaffID, Overrides: orig.ID, Note: in.Note,
	}
	err = l.log.Append(ctx, v)
	l.counter.logged(err == nil || errors.Is(err, store.ErrAlreadyOverridden))
	if errors.Is(err, store.ErrAlreadyOverridden) {
		return OverrideResult{}, fmt.Errorf("%w: %s", ErrAlreadyDecided, orig.ID)
	}
	if err != nil {
		return OverrideResult{}, fmt.Errorf("kiosk: override: %w", err)
	}
	res := OverrideResult{VisitID: v.ID, Overrides: orig.ID, Lane: orig.Lane, Method: orig.Method, Outcome: in.Outcome, MaskedName: v.MaskedName}
	l.logger.Info("staff decision", "outcome", in.Outcome, "note", in.Note, "staff", in.StaffID, "visit", v.ID, "overrides", orig.ID)
	// A manual entry's person stands at the staff desk, another lane's at that lane: not here.
	if orig.Lane == l.cfg.Lane && Method(orig.Method) != MethodManual {
		res.Shown = l.show(ctx, v)
	}
	return res, nil
}

// show hands a logged decision to the Run goroutine and reports whether the screen shows it.
func (l *Lane) show(ctx context.Context, v *store.Visit) bool {
	o := &override{visit: v, shown: make(chan bool, 1)}
	t := time.NewTimer(showWait)
	defer t.Stop()
	select {
	case l.events <- event{at: l.clock.Now(), override: o}:
	case <-ctx.Done():
		return false
	case <-t.C:
		return false
	}
	select {
	case ok := <-o.shown:
		return ok
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// onOverride shows a staff decision when the lane is free for it: idle, or still showing the
// visit it overrides. Someone else being checked is never interrupted.
func (l *Lane) onOverride(ctx context.Context, ev event) {
	v := ev.override.visit
	free := l.phase == PhaseIdle ||
		((l.phase == PhaseShowing || l.phase == PhaseDecided) && l.cur != nil && l.cur.visitID == v.Overrides)
	if !free {
		l.logger.Info("staff decision not shown: the lane is busy with another person", "visit", v.ID)
		ev.override.shown <- false
		return
	}
	p := &pass{started: ev.at, lastInput: ev.at, method: v.Method, maskedName: v.MaskedName, tempC: v.TempC, visitID: v.ID,
		decision: policy.Decision{Outcome: policy.Outcome(v.Outcome), Reason: policy.ReasonStaffOverride}}
	if l.cur != nil && l.cur.visitID == v.Overrides {
		p.maskedID = l.cur.maskedID
	}
	l.cur = p
	l.transition(PhaseDecided)
	l.signal(ctx, p.decision.Outcome)
	l.deadline = ev.at.Add(l.cfg.ShowFor)
	l.transition(PhaseShowing)
	ev.override.shown <- true
}

func noteAllowed(code string, o policy.Outcome) bool {
	for _, n := range OverrideNotes() {
		if n.Code == code {
			return slices.Contains(n.Outcomes, o)
		}
	}
	return false
}
