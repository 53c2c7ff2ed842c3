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

func TestSyncAndEnrollCommands(t *testing.T) {
	var enrolled map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := `{"enrolled":true,"status":{"hub":"https://hub:8443","hubs":["https://hub:8443","https://hub-b:8443"],"last_hub":"https://hub-b:8443","device":"d-1","hall":"东城","cert_expires":"2028-01-01T00:00:00Z",
			"last_pull":"2026-11-26T10:00:00Z","replica_age_seconds":95.6,"replica_epoch":1,"replica_seq":12,"replica_count":3,
			"outbox_depth":4,"outbox_limit":100000,"quarantined":1,"skew_known":true,"skew_ms":-1500,"health":{"state":"degraded","reason":"x"}},
			"quarantine":[{"id":"01a2","kind":"visit","at":"2026-11-26T10:00:00Z","reason":"refused by the hub: method \"x\" unknown"}]}`
		switch r.Method + " " + r.URL.Path {
		case "GET /api/sync", "POST /api/sync/now":
			io.WriteString(w, st)
		case "POST /api/sync/enroll":
			json.NewDecoder(r.Body).Decode(&enrolled)
			io.WriteString(w, st)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	var out bytes.Buffer
	if code := run([]string{"--addr", srv.URL, "sync"}, &out, &out); code != 0 {
		t.Fatalf("sync: exit %d\n%s", code, out.String())
	}
	for _, want := range []string{"device d-1, hall 东城", "health       degraded: x", "3 persons, epoch 1, seq 12, 1m36s old",
		"4 waiting (alarm at 100000), 1 quarantined", "clock skew   -1500ms", "quarantined  visit 01a2", "method \"x\" unknown",
		"replicas     https://hub:8443, https://hub-b:8443 (preferred first)", "last hub     https://hub-b:8443\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("sync output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"--addr", srv.URL, "sync", "--json"}, &out, &out); code != 0 {
		t.Fatalf("sync --json: exit %d\n%s", code, out.String())
	}
	var js struct {
		Status struct {
			LastHub string   `json:"last_hub"`
			Hubs    []string `json:"hubs"`
		} `json:"status"`
	}
	if err := json.Unmarshal(out.Bytes(), &js); err != nil || js.Status.LastHub != "https://hub-b:8443" || len(js.Status.Hubs) != 2 {
		t.Errorf("sync --json: last_hub %q, hubs %q (%v)\n%s", js.Status.LastHub, js.Status.Hubs, err, out.String())
	}
	out.Reset()
	if code := run([]string{"--addr", srv.URL, "enroll", "--hub", "https://hub:8443", "--token", "abc"}, &out, &out); code != 0 ||
		enrolled["token"] != "abc" || !strings.Contains(out.String(), "enrolled as device d-1") {
		t.Fatalf("enroll: exit %d, sent %v\n%s", code, enrolled, out.String())
	}
	if code := run([]string{"--addr", srv.URL, "enroll", "--hub", "https://hub:8443"}, &out, &out); code != 2 {
		t.Errorf("enroll without a token: exit %d", code)
	}
}
