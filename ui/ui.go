// Package ui is the kiosk's local HTTP server: the full-screen kiosk page (HTML, CSS, JS and voice
// clips embedded, nothing fetched from outside), the live state as Server-Sent Events, a small JSON
// API, health and Prometheus metrics. It only shows what the lane decides; it decides nothing.
package ui

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"

	"onepass/device"
	"onepass/internal/connlimit"
	"onepass/kiosk"
	"onepass/ui/api"
)

// Kiosk is what the UI needs from the lane (kiosk.Lane implements it; tests use a fake).
type Kiosk interface {
	View() kiosk.View
	// Subscribe delivers every new View until ctx is done; then the channel is closed. A slow reader
	// must never block the lane: the lane drops intermediate views for it but always delivers the latest.
	Subscribe(ctx context.Context) <-chan kiosk.View
	Metrics() kiosk.Metrics
}

// Options configure a Server. The zero value is usable.
type Options struct {
	Addr      string // listen address, default "127.0.0.1:8080"
	Logger    *slog.Logger
	Heartbeat time.Duration // SSE heartbeat, default 15s
	Status    StatusFunc    // GET /api/status (version, uptime, outbox, sync); absent when nil
	Sync      Sync          // /api/sync… (localapi.go); absent when nil
	Sim       SimOptions    // /api/sim… in --sim (localapi.go); each absent when nil

	// Queue tickets (queue.go, staff.go): the service picker after a PASS, /hall, /staff and
	// /api/tickets; all absent when Queue is nil.
	Queue    Queue
	Staff    StaffOptions
	Manual   ManualChecker // manual ID entry at the staff console; nil = not offered
	Visits   Visits        // recent outcomes on the staff console; nil = none listed
	Override Overrider     // staff decisions on MANUAL visits (staff console); nil = not offered

	// LANHosts are the host names the staff listener answers to besides IP literals and
	// localhost ([staff] hosts); ServeLANTLS adds its certificate's DNS names.
	LANHosts []string
	Limits   Limits // time-outs and connection caps of every listener; zero fields take defaults
}

// Limits bound what one client can hold on a listener: time to send a request, time to read a
// response, idle keep-alive connections and open connections per client address.
type Limits struct {
	ReadHeaderTimeout time.Duration // default 10s
	ReadTimeout       time.Duration // the whole request, body included; default 30s
	// WriteTimeout bounds writing a response (default 30s). Event streams live longer: they move
	// their connection's deadline forward at each event and heartbeat (events.go).
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration // a kept-alive connection between requests; default 2m
	ConnsPerClient int           // open connections per client address; default 32
}

func (l Limits) withDefaults() Limits {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.WriteTimeout, 30*time.Second)
	def(&l.IdleTimeout, 2*time.Minute)
	if l.ConnsPerClient <= 0 {
		// Loopback clients (the kiosk's browser, onepassctl, a local hall screen) all share one
		// address; a browser opens at most 6 connections per host, one per stream included.
		l.ConnsPerClient = 32
	}
	return l
}

// Server serves the kiosk screen and the local API of one lane.
type Server struct {
	k     Kiosk
	o     Options
	log   *slog.Logger
	mux   *http.ServeMux
	lan   *http.ServeMux // the staff listener's routes (queue.go); nil without a queue
	staff *staffAuth

	// Open event streams (events.go): the kiosk screen's /events is not capped per client, as
	// every local client shares the loopback address and nothing else may take its budget.
	kioskStreams, hallStreams, lanStreams *streamBudget
}

//go:embed assets
var assets embed.FS

var (
	staticFS = mustSub("assets/static")
	audioFS  = mustSub("assets/audio")
)

func mustSub(dir string) fs.FS {
	f, err := fs.Sub(assets, dir)
	if err != nil {
		panic(err) // only if the embed directive and the directory disagree
	}
	return f
}

// New builds the server. Every route of the local API is registered here (ui/api describes them).
func New(k Kiosk, o Options) *Server {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{k: k, o: o, log: o.Logger.With("component", "ui"), mux: http.NewServeMux(),
		kioskStreams: newStreamBudget(maxStreams, 0),
		hallStreams:  newStreamBudget(maxStreams, maxStreamsPerClient),
		lanStreams:   newStreamBudget(maxStreams, maxStreamsPerClient)}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /static/", staticFiles())
	s.mux.HandleFunc("GET /audio/{file}", s.audio)
	s.mux.HandleFunc("GET /events", s.events)
	s.mux.HandleFunc("GET /api/state", s.state)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /metrics", s.metrics)
	if o.Status != nil {
		s.mux.HandleFunc("GET /api/status", s.status)
	}
	s.routeQueue()
	s.routeSync()
	s.routeSim()
	return s
}

