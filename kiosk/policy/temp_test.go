package policy

import (
	"math"
	"testing"
)

func TestRoundC(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{37.29, 37.3},
		{37.3, 37.3},
		{37.25, 37.3},
		{37.24, 37.2},
		{37.15, 37.2}, // binary holds 37.1499…: rounds as it reads
		{37.05, 37.1},
		{36.6, 36.6},
		{42.95, 43.0},
		{42.949, 42.9},
		{43.04, 43.0},
		{43.05, 43.1},
		{34.95, 35.0},
		{33.95, 34.0},
		{33.94, 33.9},
		{99.9, 99.9},
		{0, 0},
		{-0.05, -0.1},
	} {
		if got := RoundC(tc.in); got != tc.want {
			t.Errorf("RoundC(%v) = %v, want %v", tc.in, got, tc.want)
		}
		if got := RoundC(RoundC(tc.in)); got != tc.want {
			t.Errorf("RoundC twice (%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(RoundC(math.NaN())) {
		t.Error("NaN must stay NaN")
	}
}

// TestStableTempEdges: rounding comes first, then the range (edges inside), then the fever
// threshold, so the outcome always agrees with the value shown.
func TestStableTempEdges(t *testing.T) {
	const lo, hi = 34, 43 // kiosk.DefaultMeasure's plausible body range
	card := &Card{NumberValid: true}
	green := Replica{Found: true, Status: StatusGreen}
	for _, tc := range []struct {
		in    float64
		state TempState
		shown float64
		want  Decision
	}{
		{37.29, TempStable, 37.3, Decision{Deny, ReasonFever}},
		{37.3, TempStable, 37.3, Decision{Deny, ReasonFever}},
		{37.25, TempStable, 37.3, Decision{Deny, ReasonFever}},
		{37.24, TempStable, 37.2, Decision{Pass, ReasonOK}},
		{42.95, TempStable, 43.0, Decision{Deny, ReasonFever}},
		{43.0, TempStable, 43.0, Decision{Deny, ReasonFever}}, // the edge counts as inside: a fever
		{43.04, TempStable, 43.0, Decision{Deny, ReasonFever}},
		{43.05, TempOutOfRange, 43.1, Decision{Retry, ReasonRemeasure}},
		{34.0, TempStable, 34.0, Decision{Pass, ReasonOK}},
		{33.95, TempStable, 34.0, Decision{Pass, ReasonOK}},
		{33.94, TempOutOfRange, 33.9, Decision{Retry, ReasonRemeasure}},
		{34.95, TempStable, 35.0, Decision{Pass, ReasonOK}},
		{99.9, TempOutOfRange, 99.9, Decision{Retry, ReasonRemeasure}}, // a hot cup
		{math.NaN(), TempOutOfRange, math.NaN(), Decision{Retry, ReasonRemeasure}},
	} {
		got := StableTemp(tc.in, lo, hi)
		if got.State != tc.state || !(got.C == tc.shown || math.IsNaN(got.C) && math.IsNaN(tc.shown)) {
			t.Errorf("StableTemp(%v) = %+v, want state %v, %v", tc.in, got, tc.state, tc.shown)
		}
		if d := Decide(Default(), Input{Card: card, Replica: green, Temp: got}); d != tc.want {
			t.Errorf("%v: Decide = %+v, want %+v", tc.in, d, tc.want)
		}
	}
}
