// Package selftest checks a kiosk the way a technician needs before handing it over: every
// configured part runs its own SelfTest (reader SAM, thermometer read, camera frame and test-pattern
// decode, printer status), the database passes its integrity check and, when sync is configured,
// the hub answers over mutual TLS, the clock agrees with the hub's and the device certificate is
// valid. It opens everything itself, so it needs no running daemon.
package selftest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/sync/store"
)

// State is the outcome of one check.
type State string

// Check outcomes. Only Fail makes the report fail: Warn is for what needs attention soon (a
// certificate close to expiry), Skip for what is not configured.
const (
	OK   State = "ok"
	Warn State = "warn"
	Fail State = "fail"
	Skip State = "skip"
)

// Check is one line of the report.
type Check struct {
	Name   string `json:"name"`             // reader, thermometer, camera, printer, signal, database, hub, clock, certificate
	Driver string `json:"driver,omitempty"` // the part's driver ("sim" for simulated parts)
	State  State  `json:"state"`
	Detail string `json:"detail,omitempty"` // what failed, or what was seen
	MS     int64  `json:"ms"`               // how long the check took
}

// Report is the whole self-test, as printed by `onepassctl selftest --json`.
type Report struct {
	Version string    `json:"version"`
	Host    string    `json:"host"`
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"` // no check failed
	Checks  []Check   `json:"checks"`
}

// Part is a configured part: how to open it. Open returns (nil, nil) for a part that is not
// configured.
type Part struct {
	Name   string
	Driver string
	Open   func(ctx context.Context) (device.Part, error)
}

// Sync is what the sync checks need; nil Options.Sync means sync is not configured.
type Sync struct {
	HubURL  string            // the hub's base URL (https://…)
	TLS     *tls.Config       // the device certificate, and the hub trusted as the sync client trusts it
	Cert    *x509.Certificate // the device certificate, checked for expiry
	Err     error             // the enrollment could not be read: every sync check fails with it
	MaxSkew time.Duration     // allowed |local − hub| clock difference; default 2 min (codes live minutes)
	Expiry  time.Duration     // warn when the certificate expires sooner than this; default 30 days
}

// Options say what to check.
type Options struct {
	Version  string
	Parts    []Part
	Database string        // path of onepass.db
	Sync     *Sync         // nil: not configured, the three sync checks are skipped
	Timeout  time.Duration // per check; default 20 s
	Clock    clockwork.Clock
}

// Run performs every check in order and never stops early: the technician wants the whole list.
func Run(ctx context.Context, o Options) Report {
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	host, _ := os.Hostname()
	r := Report{Version: o.Version, Host: host, At: o.Clock.Now().UTC(), OK: true}
	run := func(name, driver string, fn func(ctx context.Context) (State, string)) {
		ctx, cancel := context.WithTimeout(ctx, o.Timeout)
		defer cancel()
		start := o.Clock.Now()
		st, detail := fn(ctx)
		if ctx.Err() != nil && st == Fail {
			detail += fmt.Sprintf(" (gave up after %s)", o.Timeout)
		}
		r.Checks = append(r.Checks, Check{Name: name, Driver: driver, State: st, Detail: detail, MS: o.Clock.Since(start).Milliseconds()})
		if st == Fail {
			r.OK = false
		}
	}
	for _, p := range o.Parts {
		run(p.Name, p.Driver, func(ctx context.Context) (State, string) { return checkPart(ctx, p) })
	}
	run("database", "", func(ctx context.Context) (State, string) { return checkDatabase(ctx, o.Database) })
	if o.Sync == nil {
		for _, n := range []string{"hub", "clock", "certificate"} {
			run(n, "", func(context.Context) (State, string) { return Skip, "sync not configured" })
		}
		return r
	}
	s := *o.Sync
	if s.Err != nil {
		for _, n := range []string{"hub", "clock", "certificate"} {
			run(n, "", func(context.Context) (State, string) { return Fail, s.Err.Error() })
		}
		return r
	}
	if s.MaxSkew <= 0 {
		s.MaxSkew = 2 * time.Minute
	}
	if s.Expiry <= 0 {
		s.Expiry = 30 * 24 * time.Hour
	}
	var hubDate time.Time
	var rtt time.Duration
	run("hub", "", func(ctx context.Context) (State, string) {
		var st State
		var detail string
		st, detail, hubDate, rtt = checkHub(ctx, s, o.Clock)
		return st, detail
	})
	run("clock", "", func(context.Context) (State, string) { return checkSkew(hubDate, rtt, s.MaxSkew, o.Clock) })
	run("certificate", "", func(context.Context) (State, string) { return checkCert(s.Cert, s.Expiry, o.Clock.Now()) })
	return r
}

