package config

import (
	"strings"
	"testing"
	"time"

	"onepass/kiosk/policy"
)

// The keys of issue 14 (a broken part, halls without checks, card after code) reach the lane with
// their defaults, take a file's values, and refuse bad ones naming the key.
func TestFaultGraceCardWaitAndChecks(t *testing.T) {
	k := Default().Kiosk()
	if k.Measure.FaultGrace != 10*time.Second || k.CardWait != 8*time.Second {
		t.Errorf("defaults: fault_grace %s, card_wait %s", k.Measure.FaultGrace, k.CardWait)
	}
	if k.Policy.Temperature != policy.Required || k.Policy.Status != policy.Required {
		t.Errorf("default checks: temperature %q, status %q", k.Policy.Temperature, k.Policy.Status)
	}
	c := Default()
	if err := c.parse(`
[measure]
fault_grace = "30s"
[lane]
card_wait = "0s"
[policy]
temperature = "off"
status = "off"
`); err != nil {
		t.Fatal(err)
	}
	k = c.Kiosk()
	if k.Measure.FaultGrace != 30*time.Second || k.CardWait != 0 || !k.Policy.TemperatureOff() || !k.Policy.StatusOff() {
		t.Errorf("from the file: fault_grace %s, card_wait %s, policy %+v", k.Measure.FaultGrace, k.CardWait, k.Policy)
	}
	for _, tt := range []struct{ text, errHas string }{
		{"[measure]\nfault_grace = \"1h\"", "measure.fault_grace"},
		{"[measure]\nestimate = \"mode\"", "measure.estimate"},
		{"[measure]\nfault_grace = \"-1s\"", "measure.fault_grace"},
		{"[measure]\nfault_grace = 10", "measure.fault_grace"},
		{"[measure]\nfault_grace = \"later\"", "fault_grace"},
		{"[lane]\ncard_wait = \"2m\"", "lane.card_wait"},
		{"[lane]\ncard_wait = \"-1s\"", "lane.card_wait"},
		{"[policy]\ntemperature = \"optional\"", `temperature "optional": want "required" or "off"`},
		{"[policy]\nstatus = \"no\"", `status "no": want "required" or "off"`},
		{"[policy]\nstatus = \"\"", "policy.status"},
		{"[policy]\ntemperature = \"\"", "policy.temperature"},
	} {
		c := Default()
		if err := c.parse(tt.text); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.errHas)
		}
	}
}
