package kiosk

import (
	"context"
	"errors"
	"testing"

	"onepass/identity"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

func TestCheckManual(t *testing.T) {
	h := newHarness(t, nil)
	red := identity.PersonKey(h.keys.Deployment, identity.CertResident, "11010519491231002X")
	h.rep.rows[string(red)] = store.StatusRow{PersonKey: red, Status: int(policy.StatusRed)}
	for _, c := range []struct {
		name    string
		in      ManualInput
		outcome policy.Outcome
		reason  policy.Reason
	}{
		{"green, normal temperature", ManualInput{Number: goodID, Name: "张三", TempC: 36.5}, policy.Pass, policy.ReasonOK},
		{"lower-case x is accepted", ManualInput{Number: "11010519491231002x", Name: "王五", TempC: 36.5}, policy.Deny, policy.ReasonStatusRed},
		{"bad check digit", ManualInput{Number: "110101199003074478", Name: "李四", TempC: 36.5}, policy.Deny, policy.ReasonIDInvalid},
		{"fever", ManualInput{Number: goodID, Name: "张三", TempC: 38.2}, policy.Deny, policy.ReasonFever},
		{"not measured", ManualInput{Number: goodID, Name: "张三"}, policy.Retry, policy.ReasonNoTemperature},
		{"implausible temperature", ManualInput{Number: goodID, Name: "张三", TempC: 20}, policy.Retry, policy.ReasonRemeasure},
		{"a hot cup", ManualInput{Number: goodID, Name: "张三", TempC: 99.9}, policy.Retry, policy.ReasonRemeasure},
		{"37.29 is 37.3: a fever", ManualInput{Number: goodID, Name: "张三", TempC: 37.29}, policy.Deny, policy.ReasonFever},
		{"43.0 is inside the range: a fever", ManualInput{Number: goodID, Name: "张三", TempC: 43.0}, policy.Deny, policy.ReasonFever},
	} {
		before := len(h.log.visits)
		r, err := h.lane.CheckManual(context.Background(), c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.Outcome != c.outcome || r.Reason != c.reason || r.TitleZh == "" {
			t.Errorf("%s: %+v, want %s %s", c.name, r, c.outcome, c.reason)
		}
		if len(h.log.visits) != before+1 {
			t.Fatalf("%s: no visit written", c.name)
		}
		v := h.log.visits[len(h.log.visits)-1]
		if v.Method != "manual" || v.Outcome != string(c.outcome) || r.VisitID != v.ID || v.MaskedName != "张*" && c.in.Name == "张三" {
			t.Errorf("%s: visit %+v", c.name, v)
		}
		if want := policy.RoundC(c.in.TempC); c.reason == policy.ReasonFever && (v.TempC == nil || *v.TempC != want) {
			t.Errorf("%s: logged %v, want %v as decided", c.name, v.TempC, want)
		}
	}
	if v := h.log.visits[0]; v.PersonKey == nil || v.SealedID == nil || *v.TempC != 36.5 {
		t.Errorf("a valid number gives a person key and a sealed ID: %+v", v)
	}
	// The lane's own flow was not touched.
	if h.lane.View().State != PhaseIdle {
		t.Errorf("lane state %s", h.lane.View().State)
	}
	// No log, no PASS.
	h.log.err = errors.New("disk full")
	r, err := h.lane.CheckManual(context.Background(), ManualInput{Number: goodID, Name: "张三", TempC: 36.5})
	if err == nil || r.Outcome != policy.Manual || r.Reason != policy.ReasonLogUnavailable {
		t.Errorf("with the log down: %+v, %v", r, err)
	}
}
