package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "absent.toml"), false)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kiosk()
	if c.Listen != "127.0.0.1:8080" || k.ShowFor != 5*time.Second || k.Policy.FeverC != 37.3 || k.Measure.Window != 4 || k.Measure.Estimate != "" {
		t.Errorf("defaults: %+v %+v", c, k)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.toml"), true); err == nil {
		t.Error("a required missing file was accepted")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, text, errHas string
	}{
		{"full", `
listen = "127.0.0.1:9000"
[lane]
id = "east-2"
show_seconds = 3
measure_timeout = "10s"
[policy]
fever_c = 37.5
absent_status = "green"
[reader]
driver = "ga467"
port = "/dev/ttyUSB0"
baud = 115200
`, ""},
		{"unknown top key", `lisen = "x"`, "unknown key lisen"},
		{"unknown section key", "[lane]\nshw_seconds = 3", "unknown key lane.shw_seconds"},
		{"bad duration", "[lane]\nmeasure_timeout = \"soon\"", "not a duration"},
		{"wrong type", "[lane]\nshow_seconds = \"five\"", "show_seconds"},
		{"out of range", "[lane]\nshow_seconds = 600", "lane.show_seconds"},
		{"bad absent status", "[policy]\nabsent_status = \"blue\"", "absent_status"},
		{"fever too low", "[policy]\nfever_c = 20", "fever_c"},
		{"part without driver", "[reader]\nport = \"/dev/ttyUSB0\"", "reader.driver"},
		{"bad log level", `log_level = "loud"`, "log_level"},
		{"bad toml", `listen = `, "expected value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.parse(tt.text)
			if tt.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want it to mention %q", err, tt.errHas)
			}
		})
	}
}

func TestPartAndDefined(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.toml")
	os.WriteFile(path, []byte("[policy]\nabsent_status = \"green\"\n[reader]\ndriver = \"ga467\"\nport = \"/dev/ttyUSB0\"\n"), 0o644)
	c, err := Load(path, true)
	if err != nil {
		t.Fatal(err)
	}
	d, p := c.Part("reader")
	if d != "ga467" || p["port"] != "/dev/ttyUSB0" || p["driver"] != nil {
		t.Errorf("reader part: %q %v", d, p)
	}
	if d, _ := c.Part("camera"); d != "" {
		t.Errorf("camera configured: %q", d)
	}
	if !c.Defined("policy", "absent_status") || c.Defined("policy", "fever_c") {
		t.Error("Defined does not follow the file")
	}
}
