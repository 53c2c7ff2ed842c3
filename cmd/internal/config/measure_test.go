package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"onepass/kiosk"
	"onepass/sync/wire"
)

// Every [measure] key reaches the lane: the defaults come back unchanged, and a file's values arrive.
// TestMeasureRangeFitsTheWire: the widest range config accepts is one whose every value the hub
// accepts as temp_c.
func TestMeasureRangeFitsTheWire(t *testing.T) {
	c := Default()
	if err := c.parse(fmt.Sprintf("[measure]\nrange_min_c = %v\nrange_max_c = %v", float64(wire.MinTempC), float64(wire.MaxTempC))); err != nil {
		t.Fatal(err)
	}
}

func TestMeasureSection(t *testing.T) {
	if got, want := Default().Kiosk().Measure, kiosk.DefaultMeasure(); got != want {
		t.Errorf("defaults through the config: %+v, want %+v", got, want)
	}
	c := Default()
	err := c.parse(`
[measure]
settle = "650ms"
offset_c = 0.2
compensation_k = 0.15
compensation_offset_c = -0.1
ambient_offset_c = -2.5
ambient_min_c = 15
ambient_max_c = 35
[thermometer]
driver = "mlx90614"
bus = "/dev/i2c-1"
address = 0x5A
`)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Kiosk().Measure
	if m.Settle != 650*time.Millisecond || m.OffsetC != 0.2 || m.CompensationK != 0.15 || m.CompensationOffsetC != -0.1 ||
		m.AmbientOffsetC != -2.5 || m.AmbientMinC != 15 || m.AmbientMaxC != 35 {
		t.Errorf("measure: %+v", m)
	}
	if d, p := c.Part("thermometer"); d != "mlx90614" || p["address"] != int64(0x5A) || p["bus"] != "/dev/i2c-1" {
		t.Errorf("thermometer: %q %v", d, p)
	}
	for _, tt := range []struct{ text, errHas string }{
		{"[measure]\ncompensation_k = 2", "measure.compensation_k"},
		{"[measure]\ncompensation_offset_c = 5", "measure.compensation_offset_c"},
		{"[measure]\nambient_min_c = 40", "measure.ambient_min_c"},
		{"[measure]\nsettle = \"10s\"", "measure.settle"},
		{"[measure]\nsettle = \"soon\"", "measure.settle"},
		{"[measure]\nsettle = 650", "measure.settle"},
		{"[measure]\nambient_offset_c = 20", "measure.ambient_offset_c"},
		{"[measure]\nrange_max_c = 99.9", "measure.range_max_c"}, // the hub refuses such a temperature
		{"[measure]\nrange_min_c = -1", "measure.range_min_c"},
	} {
		c := Default()
		if err := c.parse(tt.text); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%q: %v, want %q", tt.text, err, tt.errHas)
		}
	}
}
