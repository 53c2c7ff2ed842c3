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

// events streams the lane's views as Server-Sent Events. Every (re)connect starts with the full
// current view, so the page never has to rebuild history and Last-Event-ID can be ignored.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	// Subscribe before reading the current view so that no view falls between the two.
	views := s.k.Subscribe(ctx)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	log := s.log.With("remote", r.RemoteAddr)
	log.Debug("event stream open")
	defer log.Debug("event stream closed")

	// send writes one frame and flushes it. The write deadline stops a peer that no longer reads
	// from holding this goroutine forever; the lane itself is never blocked (see Kiosk.Subscribe).
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

	cur := s.k.View()
	if err := send(func(w io.Writer) error {
		if _, err := io.WriteString(w, "retry: 1000\n\n"); err != nil {
			return err
		}
		return writeView(w, cur)
	}); err != nil {
		log.Debug("event stream", "err", err)
		return
	}
	sent := cur.Version
	tick := time.NewTicker(s.o.Heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case v, ok := <-views:
			if !ok {
				return
			}
			if v.Version <= sent { // already sent as the first, full view
				continue
			}
			sent = v.Version
			err = send(func(w io.Writer) error { return writeView(w, v) })
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

// writeView writes one "state" event. JSON has no raw newlines, so the data fits one data: line.
func writeView(w io.Writer, v kiosk.View) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode view: %w", err)
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: state\ndata: %s\n\n", v.Version, b)
	return err
}