// Handler returns the server's routes behind the local guards, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return localOnly(s.mux) }

// localOnly guards the local API, which has no login: a Host that is a DNS name (a rebinding
// attack makes evil.example resolve to 127.0.0.1) is refused, and so is any state-changing request
// a browser marks as cross-origin (a page elsewhere posting to 127.0.0.1:8080). onepassctl and the
// kiosk's own page pass both checks.
func localOnly(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return hostGuard(cop.Handler(h), nil, "ui: this API answers only to an IP address or localhost")
}

// hostGuard refuses (421) a request whose Host is not an IP literal, localhost or one of names.
func hostGuard(h http.Handler, names []string, refusal string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowedHost(r.Host, names) {
			http.Error(w, refusal, http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ipOrLocalhost reports whether a Host header names an IP literal or localhost.
func ipOrLocalhost(host string) bool { return allowedHost(host, nil) }

// allowedHost reports whether a Host header names an IP literal, localhost or one of names
// (compared without case and without a trailing dot, as DNS does).
func allowedHost(host string, names []string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" || net.ParseIP(host) != nil {
		return true
	}
	host = strings.TrimSuffix(host, ".")
	for _, n := range names {
		if n = strings.TrimSuffix(n, "."); n != "" && strings.EqualFold(host, n) {
			return true
		}
	}
	return false
}

// Listen binds Options.Addr; the caller learns the real address (port 0) from the listener.
func (s *Server) Listen() (net.Listener, error) {
	l, err := net.Listen("tcp", s.o.Addr)
	if err != nil {
		return nil, fmt.Errorf("ui: listen: %w", err)
	}
	return l, nil
}

// Serve serves on l until ctx is done, then shuts down gracefully: open event streams are ended
// (browsers reconnect to the next daemon) and other requests get a few seconds to finish.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serveHTTP(ctx, l, s.Handler(), s.log, s.o.Limits, nil)
}

// serveHTTP is Serve for any handler (the daemon's "starting…" front and the LAN listener serve
// through it too), over TLS when tlsCfg is set. Every server gets lim's time-outs, so a client
// that trickles a request body or never reads its answer is cut off, and lim's cap on open
// connections per client address, counted on TCP connections before any TLS work.
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger, lim Limits, tlsCfg *tls.Config) error {
	lim = lim.withDefaults()
	// Event streams never go idle, so Shutdown alone would wait for them: their requests derive
	// from base, which is cancelled as soon as Shutdown starts.
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancel)
	l = connlimit.New(l, lim.ConnsPerClient)
	if tlsCfg != nil {
		l = tls.NewListener(l, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("serving", "addr", l.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("ui: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("ui: shutdown: %w", err)
	}
	return nil
}

// csp keeps the page on this origin only: no CDN, no external fonts, nothing inline.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; frame-ancestors 'none'"

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, assets, "assets/index.html")
}

// staticFiles serves the embedded page code. A path the file system cannot even name (invalid
// UTF-8 such as the overlong "%c0%ae%c0%ae" for "..") is simply not there: 404, not 500.
func staticFiles() http.Handler {
	files := noCache(http.StripPrefix("/static/", http.FileServerFS(staticFS)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if name != "" && !fs.ValidPath(strings.TrimSuffix(name, "/")) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// noCache makes the browser revalidate the page's code, so a daemon upgrade shows at the next load.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

var clipName = regexp.MustCompile(`^[a-z0-9_]+\.wav$`)

func (s *Server) audio(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if !clipName.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	if _, err := fs.Stat(audioFS, name); err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "audio/wav") // not left to the system's mime.types
	w.Header().Set("Cache-Control", "max-age=3600")
	http.ServeFileFS(w, r, audioFS, name) // handles Range requests, which media elements send
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.k.View())
}

// healthz reports the overall health (see overall) and every configured part's.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	parts := s.k.View().Health
	if parts == nil {
		parts = map[string]device.Health{}
	}
	status, code := overall(parts)
	writeJSON(w, code, api.Health{Status: status, Parts: parts})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "ui: encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
