package ui

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"onepass/kiosk"
	"onepass/kiosk/queue"
	"onepass/ui/api"
)

// Queue is what the UI needs from kiosk/queue (*queue.Queue implements it).
type Queue interface {
	Board() queue.Board
	Subscribe(ctx context.Context) <-chan queue.Board
	Issue(ctx context.Context, r queue.IssueRequest) (queue.Issued, error)
	IssueAfterPass(ctx context.Context, visitID, service string) (queue.Issued, error)
	CheckIn(ctx context.Context, code, visitID string) (queue.Issued, error)
	CallNext(ctx context.Context, counter string) (queue.Ticket, error)
	Recall(ctx context.Context, counter string) (queue.Ticket, error)
	Served(ctx context.Context, counter string) (queue.Ticket, error)
	NoShow(ctx context.Context, counter string) (queue.Ticket, error)
	Transfer(ctx context.Context, counter, service string) (queue.Ticket, error)
}

// ManualChecker decides for a person identified by manual ID entry (kiosk.Lane implements it).
type ManualChecker interface {
	CheckManual(ctx context.Context, in kiosk.ManualInput) (kiosk.ManualResult, error)
}

// Visits lists recent visits for the staff console (the daemon adapts its store).
type Visits interface {
	Recent(ctx context.Context, n int) ([]Visit, error)
}

// Visit is a logged visit as the staff console lists it: masked name, no keys, no ID number.
type Visit struct {
	ID         string // UUID: what a staff decision names
	At         time.Time
	Method     string // card, code, card+code, temp, manual, staff
	MaskedName string
	Outcome    string // PASS, DENY, MANUAL, RETRY
	Reason     string
	StaffID    string // method staff: who decided
	Overrides  string // method staff: the visit decided
}

// Overrider records a staff member's decision on a MANUAL visit (kiosk.Lane implements it).
type Overrider interface {
	Override(ctx context.Context, in kiosk.OverrideInput) (kiosk.OverrideResult, error)
}

// routeQueue mounts the queue's pages and APIs when a queue is configured:
//
//	GET  /hall, /hall/state, /hall/events    the hall calling screen (also on the LAN listener)
//	GET  /staff, /staff/api/…                the staff console (also on the LAN listener)
//	GET  /api/queue                          the board (local API, onepassctl)
//	POST /api/tickets[/call|recall|served|no-show|transfer|checkin|kiosk]
func (s *Server) routeQueue() {
	if s.o.Queue == nil {
		return
	}
	s.lan = http.NewServeMux()
	both := func(pattern string, h http.HandlerFunc) {
		s.mux.HandleFunc(pattern, h)
		s.lan.HandleFunc(pattern, h)
	}
	both("GET /hall", s.page("assets/hall.html"))
	both("GET /hall/state", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.o.Queue.Board()) })
	// The same stream, counted in each listener's own budget (events.go).
	s.mux.HandleFunc("GET /hall/events", s.boardEvents(s.hallStreams))
	s.lan.HandleFunc("GET /hall/events", s.boardEvents(s.lanStreams))
	s.lan.Handle("GET /static/", staticFiles())
	s.lan.HandleFunc("GET /audio/{file}", s.audio)
	s.lan.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/staff", http.StatusFound) })
	s.staff = newStaffAuth(s.o.Staff, s.log)
	s.routeStaff(both)

	s.mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, s.o.Queue.Board()) })
	s.mux.HandleFunc("POST /api/tickets", queueCall(s, s.localIssue))
	s.mux.HandleFunc("POST /api/tickets/kiosk", queueCall(s, s.kioskIssue))
	s.mux.HandleFunc("POST /api/tickets/checkin", queueCall(s, s.localCheckIn))
	for _, op := range []string{"call", "recall", "served", "no-show", "transfer"} {
		s.mux.HandleFunc("POST /api/tickets/"+op, s.localCounterOp(op))
	}
}

// LANHandler is what the staff listener serves on the LAN: the staff console, the hall screen
// and their assets, never the kiosk's local API. Nil without a queue. Like the local API it
// answers only to a Host that is an IP literal, localhost or one of Options.LANHosts: a
// DNS-rebinding page (evil.example resolving to this kiosk) could otherwise try PINs and, once
// in, drive the console with the session's own CSRF token.
func (s *Server) LANHandler() http.Handler {
	return s.lanHandler(nil)
}

func (s *Server) lanHandler(certNames []string) http.Handler {
	if s.lan == nil {
		return nil
	}
	names := append(append([]string(nil), s.o.LANHosts...), certNames...)
	return hostGuard(s.lan, names, "ui: the staff console answers only to an IP address or a configured host name ([staff] hosts)")
}

