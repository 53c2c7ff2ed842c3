package dashboard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"onepass/sync/hub"
	"onepass/sync/wire"
)

var bg = context.Background()

var cst = time.FixedZone("CST", 8*3600)

// clock is the hub's and the dashboard's shared, movable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.Set(c.Now().Add(d)) }

type fixture struct {
	h     *hub.Hub
	clock *clock
	url   string // https://127.0.0.1:PORT
}

// newFixture serves a fresh hub with its dashboard on its TLS listener, as onepass-hub serve
// does, with the operators li.ming and zhao.lei (password "correct horse battery").
func newFixture(t *testing.T, o Options) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := hub.Init(dir, hub.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, cst)}
	quiet := slog.New(slog.DiscardHandler)
	h, err := hub.Open(bg, dir, hub.Options{Now: c.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	hash, _ := bcrypt.GenerateFromPassword([]byte("correct horse battery"), bcrypt.MinCost)
	for _, name := range []string{"li.ming", "zhao.lei"} {
		if err := h.AddOperator(bg, name, string(hash)); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{h: h, clock: c}
	o.Now, o.Logger, o.Location = c.Now, quiet, cst
	if o.DelayBase == 0 {
		o.DelayBase = time.Millisecond
	}
	if o.FleetRefresh == 0 {
		o.FleetRefresh = -1
	}
	d, err := New(h, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan error, 1)
	go func() { done <- h.ServeWith(ctx, l, Mount(d)) }()
	t.Cleanup(func() { cancel(); <-done })
	f.url = "https://" + l.Addr().String()
	return f
}

// client is an operator's browser as Go sees it: cookies, and no client certificate.
func (f *fixture) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // the hub's own test CA
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) post(t *testing.T, c *http.Client, path string, form url.Values, origin string) (*http.Response, string) {
	t.Helper()
	if path == "/admin/login" {
		f.clock.Add(time.Second) // past the address's delay after a failure (but DelayBase: time.Hour)
	}
	req, _ := http.NewRequest("POST", f.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) get(t *testing.T, c *http.Client, path string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(f.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func login(user, pw string) url.Values { return url.Values{"user": {user}, "password": {pw}} }

// TestKioskRoutesStillNeedCertificate: the dashboard answers a browser without a client
// certificate on the hub's listener, and the protocol's routes still refuse one.
func TestKioskRoutesStillNeedCertificate(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.client(t)
	for _, p := range []string{wire.PathHead, wire.PathPolicy, wire.PathKeys} {
		if resp, _ := f.get(t, c, p); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a certificate: %d, want 401", p, resp.StatusCode)
		}
	}
	if resp, body := f.get(t, c, "/admin/login"); resp.StatusCode != 200 || !strings.Contains(body, `id="login-form"`) {
		t.Errorf("login page: %d", resp.StatusCode)
	} else if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if resp, _ := f.get(t, c, "/admin/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/login" {
		t.Errorf("fleet without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := f.get(t, c, "/admin/static/vendor/chartjs/chart.umd.min.js"); resp.StatusCode != 200 || !strings.Contains(body, "Chart.js v4.6.2") {
		t.Errorf("embedded Chart.js: %d", resp.StatusCode)
	}
}

// TestLoginLockoutCSRF: wrong passwords lock a name (the right one is then refused alike, with
// the same answer as an unknown name) while another operator still logs in; a cross-origin login
// and a logout without the CSRF token are refused; an address that keeps failing must wait.
func TestLoginLockoutCSRF(t *testing.T) {
	f := newFixture(t, Options{LockoutAfter: 3})
	c := f.client(t)
	var refusals []string
	for i := 0; i < 3; i++ {
		resp, body := f.post(t, c, "/admin/login", login("zhao.lei", "wrong"), f.url)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
		refusals = append(refusals, errorText(body))
	}
	resp, body := f.post(t, c, "/admin/login", login("zhao.lei", "correct horse battery"), f.url)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the right password on a locked name: %d", resp.StatusCode)
	}
	_, unknown := f.post(t, c, "/admin/login", login("nobody", "correct horse battery"), f.url)
	if locked := errorText(body); locked != refusals[0] || errorText(unknown) != locked || !strings.Contains(locked, "3") {
		t.Errorf("refusals differ: wrong %q, locked %q, unknown %q", refusals[0], locked, errorText(unknown))
	}
	if resp, _ := f.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin login: %d", resp.StatusCode)
	}
	resp, _ = f.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), f.url)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin/" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, page := f.get(t, c, "/admin/")
	if resp.StatusCode != 200 || !strings.Contains(page, `id="operator">li.ming<`) {
		t.Fatalf("fleet after login: %d", resp.StatusCode)
	}
	if resp, _ := f.post(t, c, "/admin/logout", url.Values{}, f.url); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without the CSRF token: %d", resp.StatusCode)
	}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatal("no CSRF token on the page")
	}
	if resp, _ := f.post(t, c, "/admin/logout", url.Values{"csrf": {csrf[1]}}, "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin logout: %d", resp.StatusCode)
	}
	if resp, _ := f.post(t, c, "/admin/logout", url.Values{"csrf": {csrf[1]}}, f.url); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := f.get(t, c, "/admin/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("fleet after logout: %d", resp.StatusCode)
	}
	f.clock.Add(6 * time.Minute)
	if resp, _ := f.post(t, c, "/admin/login", login("zhao.lei", "correct horse battery"), f.url); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after the lock-out: %d", resp.StatusCode)
	}

	// The growing delay: after a failure the address waits DelayBase (an hour here; the next try
	// comes a second later) before its next try is even checked.
	slow := newFixture(t, Options{DelayBase: time.Hour})
	c = slow.client(t)
	slow.post(t, c, "/admin/login", login("li.ming", "wrong"), slow.url)
	resp, _ = slow.post(t, c, "/admin/login", login("li.ming", "correct horse battery"), slow.url)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3599" {
		t.Errorf("a try before the delay: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func errorText(body string) string {
	m := regexp.MustCompile(`id="error" role="alert">([^<]*)<`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestAssess: each kiosk's light and the reasons it needs attention.
func TestAssess(t *testing.T) {
	now := time.Date(2026, 11, 26, 18, 0, 0, 0, cst)
	push, skew := 5*time.Second, 2*time.Minute
	ok := func(mod func(*wire.Telemetry)) *wire.Telemetry {
		tl := &wire.Telemetry{Version: "1.4.0", Parts: []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "printer", State: "ok"}},
			ReplicaAgeS: 30, Paper: "ok"}
		if mod != nil {
			mod(tl)
		}
		return tl
	}
	seen := now.Add(-4 * time.Second)
	tests := []struct {
		name     string
		d        hub.Device
		colour   string
		problems string
	}{
		{"healthy", hub.Device{LastSeen: seen, Telemetry: ok(nil)}, green, ""},
		{"no report yet", hub.Device{LastSeen: seen}, green, ""},
		{"silent for 3 pushes and a bit", hub.Device{LastSeen: now.Add(-16 * time.Second), Telemetry: ok(nil)}, red, "p_silent"},
		{"never seen", hub.Device{}, red, "p_silent"},
		{"part down", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.Parts[1].State = "down" })}, red, "p_part_down"},
		{"part degraded", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.Parts[0].State = "degraded" })}, amber, "p_part_degraded"},
		{"unused part", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.Parts[0].State = "unused" })}, green, ""},
		{"paper low", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.Paper = "low" })}, amber, "p_paper_low"},
		{"paper out", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.Paper = "out" })}, red, "p_paper_out"},
		{"no replica", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.ReplicaAgeS = -1 })}, amber, "p_replica_old"},
		{"old replica", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.ReplicaAgeS = 7200 })}, amber, "p_replica_old"},
		{"skew", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.ClockSkewMs, t.SkewKnown = -180_000, true })}, amber, "p_skew"},
		{"skew from a kiosk before skew_known", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.ClockSkewMs = -180_000 })}, amber, "p_skew"},
		{"skew known, none", hub.Device{LastSeen: seen, Telemetry: ok(func(t *wire.Telemetry) { t.SkewKnown = true })}, green, ""},
		{"skew not measured yet", hub.Device{LastSeen: seen, Telemetry: ok(nil)}, green, ""},
		{"uploads behind", hub.Device{LastSeen: seen, TelemetryAt: seen, Telemetry: ok(func(t *wire.Telemetry) {
			t.OutboxDepth, t.OutboxOldest = 40, seen.Add(-time.Minute)
		})}, amber, "p_outbox_lag"},
		{"revoked and silent", hub.Device{RevokedAt: now.Add(-time.Hour)}, grey, ""},
		{"two problems", hub.Device{LastSeen: now.Add(-time.Minute), Telemetry: ok(func(t *wire.Telemetry) { t.Paper = "low" })}, red, "p_silent p_paper_low"},
	}
	for _, tc := range tests {
		k := assess(tc.d, now, push, skew)
		if k.Colour != tc.colour || strings.Join(k.Problems, " ") != tc.problems {
			t.Errorf("%s: %s %v, want %s %q", tc.name, k.Colour, k.Problems, tc.colour, tc.problems)
		}
	}
}

