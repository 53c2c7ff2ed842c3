// Package dashboard is the hub's operators' dashboard, served at /admin/ beside the protocol on
// the hub's TLS listener: the fleet (which kiosks need a technician), each hall's day (visits per
// hour, outcomes, fever, staff overrides, tickets and waits) and the audit trail. Operators log
// in with a password (onepass-hub admin add); sessions, failed-login counters and lock-outs are
// kept in the hub's database, so every replica agrees on them. It shows counts and masked names
// only: no person key or sealed ID is read, let alone opened. Pages are rendered on the server;
// the one script draws the charts with the embedded Chart.js, and nothing is fetched elsewhere.
package dashboard

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"onepass/sync/hub"
)

//go:embed assets
var assets embed.FS

// Options tune the dashboard; the zero value serves production defaults.
type Options struct {
	// PushInterval is the kiosks' [sync] push_interval (default 5s): a kiosk not heard from for
	// three of them is flagged silent.
	PushInterval time.Duration
	// MaxSkew is the clock skew beyond which a kiosk is flagged (default hub.DefaultMaxSkew).
	MaxSkew time.Duration
	// Location is where days and hours are counted (default time.Local: the halls' time).
	Location *time.Location
	// LockoutAfter wrong passwords in a row for a name lock it for LockoutFor (default 5, 5m);
	// an address is locked after three times as many.
	LockoutAfter int
	LockoutFor   time.Duration
	// DelayBase is an address's wait after its first failure in a row, doubling with each
	// further one up to 30 times it (default 1s).
	DelayBase time.Duration
	// SessionIdle ends a session unused this long (default 30m).
	SessionIdle time.Duration
	// FleetRefresh reloads the fleet page this often (default 60s; negative: never).
	FleetRefresh time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Dashboard serves /admin/.
type Dashboard struct {
	h     *hub.Hub
	o     Options
	pages map[string]*template.Template
	words [2]map[string]string
	dummy []byte // bcrypt of nothing, compared for an unknown or locked name
	mux   *http.ServeMux
}

// New makes the dashboard of hub h.
func New(h *hub.Hub, o Options) (*Dashboard, error) {
	if o.PushInterval <= 0 {
		o.PushInterval = 5 * time.Second
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = hub.DefaultMaxSkew
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.LockoutAfter <= 0 {
		o.LockoutAfter = 5
	}
	if o.LockoutFor <= 0 {
		o.LockoutFor = 5 * time.Minute
	}
	if o.DelayBase <= 0 {
		o.DelayBase = time.Second
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 30 * time.Minute
	}
	if o.FleetRefresh == 0 {
		o.FleetRefresh = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	d := &Dashboard{h: h, o: o, pages: map[string]*template.Template{}}
	for l := range d.words {
		d.words[l] = map[string]string{}
		for k, v := range texts {
			d.words[l][k] = v[l]
		}
	}
	funcs := template.FuncMap{
		"ago":   ago,
		"clock": func(t time.Time) string { return t.In(o.Location).Format("15:04:05") },
		"stamp": func(t time.Time) string { return t.In(o.Location).Format("2006-01-02 15:04:05") },
		"wait":  fmtWait,
		"pct": func(n, of int) int {
			if of == 0 {
				return 0
			}
			return (200*n + of) / (2 * of) // rounded
		},
		"skew": func(d time.Duration) string { return fmt.Sprintf("%+.1fs", d.Seconds()) },
		"tf":   func(format string, a ...any) string { return fmt.Sprintf(format, a...) },
	}
	for _, name := range []string{"login", "fleet", "kiosk", "halls", "audit"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		d.pages[name] = t
	}
	var err error
	if d.dummy, err = bcrypt.GenerateFromPassword([]byte("no such operator"), bcrypt.DefaultCost); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		return nil, err
	}
	m := http.NewServeMux()
	m.Handle("GET /admin/static/", http.StripPrefix("/admin/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /admin/login", d.loginPage)
	m.HandleFunc("POST /admin/login", d.login)
	m.HandleFunc("POST /admin/logout", d.operator(d.logout))
	m.HandleFunc("GET /admin/{$}", d.operator(d.fleet))
	m.HandleFunc("GET /admin/kiosk", d.operator(d.kiosk))
	m.HandleFunc("GET /admin/halls", d.operator(d.halls))
	m.HandleFunc("GET /admin/audit", d.operator(d.audit))
	d.mux = m
	return d, nil
}

// csp lets the pages load only the hub's own script, styles and images: nothing from elsewhere,
// no inline script.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves /admin/ and everything under it.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	d.mux.ServeHTTP(w, r)
}

// fmtWait says a wait in minutes and seconds.
func fmtWait(w time.Duration) string {
	w = w.Round(time.Second)
	if w < time.Minute {
		return fmt.Sprintf("%ds", int(w/time.Second))
	}
	return fmt.Sprintf("%dm%02ds", int(w/time.Minute), int(w%time.Minute/time.Second))
}

// Mount puts the dashboard at /admin/ beside the hub's protocol handler (hub.ServeWith's wrap).
// Operators' browsers carry no client certificate: the listener asks for one only if given
// (hub.TLSConfig), and every protocol route but enrollment still refuses a request without one.
func Mount(d *Dashboard) func(http.Handler) http.Handler {
	return func(protocol http.Handler) http.Handler {
		m := http.NewServeMux()
		m.Handle("/admin/", d)
		m.Handle("/", protocol)
		return m
	}
}
