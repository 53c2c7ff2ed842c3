package local

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"onepass/cmd/internal/selftest"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "onepassd.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSelfTestCommand(t *testing.T) {
	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ok"}`)) }))
	defer daemon.Close()
	data := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"simulated kiosk", []string{"--sim"}, 0, []string{"reader", "sim", "OK", "database", "no database yet", "hub", "SKIP", "self-test PASSED"}},
		{"simulated, given data", []string{"--sim", "--data", data}, 0, []string{"self-test PASSED"}},
		{"unknown driver", []string{"--sim", "--config", writeConfig(t, "[reader]\ndriver = \"nope\"\n")}, 1,
			[]string{`open: unknown reader driver "nope"`, "thermometer", "sim", "self-test FAILED", "onepassctl: self-test failed: reader"}},
		{"bad config", []string{"--config", writeConfig(t, "[lane]\nshow_secnds = 3\n")}, 1,
			[]string{"config", "FAIL", "unknown key lane.show_secnds", "self-test failed: config"}},
		{"missing config", []string{"--config", "/nonexistent/onepassd.toml"}, 1, []string{"no such file"}},
		{"daemon holds the devices", []string{"--config", writeConfig(t, "listen = \""+strings.TrimPrefix(daemon.URL, "http://")+"\"\n[reader]\ndriver = \"nope\"\n")}, 1,
			[]string{"onepassd is running", "systemctl stop onepassd"}},
		{"unreadable data dir", []string{"--data", "/nonexistent/dir"}, 1, []string{"database", "not writable", "self-test failed: database"}},
		{"stray argument", []string{"--sim", "now"}, 2, []string{`unexpected argument "now"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(append([]string{"selftest"}, tt.args...), &out, &out)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s", code, tt.code, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}

	// --json is one document a script can read, with the same verdict in the exit status.
	var out, errs bytes.Buffer
	code := run([]string{"selftest", "--sim", "--json"}, &out, &errs)
	var r selftest.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || code != 0 || !r.OK {
		t.Fatalf("--json: exit %d, %v\n%s%s", code, err, out.String(), errs.String())
	}
	names := []string{}
	for _, c := range r.Checks {
		names = append(names, c.Name+"="+string(c.State))
	}
	want := "reader=ok thermometer=ok camera=ok printer=ok signal=ok database=ok hub=skip clock=skip certificate=skip"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("checks %s\nwant   %s", got, want)
	}
}