// seedFleet enrolls kiosks in two halls and seeds a day's visits and tickets in 东城:
// k1 healthy, k2 with its printer down, k3 silent (last heard ten minutes ago), k4 in 西城 (its
// clock skew not measured yet).
func seedFleet(t *testing.T, f *fixture) map[string]string {
	t.Helper()
	now := f.clock.Now()
	ids := map[string]string{}
	f.clock.Set(now.Add(-10 * time.Minute))
	ids["k3"] = enroll(t, f.h, "东城")
	f.clock.Set(now.Add(-2 * time.Second))
	ids["k1"], ids["k2"], ids["k4"] = enroll(t, f.h, "东城"), enroll(t, f.h, "东城"), enroll(t, f.h, "西城")
	f.clock.Set(now)
	report := func(mod func(*wire.Telemetry)) *wire.Telemetry {
		tl := &wire.Telemetry{At: now, Version: "1.4.0", UptimeS: 3600, ReplicaAgeS: 20, ClockSkewMs: 12, SkewKnown: true, Paper: "ok",
			Parts: []wire.PartHealth{{Part: "reader", State: "ok"}, {Part: "thermometer", State: "ok"}, {Part: "printer", State: "ok"}}}
		if mod != nil {
			mod(tl)
		}
		return tl
	}
	// Half an hour ago k2 was healthy, its outbox 3 deep: its kiosk page's history shows the change.
	f.clock.Set(now.Add(-30 * time.Minute))
	if err := f.h.ReportTelemetry(bg, ids["k2"], *report(func(t *wire.Telemetry) { t.At, t.OutboxDepth = now.Add(-30*time.Minute), 3 })); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(now)
	// The reports go in as a push's would (the hub's own store of the kiosks' telemetry).
	for k, tl := range map[string]*wire.Telemetry{
		"k1": report(nil),
		"k2": report(func(t *wire.Telemetry) {
			t.Parts[2] = wire.PartHealth{Part: "printer", State: "down", Reason: "no answer on /dev/onepass-printer", Since: now.Add(-time.Hour)}
		}),
		"k3": report(nil),
		"k4": report(func(t *wire.Telemetry) { t.ClockSkewMs, t.SkewKnown = 0, false }), // not measured yet
	} {
		if err := f.h.ReportTelemetry(bg, ids[k], *tl); err != nil {
			t.Fatal(err)
		}
	}

	day := time.Date(2026, 11, 26, 0, 0, 0, 0, cst)
	at := func(hh, mm int) time.Time {
		return day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	ingest(t, f.h, ids["k1"],
		visit(at(9, 0), "card", "PASS", "ok", ""), visit(at(9, 5), "code", "PASS", "ok", ""),
		visit(at(9, 40), "card", "DENY", "fever", ""), visit(at(10, 2), "card", "MANUAL", "status_stale", ""),
		visit(at(10, 3), "staff", "PASS", "staff_override", "7"), visit(at(14, 30), "manual", "PASS", "ok", ""),
		ticket(at(9, 0), "t1", "issued", "A"), ticket(at(9, 10), "t1", "called", "A"),
		ticket(at(9, 1), "t2", "issued", "A"), ticket(at(9, 31), "t2", "called", "A"),
		ticket(at(9, 2), "t3", "issued", "B"))
	ingest(t, f.h, ids["k4"], visit(at(11, 0), "card", "PASS", "ok", ""))
	return ids
}

func enroll(t *testing.T, h *hub.Hub, hall string) string {
	t.Helper()
	tok, err := h.NewToken(bg, hall, 1, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "k"}}, k)
	resp, _, err := h.Enroll(bg, wire.EnrollRequest{V: wire.Major, Token: tok, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Device
}

// sealedMarker is in every seeded visit's sealed ID and person key: no page may show it.
var sealedMarker = []byte("SEALED-ID-NEVER-SHOWN-0123456789")

func visit(at time.Time, method, outcome, reason, staff string) wire.Record {
	temp := 36.6
	if reason == "fever" {
		temp = 38.2
	}
	v := &wire.Visit{Lane: "1", Method: method, PersonKey: sealedMarker, SealedID: sealedMarker, MaskedName: "张*丰",
		TempC: &temp, Outcome: outcome, Reason: reason}
	if method == "staff" {
		v.StaffID, v.Overrides, v.Note = staff, uuid.NewString(), "elderly_no_phone"
	}
	return wire.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: "visit", At: at, Visit: v}
}

func ticket(at time.Time, id, event, service string) wire.Record {
	body := fmt.Sprintf(`{"ticket_id":%q,"event":%q,"day":"2026-11-26","number":"A1","service":%q,"source":"kiosk","waited_ms":0}`, id, event, service)
	return wire.Record{ID: uuid.Must(uuid.NewV7()).String(), Kind: "ticket", At: at, Body: json.RawMessage(body)}
}

func ingest(t *testing.T, h *hub.Hub, device string, recs ...wire.Record) {
	t.Helper()
	ack, err := h.Ingest(bg, device, recs)
	if err != nil || len(ack.Rejected) > 0 {
		t.Fatalf("ingest: %+v %v", ack.Rejected, err)
	}
}
