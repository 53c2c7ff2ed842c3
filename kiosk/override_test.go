package kiosk

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/kiosk/policy"
	"onepass/kiosk/queue"
	"onepass/sync/store"
)

// withStore gives the harness's lane a real visit log (the overrides need its lookups and its
// one-decision-per-visit rule).
func withStore(t *testing.T, h *harness) *store.Store {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "onepass.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h.lane.log = db
	return db
}

// override runs Lane.Override as the staff console does, while the test plays the lane's Run
// loop: the decision reaches the screen only through the lane's own events.
func (h *harness) override(in OverrideInput) (OverrideResult, error) {
	h.t.Helper()
	type answer struct {
		r   OverrideResult
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := h.lane.Override(context.Background(), in)
		done <- answer{r, err}
	}()
	for {
		select {
		case a := <-done:
			return a.r, a.err
		case ev := <-h.lane.events:
			h.do(ev)
		}
	}
}

// manualAtLane makes the lane decide MANUAL for a card (the status list is out of date) and
// returns the visit's ID.
func (h *harness) manualAtLane() string {
	h.t.Helper()
	h.rep.age = 2 * time.Hour
	h.card(goodID, "张三")
	v := h.person(36.6)
	if v.Outcome != policy.Manual || v.PassID == "" {
		h.t.Fatalf("want a MANUAL visit: %+v", v)
	}
	return v.PassID
}

