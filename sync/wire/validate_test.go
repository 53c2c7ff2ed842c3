package wire

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCheckVisit(t *testing.T) {
	temp := func(c float64) *float64 { return &c }
	ok := Visit{Lane: "1", Method: "card", PersonKey: make([]byte, PersonKeySize), MaskedName: "张*", TempC: temp(36.6), Outcome: "PASS", Reason: "ok"}
	for _, tc := range []struct {
		name string
		mod  func(*Visit)
		want string // "" = valid, else part of the reason
	}{
		{"a pass", func(*Visit) {}, ""},
		{"no temperature (a hot cup: RETRY remeasure)", func(v *Visit) { v.TempC, v.Outcome, v.Reason = nil, "RETRY", "remeasure" }, ""},
		{"43.0, the range edge", func(v *Visit) { v.TempC, v.Outcome, v.Reason = temp(43), "DENY", "fever" }, ""},
		{"0 °C", func(v *Visit) { v.TempC = temp(MinTempC) }, ""},
		{"60 °C", func(v *Visit) { v.TempC = temp(MaxTempC) }, ""},
		{"99.9 °C", func(v *Visit) { v.TempC = temp(99.9) }, "temperature 99.9 °C impossible"},
		{"below zero", func(v *Visit) { v.TempC = temp(-0.1) }, "impossible"},
		{"NaN", func(v *Visit) { v.TempC = temp(math.NaN()) }, "impossible"},
		{"manual method", func(v *Visit) { v.Method = "manual" }, ""},
		{"unknown method", func(v *Visit) { v.Method = "levitation" }, `method "levitation" unknown`},
		{"unknown outcome", func(v *Visit) { v.Outcome = "MAYBE" }, `outcome "MAYBE" unknown`},
		{"no lane", func(v *Visit) { v.Lane = "" }, "lane"},
		{"long lane", func(v *Visit) { v.Lane = strings.Repeat("x", 33) }, "lane"},
		{"long reason", func(v *Visit) { v.Reason = strings.Repeat("x", 65) }, "reason"},
		{"64-character name", func(v *Visit) { v.MaskedName = strings.Repeat("张", 64) }, ""},
		{"long name", func(v *Visit) { v.MaskedName = strings.Repeat("张", 65) }, "masked name"},
		{"short person key", func(v *Visit) { v.PersonKey = []byte{1} }, "person key of 1 bytes"},
		{"long sealed id", func(v *Visit) { v.SealedID = make([]byte, 513) }, "sealed id"},
	} {
		v := ok
		tc.mod(&v)
		err := CheckVisit(v)
		var ve *VisitError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &ve) || !strings.Contains(ve.Reason, tc.want)):
			t.Errorf("%s: %v, want a VisitError with %q", tc.name, err, tc.want)
		}
	}
}
