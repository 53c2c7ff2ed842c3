package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatus: onepassctl status shows the daemon's figures from /api/status, and says "never" for
// what has not happened yet.
func TestStatus(t *testing.T) {
	tests := []struct {
		name, body string
		code       int
		want       []string
	}{
		{"synced", `{"version":"1.4.0","uptime_s":3725,"health":"ok","lane":"1","state":"idle",
			"parts":{"reader":{"state":"ok"},"store":{"state":"ok"}},"outbox_depth":12,"replica_age_s":95,
			"last_sync":"2026-11-26T10:00:00Z"}`, 0,
			[]string{"onepassd 1.4.0, up 1h2m5s, health ok", "lane 1: idle", "reader       ok", "outbox       12 waiting for upload",
				"replica age  1m35s", "last sync    2026-11-26", "onepassctl dev"}},
		{"never synced, reader down", `{"version":"1.4.0","uptime_s":5,"health":"degraded","lane":"1","state":"idle",
			"parts":{"reader":{"state":"down","reason":"port gone"}},"outbox_depth":0,"replica_age_s":null,"last_sync":null,
			"problems":["last sync: bad time"]}`, 1,
			[]string{"reader       down: port gone", "outbox       0 waiting", "replica age  never", "last sync    never", "problem      last sync: bad time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/status" {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			var out bytes.Buffer
			code := run([]string{"--addr", srv.URL, "status"}, &out, &out)
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
}
