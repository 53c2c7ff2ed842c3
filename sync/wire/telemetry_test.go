package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func goodTelemetry() Telemetry {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return Telemetry{At: at, Version: "onepassd/1", UptimeS: 10, ReplicaAgeS: -1, Paper: "none",
		Parts:  []PartHealth{{Part: "reader", State: "down", Reason: "no answer", Since: at}, {Part: "camera", State: "unused"}},
		Queues: []QueueLength{{Service: "A", Waiting: 4}}}
}

func TestCheckTelemetry(t *testing.T) {
	long := strings.Repeat("长", MaxTelemetryReason) // 3 bytes a character
	for _, tc := range []struct {
		name string
		mod  func(*Telemetry)
		ok   bool
	}{
		{"good", func(*Telemetry) {}, true},
		{"no parts, no queues", func(t *Telemetry) { t.Parts, t.Queues = nil, nil }, true},
		{"no time", func(t *Telemetry) { t.At = time.Time{} }, false},
		{"unknown state", func(t *Telemetry) { t.Parts[0].State = "fine" }, false},
		{"no part name", func(t *Telemetry) { t.Parts[0].Part = "" }, false},
		{"NUL in a part", func(t *Telemetry) { t.Parts[0].Part = "re\x00ader" }, false},
		{"reason too long", func(t *Telemetry) { t.Parts[0].Reason = long }, false},
		{"invalid UTF-8", func(t *Telemetry) { t.Version = "\xff" }, false},
		{"unknown paper", func(t *Telemetry) { t.Paper = "" }, false},
		{"replica age below -1", func(t *Telemetry) { t.ReplicaAgeS = -2 }, false},
		{"negative outbox", func(t *Telemetry) { t.OutboxDepth = -1 }, false},
		{"too many parts", func(t *Telemetry) { t.Parts = make([]PartHealth, MaxTelemetryParts+1) }, false},
		{"too many queues", func(t *Telemetry) { t.Queues = make([]QueueLength, MaxTelemetryQueues+1) }, false},
		{"queue too long", func(t *Telemetry) { t.Queues[0].Waiting = MaxTelemetryQueue + 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel := goodTelemetry()
			tc.mod(&tel)
			err := CheckTelemetry(tel)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckTelemetry: %v, want ok %v", err, tc.ok)
			}
			if c := ClampTelemetry(tel); !tel.At.IsZero() {
				if err := CheckTelemetry(c); err != nil {
					t.Errorf("clamped report still refused: %v", err)
				}
			}
		})
	}
}

// TestClampTelemetry: texts are cut at a character boundary, unknown states become degraded with
// the state in the reason (never silently ok), and nameless entries are dropped.
func TestClampTelemetry(t *testing.T) {
	tel := goodTelemetry()
	tel.Parts[0].Reason = strings.Repeat("长", MaxTelemetryReason)
	tel.Parts = append(tel.Parts, PartHealth{Part: "gate", State: "jammed"}, PartHealth{Part: "", State: "ok"})
	tel.Paper = "soggy"
	c := ClampTelemetry(tel)
	if r := c.Parts[0].Reason; len(r) > MaxTelemetryReason || len(r)%3 != 0 {
		t.Errorf("reason cut to %d bytes", len(r))
	}
	if len(c.Parts) != 3 || c.Parts[2].State != "degraded" || !strings.Contains(c.Parts[2].Reason, "jammed") {
		t.Errorf("parts: %+v", c.Parts)
	}
	if c.Paper != "unknown" {
		t.Errorf("paper %q", c.Paper)
	}
}

// FuzzClampTelemetry: whatever the texts, a clamped report passes the hub's checks.
func FuzzClampTelemetry(f *testing.F) {
	f.Add("onepassd/1", "reader", "ok", "reason", "A", "ok", 3, int64(-1))
	f.Add("\xff\x00", "", "weird", strings.Repeat("x", 300), "", "", -5, int64(-9))
	f.Fuzz(func(t *testing.T, version, part, state, reason, service, paper string, waiting int, age int64) {
		tel := Telemetry{At: time.Unix(1, 0), Version: version, Paper: paper, ReplicaAgeS: age,
			Parts:  []PartHealth{{Part: part, State: state, Reason: reason}},
			Queues: []QueueLength{{Service: service, Waiting: waiting}}}
		if err := CheckTelemetry(ClampTelemetry(tel)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSkewMeasured: skew_known travels as such, and a skew other than 0 from a kiosk that does
// not send skew_known is a measurement all the same.
func TestSkewMeasured(t *testing.T) {
	for _, tc := range []struct {
		json string
		want bool
	}{
		{`{"clock_skew_ms":0}`, false},
		{`{"clock_skew_ms":0,"skew_known":true}`, true},
		{`{"clock_skew_ms":-150,"skew_known":true}`, true},
		{`{"clock_skew_ms":-150}`, true},
		{`{"clock_skew_ms":0,"skew_known":false}`, false},
	} {
		var tl Telemetry
		if err := json.Unmarshal([]byte(tc.json), &tl); err != nil {
			t.Fatal(err)
		}
		if got := tl.SkewMeasured(); got != tc.want {
			t.Errorf("%s: measured %v, want %v", tc.json, got, tc.want)
		}
	}
	b, _ := json.Marshal(Telemetry{SkewKnown: true})
	if !strings.Contains(string(b), `"skew_known":true`) {
		t.Errorf("skew_known not in %s", b)
	}
}