// checkPart opens the part, runs its SelfTest and closes it. A part the driver opened but whose
// hardware is absent fails here with the driver's reason ("port gone").
func checkPart(ctx context.Context, p Part) (st State, detail string) {
	if p.Open == nil {
		return Skip, "not configured"
	}
	part, err := p.Open(ctx)
	if err != nil {
		return Fail, "open: " + err.Error()
	}
	if part == nil {
		return Skip, "not configured"
	}
	defer func() {
		if err := part.Close(); err != nil && st != Fail {
			st, detail = Fail, "close: "+err.Error()
		}
	}()
	if err := part.SelfTest(ctx); err != nil {
		return Fail, err.Error()
	}
	if h := part.Health(); h.State != device.OK {
		return Warn, "self-test passed, health " + h.String()
	}
	return OK, "self-test passed"
}

// checkDatabase opens the database (bringing its schema up to date, as the daemon would) and runs
// SQLite's integrity and foreign-key checks. A kiosk that never started has no database yet: then
// the directory must exist and be writable, since the daemon creates the file there.
func checkDatabase(ctx context.Context, path string) (State, string) {
	if path == "" {
		return Fail, "no database path"
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		dir := filepath.Dir(path)
		f, err := os.CreateTemp(dir, ".onepass-selftest-*")
		if err != nil {
			return Fail, fmt.Sprintf("no database yet and %s is not writable: %v", dir, err)
		}
		f.Close()
		os.Remove(f.Name())
		return OK, "no database yet; " + dir + " is writable (the daemon creates it at first start)"
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return Fail, err.Error()
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return Fail, err.Error()
	}
	detail := "integrity ok"
	if n, err := db.OutboxDepth(ctx); err == nil {
		detail += fmt.Sprintf(", %d waiting for upload", n)
	}
	return OK, detail
}

// checkHub makes one request to the hub over mutual TLS. Any HTTP answer proves the network path,
// the hub's certificate and (since the hub requires it) ours; the Date header feeds the clock check.
func checkHub(ctx context.Context, s Sync, clock clockwork.Clock) (State, string, time.Time, time.Duration) {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: s.TLS, Proxy: http.ProxyFromEnvironment}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.HubURL, nil)
	if err != nil {
		return Fail, "hub URL: " + err.Error(), time.Time{}, 0
	}
	start := clock.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Fail, "unreachable: " + err.Error(), time.Time{}, 0
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	rtt := clock.Since(start)
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	detail := fmt.Sprintf("%s answered %s in %d ms", s.HubURL, resp.Status, rtt.Milliseconds())
	if resp.StatusCode >= 500 {
		return Fail, detail, date, rtt
	}
	return OK, detail, date, rtt
}

// checkSkew compares the local clock with the hub's Date header, taken half-way through the
// request. Health codes live minutes, so a kiosk clock off by more than MaxSkew judges them wrongly.
func checkSkew(hubDate time.Time, rtt, max time.Duration, clock clockwork.Clock) (State, string) {
	if hubDate.IsZero() {
		return Fail, "no time from the hub (unreachable, or no Date header)"
	}
	// Date has one-second resolution and was stamped during the request.
	skew := clock.Now().Add(-rtt / 2).Sub(hubDate)
	detail := fmt.Sprintf("local clock %+.0f s from the hub's", skew.Seconds())
	if skew > max+time.Second || skew < -max-time.Second {
		return Fail, detail + fmt.Sprintf(" (more than %s): check NTP (timedatectl)", max)
	}
	return OK, detail
}

func checkCert(c *x509.Certificate, soon time.Duration, now time.Time) (State, string) {
	if c == nil {
		return Fail, "no device certificate (not enrolled? onepassctl enroll --hub URL --token T)"
	}
	left := c.NotAfter.Sub(now)
	detail := fmt.Sprintf("%s valid until %s", c.Subject.CommonName, c.NotAfter.UTC().Format("2006-01-02"))
	switch {
	case now.Before(c.NotBefore):
		return Fail, fmt.Sprintf("%s not valid before %s: is the clock right?", c.Subject.CommonName, c.NotBefore.UTC().Format(time.RFC3339))
	case left <= 0:
		return Fail, detail + ": expired, enroll again"
	case left < soon:
		return Warn, fmt.Sprintf("%s (%d days left): renew soon", detail, int(left.Hours()/24))
	}
	return OK, detail
}

// WriteTable prints the report for a person: one line per check, then the verdict.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECK\tDRIVER\tRESULT\tTIME\tDETAIL\n")
	for _, c := range r.Checks {
		drv := c.Driver
		if drv == "" {
			drv = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d ms\t%s\n", c.Name, drv, strings.ToUpper(string(c.State)), c.MS, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASSED"
	if !r.OK {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "\nself-test %s (onepass %s on %s, %s)\n", verdict, r.Version, r.Host, r.At.Format(time.RFC3339))
	return err
}

// WriteJSON prints the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
