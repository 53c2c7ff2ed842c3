package ui

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
)

// Starting is the daemon's front door while it opens the database and the devices: the daemon
// binds its address first and serves this at once, so the kiosk browser never meets a refused
// connection, only a "starting…" screen that reloads itself. Ready hands every later request to
// the real server's handler.
type Starting struct {
	// Limits are the listener's time-outs and connection caps (zero fields: defaults); set
	// before Serve. This is the kiosk's main listener for the daemon's whole life.
	Limits Limits

	version string
	log     *slog.Logger
	next    atomic.Pointer[http.Handler]
}

// NewStarting returns the front door for a daemon of the given version.
func NewStarting(version string, logger *slog.Logger) *Starting {
	if logger == nil {
		logger = slog.Default()
	}
	return &Starting{version: version, log: logger.With("component", "ui")}
}

// Ready switches every following request to h (the real server's Handler).
func (st *Starting) Ready(h http.Handler) { st.next.Store(&h) }

// Serve serves on l until ctx is done, exactly as Server.Serve does (graceful shutdown included).
func (st *Starting) Serve(ctx context.Context, l net.Listener) error {
	return serveHTTP(ctx, l, st, st.log, st.Limits, nil)
}

// Listen binds addr ("127.0.0.1:8080"); the daemon calls it before anything slow.
func Listen(addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ui: listen: %w", err)
	}
	return l, nil
}

func (st *Starting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := st.next.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "1")
	switch {
	case r.URL.Path == "/events":
		// An EventSource gives up for good on an error status, but reconnects after a stream that
		// ends: end it at once and ask for a retry in a second.
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 1000\n\n")
	case r.URL.Path == "/healthz" || strings.HasPrefix(r.URL.Path, "/api/"):
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting", "version": st.version})
	default:
		// No script (the kiosk's CSP forbids inline code): the page reloads itself each second
		// and becomes the kiosk screen as soon as the daemon is ready.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, startingPage, html.EscapeString(st.version))
	}
}

const startingPage = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="1">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>正在启动 Starting</title>
<style>
html,body{height:100%%;margin:0;background:#0b3d91;color:#fff;font-family:"WenQuanYi Micro Hei","Noto Sans CJK SC",sans-serif}
main{height:100%%;display:flex;flex-direction:column;align-items:center;justify-content:center;text-align:center}
h1{font-size:12vmin;margin:0}p{font-size:6vmin;margin:2vmin}small{font-size:2.5vmin;opacity:.6}
</style></head>
<body><main><h1>正在启动…</h1><p>Starting…</p><p>请稍候 · Please wait</p><small>onepass %s</small></main></body></html>
`
