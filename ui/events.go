package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"onepass/kiosk"
)

// events streams the lane's views as Server-Sent Events ("state").
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	// Subscribe before reading the current view so that no view falls between the two.
	views := s.k.Subscribe(r.Context())
	stream(s, w, r, "state", views, s.k.View(), func(v kiosk.View) uint64 { return v.Version })
}

// stream serves one Server-Sent Events stream. Every (re)connect starts with the full current value,
// so a page never has to rebuild history and Last-Event-ID can be ignored; then each newer value
// follows with `id: <version>`, and a `: ping` comment every Heartbeat.
func stream[T any](s *Server, w http.ResponseWriter, r *http.Request, event string, updates <-chan T, cur T, version func(T) uint64) {
	if s.streams.Add(1) > maxStreams {
		s.streams.Add(-1)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "ui: too many open event streams", http.StatusServiceUnavailable)
		return
	}
	defer s.streams.Add(-1)
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
