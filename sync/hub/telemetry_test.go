package hub

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// clock is a hub clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func report(at time.Time, printer, paper string) wire.Telemetry {
	return wire.Telemetry{At: at, Version: "onepassd/1.2.3", UptimeS: 3600,
		Parts:       []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "printer", State: printer, Reason: "paper " + paper, Since: at.Add(-time.Minute).UTC()}},
		OutboxDepth: 2, OutboxOldest: at.Add(-30 * time.Second).UTC(), ReplicaAgeS: 42, ClockSkewMs: -150, Paper: paper,
		Queues: []wire.QueueLength{{Service: "A", Waiting: 3}, {Service: "B", Waiting: 0}}}
}

func deviceOf(t *testing.T, h *Hub, id string) Device {
	t.Helper()
	ds, err := h.Devices(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("device %s not listed", id)
	return Device{}
}

// TestTelemetryLatestAndHistory: Devices shows the latest report with the hub's time of it; the
// history takes a report when TelemetryEvery passed or a part's state or the paper changed, and
// is pruned by age (as reports arrive, and by PruneTelemetry for a silent device) and by count.
func TestTelemetryLatestAndHistory(t *testing.T) { forBackends(t, testTelemetryLatestAndHistory) }

func testTelemetryLatestAndHistory(t *testing.T, be string) {
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	h := newHub(t, be, Options{Now: c.now, TelemetryRows: 4})
	id := enrollLeaf(t, h).Subject.CommonName
	if d := deviceOf(t, h, id); d.Telemetry != nil || !d.TelemetryAt.IsZero() {
		t.Fatalf("before any report: %+v at %s", d.Telemetry, d.TelemetryAt)
	}
	hist := func() []wire.Telemetry {
		t.Helper()
		got, err := h.TelemetryHistory(bg, id, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	send := func(r wire.Telemetry) {
		t.Helper()
		if err := h.ReportTelemetry(bg, id, r); err != nil {
			t.Fatal(err)
		}
	}

	first := report(c.now().Add(-time.Second), "ok", "ok")
	send(first)
	d := deviceOf(t, h, id)
	if d.Telemetry == nil || !d.TelemetryAt.Equal(c.now()) {
		t.Fatalf("latest: %+v at %s, want at %s", d.Telemetry, d.TelemetryAt, c.now())
	}
	if got, _ := json.Marshal(d.Telemetry); string(got) != string(must(json.Marshal(first))) {
		t.Errorf("latest report\n%s\nwant\n%s", got, must(json.Marshal(first)))
	}

	c.add(5 * time.Second) // a heartbeat later, nothing changed: latest only
	send(report(c.now(), "ok", "ok"))
	if n := len(hist()); n != 1 {
		t.Errorf("history after an unchanged report 5 s later: %d entries, want 1", n)
	}
	if d := deviceOf(t, h, id); !d.TelemetryAt.Equal(c.now()) {
		t.Errorf("latest not replaced: at %s", d.TelemetryAt)
	}

	c.add(5 * time.Second) // the paper ran out: into the history at once
	send(report(c.now(), "down", "out"))
	c.add(61 * time.Second) // a minute on, unchanged: sampled
	send(report(c.now(), "down", "out"))
	got := hist()
	if len(got) != 3 || got[1].Paper != "out" || got[1].Parts[1].State != "down" || got[0].Paper != "ok" {
		t.Fatalf("history: %+v", got)
	}
	if since, _ := h.TelemetryHistory(bg, id, c.now()); len(since) != 1 {
		t.Errorf("history since the last report: %d entries, want 1", len(since))
	}

	// Flapping: the row limit (4) keeps the newest.
	for i := range 4 {
		c.add(time.Second)
		send(report(c.now(), []string{"ok", "down"}[i%2], []string{"ok", "out"}[i%2]))
	}
	if got := hist(); len(got) != 4 || !got[3].At.Equal(c.now()) {
		t.Errorf("history past the row limit: %d entries, want 4 ending now", len(got))
	}

	// A day on, a new report prunes the old ones.
	c.add(25 * time.Hour)
	send(report(c.now(), "ok", "ok"))
	if got := hist(); len(got) != 1 {
		t.Errorf("history a day later: %d entries, want 1", len(got))
	}
	// And a device that went silent is pruned by PruneTelemetry.
	c.add(25 * time.Hour)
	if n, err := h.PruneTelemetry(bg); err != nil || n != 1 {
		t.Errorf("PruneTelemetry: %d, %v; want 1", n, err)
	}
	if got := hist(); len(got) != 0 {
		t.Errorf("history of a silent device: %d entries", len(got))
	}
	if d := deviceOf(t, h, id); d.Telemetry == nil {
		t.Error("pruning the history dropped the latest report")
	}
	if err := h.ReportTelemetry(bg, "d-nope", report(c.now(), "ok", "ok")); err == nil {
		t.Error("a report of an unknown device was stored")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestTelemetryBadReportKeepsRecords: over POST /v1/visits, a report the hub cannot keep is
// ignored and the records of the same upload are accepted all the same; a good one is kept.
func TestTelemetryBadReportKeepsRecords(t *testing.T) {
	forBackends(t, testTelemetryBadReportKeepsRecords)
}

func testTelemetryBadReportKeepsRecords(t *testing.T, be string) {
	h := newHub(t, be, Options{})
	leaf := enrollLeaf(t, h)
	id := leaf.Subject.CommonName
	handler := h.Handler()
	verifier, err := wire.NewVerifier(h.RootSPKI())
	if err != nil {
		t.Fatal(err)
	}
	good := must(json.Marshal(report(time.Now(), "ok", "ok")))
	withField := func(field, value string) string {
		var m map[string]json.RawMessage
		json.Unmarshal(good, &m)
		m[field] = json.RawMessage(value)
		return string(must(json.Marshal(m)))
	}
	many := make([]wire.PartHealth, wire.MaxTelemetryParts+1)
	for i := range many {
		many[i] = wire.PartHealth{Part: "p", State: "ok"}
	}
	for _, tc := range []struct {
		name, telemetry string
		kept            bool
	}{
		{"not an object", `5`, false},
		{"parts not a list", withField("parts", `"reader"`), false},
		{"unknown state", withField("parts", `[{"part":"reader","state":"broken"}]`), false},
		{"NUL in a reason", withField("parts", `[{"part":"reader","state":"down","reason":"a\u0000b"}]`), false},
		{"too many parts", withField("parts", string(must(json.Marshal(many)))), false},
		{"unknown paper", withField("paper", `"soggy"`), false},
		{"negative queue", withField("queues", `[{"service":"A","waiting":-1}]`), false},
		{"no time", withField("at", `"0001-01-01T00:00:00Z"`), false},
		{"too large", withField("version", `"`+strings.Repeat("x", wire.MaxTelemetryBytes)+`"`), false},
		{"null", `null`, false},
		{"good", string(good), true},
		{"unknown field (a newer kiosk)", withField("fan_rpm", `1200`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Start from no report, so "kept" is this upload's.
			if _, err := h.w.ExecContext(bg, `UPDATE devices SET telemetry = NULL, telemetry_at = 0`); err != nil {
				t.Fatal(err)
			}
			rid := uuid.Must(uuid.NewV7()).String()
			recJSON := must(json.Marshal(rec(rid, nil)))
			body := `{"v":1,"records":[` + string(recJSON) + `],"telemetry":` + tc.telemetry + `}`
			req := httptest.NewRequest(http.MethodPost, wire.PathVisits, strings.NewReader(body))
			req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("upload: %d %s", w.Code, w.Body)
			}
			var ack wire.Ack
			if _, err := verifier.Open(w.Body.Bytes(), wire.TypeAck, &ack); err != nil {
				t.Fatal(err)
			}
			if len(ack.Accepted) != 1 || ack.Accepted[0] != rid {
				t.Fatalf("the record beside the report: %+v", ack)
			}
			if d := deviceOf(t, h, id); (d.Telemetry != nil) != tc.kept {
				t.Errorf("report kept: %v, want %v", d.Telemetry != nil, tc.kept)
			}
		})
	}
}

// TestTelemetryHeartbeat: an upload of no records carrying a report (the idle kiosk's heartbeat)
// is answered with an empty acknowledgement and the report is kept.
func TestTelemetryHeartbeat(t *testing.T) {
	h := newHub(t, "sqlite", Options{})
	leaf := enrollLeaf(t, h)
	body := must(json.Marshal(wire.Upload{V: 1, Records: []wire.Record{}, Telemetry: new(report(time.Now(), "ok", "none"))}))
	req := httptest.NewRequest(http.MethodPost, wire.PathVisits, strings.NewReader(string(body)))
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
	w := httptest.NewRecorder()
	h.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("heartbeat: %d %s", w.Code, w.Body)
	}
	if d := deviceOf(t, h, leaf.Subject.CommonName); d.Telemetry == nil || d.Telemetry.Paper != "none" {
		t.Errorf("heartbeat's report: %+v", d.Telemetry)
	}
}

// FuzzParseTelemetry: whatever the bytes, parsing does not panic, and a report it returns passes
// the checks and stays within the list limits.
func FuzzParseTelemetry(f *testing.F) {
	f.Add(must(json.Marshal(report(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), "down", "out"))))
	f.Add([]byte(`{"at":"2026-12-01T09:00:00Z","paper":"none","parts":[{"part":"x","state":"unused"}],"replica_age_s":-1}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"parts":[{"part":"\u0000","state":"ok"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tel, err := ParseTelemetry(b)
		if err != nil || tel == nil {
			return
		}
		if err := wire.CheckTelemetry(*tel); err != nil {
			t.Fatalf("parsed a report that fails the checks: %v", err)
		}
		if len(tel.Parts) > wire.MaxTelemetryParts || len(tel.Queues) > wire.MaxTelemetryQueues {
			t.Fatalf("lists over their limits: %d parts, %d queues", len(tel.Parts), len(tel.Queues))
		}
	})
}