// ServeLAN serves LANHandler on l, a plain TCP listener, until ctx is done.
func (s *Server) ServeLAN(ctx context.Context, l net.Listener) error {
	return s.ServeLANTLS(ctx, l, nil)
}

// ServeLANTLS is ServeLAN over TLS with cfg (nil: plain HTTP). The TLS layer goes on here, above
// the per-client connection limit, which must count TCP connections before any handshake work;
// the DNS names of cfg's certificate are accepted as Host names too.
func (s *Server) ServeLANTLS(ctx context.Context, l net.Listener, cfg *tls.Config) error {
	if s.lan == nil {
		return errors.New("ui: no queue: nothing to serve on the LAN")
	}
	var names []string
	if cfg != nil {
		for _, c := range cfg.Certificates {
			if c.Leaf != nil {
				names = append(names, c.Leaf.DNSNames...)
			}
		}
	}
	return serveHTTP(ctx, l, s.lanHandler(names), s.log.With("listener", "lan"), s.o.Limits, cfg)
}

// page serves one embedded HTML page under the strict content security policy.
func (s *Server) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Frame-Options", "DENY")
		http.ServeFileFS(w, r, assets, name)
	}
}

// boardEvents streams the queue board as Server-Sent Events ("board"), the full board first.
func (s *Server) boardEvents(budget *streamBudget) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		boards := s.o.Queue.Subscribe(r.Context())
		stream(s, budget, w, r, "board", boards, s.o.Queue.Board(), func(b queue.Board) uint64 { return b.Version })
	}
}

// decodeBody reads a small JSON request body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<14))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, queue.Error{Code: "bad_request", Zh: "请求格式错误", En: "bad request body: " + err.Error()})
		return false
	}
	return true
}

// writeQueueErr answers a refusal (409 with its texts) or a failure (500).
func (s *Server) writeQueueErr(w http.ResponseWriter, err error) {
	var qe *queue.Error
	if errors.As(err, &qe) {
		writeJSON(w, http.StatusConflict, qe)
		return
	}
	s.log.Error("queue request failed", "err", err)
	writeJSON(w, http.StatusInternalServerError, queue.Error{Code: "internal", Zh: "系统故障，请联系工作人员", En: err.Error()})
}

// queueCall is a queue route: a small strict JSON request, one queue call, and its answer as
// JSON or its refusal (409) or failure (500) as a queue error.
func queueCall[Req, Resp any](s *Server, call func(ctx context.Context, req Req) (Resp, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req Req
		if !decodeBody(w, r, &req) {
			return
		}
		out, err := call(r.Context(), req)
		if err != nil {
			s.writeQueueErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// IssueRequest is the body of POST /api/tickets (and the staff console's issue). It lives in ui/api.
type IssueRequest = api.IssueRequest

func (s *Server) localIssue(ctx context.Context, req IssueRequest) (queue.Issued, error) {
	return s.o.Queue.Issue(ctx, queue.IssueRequest{Service: req.Service, Priority: queue.Priority(req.Priority), Source: queue.FromStaff, Print: true, WaitPrint: true})
}

// KioskRequest is the body of POST /api/tickets/kiosk: the citizen's choice after a PASS. It lives in ui/api.
type KioskRequest = api.KioskRequest

func (s *Server) kioskIssue(ctx context.Context, req KioskRequest) (queue.Issued, error) {
	return s.o.Queue.IssueAfterPass(ctx, req.PassID, req.Service)
}

// CheckInRequest is the body of POST /api/tickets/checkin. It lives in ui/api.
type CheckInRequest = api.CheckInRequest

func (s *Server) localCheckIn(ctx context.Context, req CheckInRequest) (queue.Issued, error) {
	return s.o.Queue.CheckIn(ctx, req.Code, req.PassID)
}

// CounterRequest is the body of the counter operations. It lives in ui/api.
type CounterRequest = api.CounterRequest

func (s *Server) localCounterOp(op string) http.HandlerFunc {
	return queueCall(s, func(ctx context.Context, req CounterRequest) (queue.Ticket, error) {
		return s.counterOp(ctx, op, req.Counter, req.Service)
	})
}

func (s *Server) counterOp(ctx context.Context, op, counter, service string) (queue.Ticket, error) {
	q := s.o.Queue
	switch op {
	case "call":
		return q.CallNext(ctx, counter)
	case "recall":
		return q.Recall(ctx, counter)
	case "served":
		return q.Served(ctx, counter)
	case "no-show":
		return q.NoShow(ctx, counter)
	case "transfer":
		return q.Transfer(ctx, counter, service)
	}
	return queue.Ticket{}, fmt.Errorf("ui: unknown counter operation %q", op)
}
