package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"onepass/device"
	"onepass/ui/api"
)

// The daemon's parts of the local API that are not the lane's or the queue's: sync with the
// platform and, in --sim, the simulators. Their bodies are ui/api's types; the daemon supplies
// small implementations of the interfaces below, so every route is registered here.

// Sync is the daemon's sync with the platform (GET /api/sync, POST /api/sync/now and /enroll).
type Sync interface {
	Status(ctx context.Context) api.SyncStatus
	// SyncNow pulls and pushes at once; ErrNotEnrolled (409) before enrollment.
	SyncNow(ctx context.Context) error
	// Enroll enrolls the kiosk with a hub, replacing an earlier enrollment, and starts syncing.
	Enroll(ctx context.Context, r api.EnrollRequest) error
}

// ErrNotEnrolled is Sync.SyncNow's answer before the kiosk is enrolled.
var ErrNotEnrolled = WithStatus(http.StatusConflict, errors.New("not enrolled: onepassctl enroll --hub URL --token T"))

// SimOptions are the simulators' controls in `onepassd --sim`; a nil field leaves its routes out
// (they answer 404, which onepassctl reports as "not running with --sim").
type SimOptions struct {
	Rig      SimRig      // /api/sim, /api/sim/{card,remove,temp,leave,code,code/image,fault}
	Printer  SimPrinter  // /api/sim/printer, /api/sim/printer/last.png
	Platform SimPlatform // POST /api/sim/status (the embedded hub)
	Booking  SimBooking  // POST /api/sim/appointment
}

// SimRig drives the simulated lane's parts (the daemon adapts drivers/sim.Rig).
type SimRig interface {
	PlaceCard(r api.CardRequest) // r.ID is set; the number is deliberately not checked
	RemoveCard()
	Person(celsius float64)
	Leave()
	ShowCode(text string)
	// ShowImage shows a picture to the camera: 409 (WithStatus) when the camera takes none, 400 otherwise.
	ShowImage(picture []byte) error
	Fault(part string, h device.Health) error // an error is a bad request
	State() api.SimState
}

// SimPrinter is the ticket printer simulator.
type SimPrinter interface {
	PrinterState() api.PrinterState
	ControlPrinter(c api.PrinterControl) error // an error is a bad request
	// LastTicketPNG renders the last ticket: 404 (WithStatus) when nothing was printed, 500 otherwise.
	LastTicketPNG() ([]byte, error)
}

// SimPlatform is the embedded hub playing the platform's operators.
type SimPlatform interface {
	// SetStatus sets a person's status at the hub and returns once the kiosk pulled it; an error
	// is a bad request unless it carries its status (WithStatus).
	SetStatus(ctx context.Context, r api.SimStatusRequest) error
}

// SimBooking is the simulated booking system.
type SimBooking interface {
	Appointment(ctx context.Context, r api.AppointmentRequest) (api.Appointment, error) // an error is a bad request
}

// StatusError is an implementation's failure with the HTTP status the route answers it with.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// WithStatus gives err the HTTP status its route answers with.
func WithStatus(code int, err error) error { return &StatusError{Code: code, Err: err} }

// failWith answers err as plain text, with its own status or else def.
func failWith(w http.ResponseWriter, err error, def int) {
	var se *StatusError
	if errors.As(err, &se) {
		def = se.Code
	}
	http.Error(w, err.Error(), def)
}