// TestOverridePassAllowsATicket: an elderly person's MANUAL result at the lane, passed by staff,
// is logged as a visit of its own, shown on the lane's screen as a PASS, and lets the person take
// a ticket, on the screen and (once it is gone) with an appointment code.
func TestOverridePassAllowsATicket(t *testing.T) {
	h := newHarness(t, nil)
	db := withStore(t, h)
	ctx := context.Background()
	q, err := queue.New(ctx, queue.DefaultConfig(), db, queue.Options{Clock: h.clock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	qdone := make(chan struct{})
	go func() { q.Run(qctx); close(qdone) }()
	t.Cleanup(func() { cancel(); <-qdone })

	manual := h.manualAtLane()
	if _, err := q.IssueAfterPass(ctx, manual, "A"); !errors.Is(err, queue.ErrNotPassed) {
		t.Fatalf("a ticket after the MANUAL visit itself: %v", err)
	}
	h.wait(h.lane.cfg.ShowFor) // the screen went back to idle while staff walked over
	gates := h.rig.Signal.State().GatePulses

	r, err := h.override(OverrideInput{VisitID: manual, Outcome: policy.Pass, Note: "elderly_no_phone", StaffID: "7"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Shown || r.Overrides != manual || r.Outcome != policy.Pass || r.MaskedName != "张*" {
		t.Errorf("result %+v", r)
	}
	v := h.lane.View()
	if v.State != PhaseShowing || v.Outcome != policy.Pass || v.Reason != policy.ReasonStaffOverride || v.PassID != r.VisitID ||
		v.Method != "staff" || v.TitleZh != "通行" || v.MaskedName != "张*" {
		t.Fatalf("screen after the staff PASS: %+v", v)
	}
	if st := h.rig.Signal.State(); st.GatePulses != gates+1 || st.LED != "green" {
		t.Errorf("the gate did not open for the staff PASS: %+v", st)
	}
	logged, ok, err := db.VisitByID(ctx, r.VisitID)
	if err != nil || !ok {
		t.Fatalf("the decision was not logged: %v", err)
	}
	orig, _, _ := db.VisitByID(ctx, manual)
	if logged.Method != "staff" || logged.Outcome != "PASS" || logged.Reason != "staff_override" || logged.StaffID != "7" ||
		logged.Overrides != manual || logged.Note != "elderly_no_phone" || string(logged.PersonKey) != string(orig.PersonKey) || logged.Lane != orig.Lane {
		t.Errorf("logged decision %+v", logged)
	}
	if p, _ := db.Pending(ctx, 10); len(p) != 2 || p[1].ID != r.VisitID {
		t.Errorf("the decision does not wait for upload: %+v", p)
	}

	// The ticket buttons on the screen, or an appointment code after the screen has gone.
	if got := CheckInPass(ctx, v, db); got != r.VisitID {
		t.Errorf("CheckInPass on the screen = %q, want %q", got, r.VisitID)
	}
	if got := CheckInPass(ctx, h.wait(h.lane.cfg.ShowFor), db); got != r.VisitID {
		t.Errorf("CheckInPass after the screen = %q, want %q", got, r.VisitID)
	}
	is, err := q.IssueAfterPass(ctx, r.VisitID, "A")
	if err != nil || is.Ticket.Number != "A001" {
		t.Fatalf("ticket after the staff PASS: %+v, %v", is, err)
	}

	// One decision per visit: a second (a double click, a colleague) is refused.
	if _, err := h.override(OverrideInput{VisitID: manual, Outcome: policy.Deny, Note: "other", StaffID: "8"}); !errors.Is(err, ErrAlreadyDecided) {
		t.Errorf("second decision: %v", err)
	}
}

func TestOverrideRefusals(t *testing.T) {
	h := newHarness(t, nil)
	db := withStore(t, h)
	h.card(goodID, "张三")
	passed := h.person(36.6).PassID
	h.wait(h.lane.cfg.ShowFor)
	manual := h.manualAtLane()
	for _, c := range []struct {
		name string
		in   OverrideInput
		want error
	}{
		{"unknown visit", OverrideInput{VisitID: uuid.Must(uuid.NewV7()).String(), Outcome: policy.Pass, Note: "other", StaffID: "7"}, ErrNoVisit},
		{"not a visit ID", OverrideInput{VisitID: "v-1", Outcome: policy.Pass, Note: "other", StaffID: "7"}, ErrNoVisit},
		{"a PASS", OverrideInput{VisitID: passed, Outcome: policy.Deny, Note: "other", StaffID: "7"}, ErrNotManual},
		{"outcome MANUAL", OverrideInput{VisitID: manual, Outcome: policy.Manual, Note: "other", StaffID: "7"}, ErrBadOverride},
		{"a PASS reason for a DENY", OverrideInput{VisitID: manual, Outcome: policy.Deny, Note: "elderly_no_phone", StaffID: "7"}, ErrBadOverride},
		{"free text", OverrideInput{VisitID: manual, Outcome: policy.Pass, Note: "张三 110101199003074477", StaffID: "7"}, ErrBadOverride},
		{"no staff", OverrideInput{VisitID: manual, Outcome: policy.Pass, Note: "other"}, ErrBadOverride},
	} {
		if _, err := h.override(c.in); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if n, _ := db.OutboxDepth(context.Background()); n != 2 {
		t.Errorf("refused decisions were logged: %d visits", n)
	}
}

// TestOverrideNeverInterrupts: a decision is logged whatever the lane does, but shown only when
// the lane is free for it: not over the next person, and not at all for a desk's manual entry.
func TestOverrideNeverInterrupts(t *testing.T) {
	h := newHarness(t, nil)
	db := withStore(t, h)
	ctx := context.Background()
	manual := h.manualAtLane()
	h.wait(h.lane.cfg.ShowFor)
	h.card("11010519491231002X", "李四") // the next person is being measured
	r, err := h.override(OverrideInput{VisitID: manual, Outcome: policy.Deny, Note: "status_not_cleared", StaffID: "7"})
	if err != nil || r.Shown {
		t.Fatalf("decision during the next person's check: %+v, %v", r, err)
	}
	if v := h.lane.View(); v.State != PhaseMeasuring || v.MaskedName != "李*" {
		t.Errorf("the next person's check was disturbed: %+v", v)
	}
	if _, ok, _ := db.VisitByID(ctx, r.VisitID); !ok {
		t.Error("the unshown decision was not logged")
	}

	// A DENY on the visit the screen still shows replaces it.
	h.person(36.6)
	second := h.lane.View().PassID
	r, err = h.override(OverrideInput{VisitID: second, Outcome: policy.Deny, Note: "id_mismatch", StaffID: "7"})
	if err != nil || !r.Shown {
		t.Fatalf("DENY on the shown visit: %+v, %v", r, err)
	}
	if v := h.lane.View(); v.Outcome != policy.Deny || v.TitleZh != "禁止通行" || v.Sound != "deny" || v.MaskedID == "" {
		t.Errorf("screen after the staff DENY: %+v", v)
	}

	// A manual entry at the desk: the person is not at the lane.
	h.wait(h.lane.cfg.ShowFor)
	m, err := h.lane.CheckManual(ctx, ManualInput{Number: goodID, Name: "张三", TempC: 36.5})
	if err != nil || m.Outcome != policy.Manual {
		t.Fatalf("manual entry: %+v, %v", m, err)
	}
	r, err = h.override(OverrideInput{VisitID: m.VisitID, Outcome: policy.Pass, Note: "id_checked", StaffID: "7"})
	if err != nil || r.Shown || r.Method != "manual" {
		t.Fatalf("decision on a manual entry: %+v, %v", r, err)
	}
	if v := h.lane.View(); v.State != PhaseIdle {
		t.Errorf("the lane shows a desk's decision: %+v", v)
	}
}
