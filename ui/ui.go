// Package ui is the kiosk's local HTTP server: the full-screen kiosk page (HTML, CSS, JS and voice
// clips embedded, nothing fetched from outside), the live state as Server-Sent Events, a small JSON
// API, health and Prometheus metrics. It only shows what the lane decides; it decides nothing.
package ui

import (
	"context"
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
	"sync/atomic"
	"time"

	"onepass/device"
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
}

// Server serves the kiosk screen and the local API of one lane.
type Server struct {
	k     Kiosk
	o     Options
	log   *slog.Logger
	mux   *http.ServeMux
	lan   *http.ServeMux // the staff listener's routes (queue.go); nil without a queue
	staff *staffAuth

	streams atomic.Int64 // open event streams, capped at maxStreams
}

// maxStreams bounds the open event streams: the kiosk page, a few hall screens and staff tabs need
// a handful; a LAN client opening thousands must not slow every publish.
const maxStreams = 64

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
	s := &Server{k: k, o: o, log: o.Logger.With("component", "ui"), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.Handle("GET /static/", noCache(http.StripPrefix("/static/", http.FileServerFS(staticFS))))
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
	guarded := cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ipOrLocalhost(r.Host) {
			http.Error(w, "ui: this API answers only to an IP address or localhost", http.StatusMisdirectedRequest)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

// ipOrLocalhost reports whether a Host header names an IP literal or localhost.
func ipOrLocalhost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return host == "localhost" || net.ParseIP(host) != nil
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
	return serveHTTP(ctx, l, s.Handler(), s.log)
}

// serveHTTP is Serve for any handler (the daemon's "starting…" front serves through it too).
func serveHTTP(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	// Event streams never go idle, so Shutdown alone would wait for them: their requests derive
	// from base, which is cancelled as soon as Shutdown starts.
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(cancel)
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