// decodeStrict reads a JSON body with no unknown fields; a bad one is answered 400 with prefix.
func decodeStrict(w http.ResponseWriter, body io.Reader, v any, prefix string) bool {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, prefix+"bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

// simCommand is a simulator route that changes something and answers 204: a strict JSON body of
// at most limit bytes (a bad one is 400 with prefix), then do (its error is 400 unless it carries
// a StatusError).
func simCommand[Req any](limit int64, prefix string, do func(ctx context.Context, req Req) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !decodeStrict(w, io.LimitReader(r.Body, limit), &req, prefix) {
			return
		}
		if err := do(r.Context(), req); err != nil {
			failWith(w, err, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// encodeJSON is the simulators' JSON answer (no caching headers: they are test fixtures).
func encodeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// routeSync mounts GET /api/sync, POST /api/sync/now and POST /api/sync/enroll.
func (s *Server) routeSync() {
	sy := s.o.Sync
	if sy == nil {
		return
	}
	s.mux.HandleFunc("GET /api/sync", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, sy.Status(r.Context()))
	})
	s.mux.HandleFunc("POST /api/sync/now", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		if err := sy.SyncNow(ctx); err != nil {
			failWith(w, err, http.StatusBadGateway)
			return
		}
		writeJSON(w, http.StatusOK, sy.Status(r.Context()))
	})
	s.mux.HandleFunc("POST /api/sync/enroll", func(w http.ResponseWriter, r *http.Request) {
		var req api.EnrollRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || req.Hub == "" || req.Token == "" {
			http.Error(w, "want {\"hub\": \"https://…\", \"token\": \"…\"}", http.StatusBadRequest)
			return
		}
		if err := sy.Enroll(r.Context(), req); err != nil {
			failWith(w, err, http.StatusBadGateway)
			return
		}
		writeJSON(w, http.StatusOK, sy.Status(r.Context()))
	})
}

// routeSim mounts the simulators' routes that the daemon supplies.
func (s *Server) routeSim() {
	if rig := s.o.Sim.Rig; rig != nil {
		s.routeRig(rig)
	}
	if p := s.o.Sim.Printer; p != nil {
		s.mux.HandleFunc("GET /api/sim/printer", func(w http.ResponseWriter, r *http.Request) { encodeJSON(w, p.PrinterState()) })
		s.mux.HandleFunc("POST /api/sim/printer", simCommand(4096, "printer: ", func(_ context.Context, c api.PrinterControl) error {
			return p.ControlPrinter(c)
		}))
		s.mux.HandleFunc("GET /api/sim/printer/last.png", func(w http.ResponseWriter, r *http.Request) {
			png, err := p.LastTicketPNG()
			if err != nil {
				failWith(w, err, http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "image/png")
			w.Header().Set("Cache-Control", "no-store")
			w.Write(png)
		})
	}
	if p := s.o.Sim.Platform; p != nil {
		s.mux.HandleFunc("POST /api/sim/status", simCommand(1<<16, "", p.SetStatus))
	}
	if b := s.o.Sim.Booking; b != nil {
		s.mux.HandleFunc("POST /api/sim/appointment", func(w http.ResponseWriter, r *http.Request) {
			var req api.AppointmentRequest
			if !decodeStrict(w, http.MaxBytesReader(w, r.Body, 4096), &req, "appointment: ") {
				return
			}
			a, err := b.Appointment(r.Context(), req)
			if err != nil {
				failWith(w, err, http.StatusBadRequest)
				return
			}
			encodeJSON(w, a)
		})
	}
}

// routeRig mounts the simulated lane's commands and state.
func (s *Server) routeRig(rig SimRig) {
	const limit = 1 << 16
	s.mux.HandleFunc("GET /api/sim", func(w http.ResponseWriter, r *http.Request) { encodeJSON(w, rig.State()) })
	s.mux.HandleFunc("POST /api/sim/card", simCommand(limit, "", func(_ context.Context, req api.CardRequest) error {
		if req.ID == "" {
			return errors.New("card: id is required")
		}
		rig.PlaceCard(req)
		return nil
	}))
	s.mux.HandleFunc("POST /api/sim/remove", func(w http.ResponseWriter, r *http.Request) {
		rig.RemoveCard()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /api/sim/temp", simCommand(limit, "", func(_ context.Context, req api.TempRequest) error {
		if req.C < -20 || req.C > 100 {
			return fmt.Errorf("temp: %.1f °C is not a temperature an IR sensor reports", req.C)
		}
		rig.Person(req.C)
		return nil
	}))
	s.mux.HandleFunc("POST /api/sim/leave", func(w http.ResponseWriter, r *http.Request) {
		rig.Leave()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /api/sim/code", simCommand(limit, "", func(_ context.Context, req api.CodeRequest) error {
		if req.Text == "" {
			return errors.New("code: text is required")
		}
		rig.ShowCode(req.Text)
		return nil
	}))
	s.mux.HandleFunc("POST /api/sim/code/image", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20+1))
		if err != nil {
			http.Error(w, "read picture: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(b) > 16<<20 {
			http.Error(w, "picture over 16 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		if err := rig.ShowImage(b); err != nil {
			failWith(w, err, http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /api/sim/fault", simCommand(limit, "", func(_ context.Context, req api.FaultRequest) error {
		return rig.Fault(req.Part, device.Health{State: req.State, Reason: req.Reason})
	}))
}
