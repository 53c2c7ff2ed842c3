package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"onepass/kiosk"
)

// events streams the lane's views as Server-Sent Events ("state").
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	// Subscribe before reading the current view so that no view falls between the two.
	views := s.k.Subscribe(r.Context())
	stream(s, s.kioskStreams, w, r, "state", views, s.k.View(), func(v kiosk.View) uint64 { return v.Version })
}

// Event streams are counted in budgets, one per kind of screen and listener, so that hall screens
// and staff tabs (on the LAN, or many on this machine) can never take the kiosk screen's own
// stream: the kiosk's /events has a budget of its own, and so has each listener's /hall/events.
const (
	// maxStreams bounds the open streams of one budget: the kiosk page, a few hall screens and
	// staff tabs need a handful; a client opening thousands must not slow every publish.
	maxStreams = 64
	// maxStreamsPerClient bounds one client address's share of a hall budget: a browser holds
	// one stream per open tab, so a few tabs fit and one host cannot fill the budget alone.
	maxStreamsPerClient = 8
)

// streamBudget counts open streams, in total and per client address.
type streamBudget struct {
	max, perClient int // perClient 0: no per-client cap

	mu    sync.Mutex
	total int
	by    map[string]int
}

func newStreamBudget(max, perClient int) *streamBudget {
	return &streamBudget{max: max, perClient: perClient, by: map[string]int{}}
}

// take reserves a stream for client; it answers 0 and a release func, or the HTTP status of the refusal.
func (b *streamBudget) take(client string) (int, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perClient > 0 && b.by[client] >= b.perClient {
		return http.StatusTooManyRequests, nil
	}
	if b.total >= b.max {
		return http.StatusServiceUnavailable, nil
	}
	b.total++
	b.by[client]++
	return 0, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.total--
		if b.by[client]--; b.by[client] <= 0 {
			delete(b.by, client)
		}
	}
}

// stream serves one Server-Sent Events stream. Every (re)connect starts with the full current value,
// so a page never has to rebuild history and Last-Event-ID can be ignored; then each newer value
// follows with `id: <version>`, and a `: ping` comment every Heartbeat.
func stream[T any](s *Server, budget *streamBudget, w http.ResponseWriter, r *http.Request, event string, updates <-chan T, cur T, version func(T) uint64) {
	code, release := budget.take(clientIP(r))
	if code != 0 {
		w.Header().Set("Retry-After", "5")
		msg := "ui: too many open event streams"
		if code == http.StatusTooManyRequests {
			msg = "ui: too many open event streams from this address"
		}
		http.Error(w, msg, code)
		return
	}
	defer release()
	ctx := r.Context()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	log := s.log.With("remote", r.RemoteAddr, "event", event)
	log.Debug("event stream open")
	defer log.Debug("event stream closed")

	// send writes one frame and flushes it. The write deadline stops a peer that no longer reads
	// from holding this goroutine forever; the publisher itself is never blocked (see Kiosk.Subscribe).
	send := func(frame func(io.Writer) error) error {
		if err := rc.SetWriteDeadline(time.Now().Add(s.o.Heartbeat + 10*time.Second)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return fmt.Errorf("ui: events: deadline: %w", err)
		}
		if err := frame(w); err != nil {
			return fmt.Errorf("ui: events: write: %w", err)
		}
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("ui: events: flush: %w", err)
		}
		return nil
	}
	write := func(w io.Writer, v T) error { return writeEvent(w, event, version(v), v) }

	if err := send(func(w io.Writer) error {
		if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
			return err
		}
		return write(w, cur)
	}); err != nil {
		log.Debug("event stream", "err", err)
		return
	}
	sent := version(cur)
	tick := time.NewTicker(s.o.Heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case v, ok := <-updates:
			if !ok {
				return
			}
			if version(v) <= sent { // already sent as the first, full value
				continue
			}
			sent = version(v)
			err = send(func(w io.Writer) error { return write(w, v) })
		case <-tick.C:
			err = send(func(w io.Writer) error {
				_, err := io.WriteString(w, ": ping\n\n")
				return err
			})
		}
		if err != nil {
			log.Debug("event stream", "err", err)
			return
		}
	}
}

// writeEvent writes one event. JSON has no raw newlines, so the data fits one data: line.
func writeEvent(w io.Writer, event string, id uint64, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", event, err)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", id, event, b)
	return err
}
