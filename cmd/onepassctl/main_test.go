package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.Path+" "+string(b))
		switch r.URL.Path {
		case "/api/state":
			json.NewEncoder(w).Encode(map[string]any{"lane": "1", "state": "idle", "health": map[string]any{"reader": map[string]string{"state": "down", "reason": "port gone"}}})
		case "/api/sim/temp":
			w.WriteHeader(http.StatusNoContent)
		case "/api/sim/card":
			http.Error(w, "card: id is required", http.StatusBadRequest)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	tests := []struct {
		args   []string
		code   int
		out    string
		posted string
	}{
		{[]string{"sim", "temp", "36.6"}, 0, "", `POST /api/sim/temp {"c":36.6}`},
		{[]string{"sim", "card", "--id", "1", "--name", "x"}, 1, "card: id is required", `POST /api/sim/card`},
		{[]string{"sim", "temp"}, 2, "sim temp needs one temperature", ""},
		{[]string{"sim", "temp", "warm"}, 2, "not a number", ""},
		{[]string{"sim", "card", "--id", "1"}, 2, "needs --id and --name", ""},
		{[]string{"sim", "remove"}, 1, "not running with --sim", "POST /api/sim/remove"},
		{[]string{"status"}, 1, "reader       down: port gone", ""}, // an older daemon: /api/status 404, then /api/state
		{[]string{"frobnicate"}, 2, "unknown command", ""},
		{[]string{}, 2, "no command", ""},
	}
	for _, tt := range tests {
		got = nil
		var out bytes.Buffer
		code := run(append([]string{"--addr", srv.URL}, tt.args...), &out, &out)
		if code != tt.code || !strings.Contains(out.String(), tt.out) {
			t.Errorf("%v: exit %d, output %q; want %d, %q", tt.args, code, out.String(), tt.code, tt.out)
		}
		if tt.posted != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.posted)) {
			t.Errorf("%v: requests %q, want %q", tt.args, got, tt.posted)
		}
	}
	var out bytes.Buffer
	if code := run([]string{"--addr", "http://127.0.0.1:1", "status"}, &out, &out); code != 1 || !strings.Contains(out.String(), "cannot reach onepassd") {
		t.Errorf("unreachable daemon: %d %q", code, out.String())
	}
}
