package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAddr is onepassd's local API over HTTP, when no socket is found and neither --addr nor
// $ONEPASS_ADDR says otherwise.
const DefaultAddr = "http://127.0.0.1:8080"

// DefaultSocket is onepassd's Unix socket (group onepass, mode 0660) when --socket does not move it.
const DefaultSocket = "/run/onepass/onepassd.sock"

// SocketName is the socket's file name in the data directory, where onepassd --sim puts it.
const SocketName = "onepassd.sock"

// Timeouts of the calls: most answer at once; enrollment and a sync round talk to the hub.
const (
	DefaultTimeout = 10 * time.Second
	EnrollTimeout  = 2 * time.Minute
	SyncNowTimeout = 3 * time.Minute
)

// ErrNotFound is a route the daemon does not have (an older version).
var ErrNotFound = errors.New("onepassd does not know this request (older version?)")

// ErrNotSim is a simulator route on a daemon not running with --sim.
var ErrNotSim = errors.New("onepassd is not running with --sim")

// HTTPError is any other answer that is not a success.
type HTTPError struct {
	StatusCode int
	Status     string // "409 Conflict"
	Body       string // the answer's text, trimmed
}

func (e *HTTPError) Error() string { return fmt.Sprintf("onepassd: %s: %s", e.Status, e.Body) }

// Client calls onepassd's local API. Its methods are safe for concurrent use.
type Client struct {
	base   string // scheme://host[:port], no trailing slash
	socket string // the Unix socket's path; "" over TCP
	hc     *http.Client
}

// New returns a client of the daemon at addr: "http://HOST:PORT" (the --addr flag), or
// "unix:/PATH" for a daemon listening on a Unix socket.
func New(addr string) (*Client, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, errors.New("api: unix: needs a socket path, e.g. unix:" + DefaultSocket)
		}
		var d net.Dialer
		tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}}
		// The Host is localhost: the API refuses DNS names (see ui's localOnly).
		return &Client{base: "http://localhost", socket: path, hc: &http.Client{Transport: tr}}, nil
	}
	u, err := url.Parse(strings.TrimRight(addr, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad --addr %q: want http://HOST:PORT or unix:/PATH", addr)
	}
	return &Client{base: u.String(), hc: &http.Client{}}, nil
}

// Addr returns the address the client calls, for messages: the URL, or unix:PATH.
func (c *Client) Addr() string {
	if c.socket != "" {
		return "unix:" + c.socket
	}
	return c.base
}

// call sends body (JSON unless it is []byte) and decodes a JSON answer into out (nil: none).
func (c *Client) call(ctx context.Context, timeout time.Duration, method, path string, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	default:
		j, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("api: encode %s: %w", path, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("bad --addr: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return answerError(resp, path)
	}
	if out == nil {
		return nil
	}
	if p, ok := out.(*[]byte); ok {
		*p, err = io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("onepassd answered %s: %w", path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("onepassd answered %s with something else than JSON: %w", path, err)
	}
	return nil
}

// unreachable says which socket or URL was tried, and what usually fixes it.
func (c *Client) unreachable(err error) error {
	if c.socket == "" {
		return fmt.Errorf("cannot reach onepassd at %s (is it running? see --addr): %w", c.base, err)
	}
	hint := "is it running? see --socket, or --addr URL for HTTP"
	if errors.Is(err, fs.ErrPermission) {
		hint = "permission denied: add this user to group onepass (then log in again), or run as root"
	}
	return fmt.Errorf("cannot reach onepassd on socket %s (%s): %w", c.socket, hint, err)
}

// answerError turns a refusal into the error a technician reads: a queue refusal with its texts,
// "not running with --sim", an unknown route, or the status and body.
func answerError(resp *http.Response, path string) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var qe QueueError
	if json.Unmarshal(msg, &qe) == nil && qe.Code != "" && qe.Zh != "" {
		return &qe
	}
	// A route the daemon lacks gets the mux's plain 404; a route's own 404 says more.
	if resp.StatusCode == http.StatusNotFound && strings.TrimSpace(string(msg)) == "404 page not found" {
		if strings.HasPrefix(path, "/api/sim/") || path == "/api/sim" {
			return ErrNotSim
		}
		return fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	return &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Body: strings.TrimSpace(string(msg))}
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.call(ctx, DefaultTimeout, http.MethodGet, path, nil, out)
}

func (c *Client) post(ctx context.Context, path string, body, out any) error {
	return c.call(ctx, DefaultTimeout, http.MethodPost, path, body, out)
}

// Status is GET /api/status: version, uptime, the lane, every part's health, outbox and sync.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.get(ctx, "/api/status", &st)
}

// State is GET /api/state: what the kiosk screen shows.
func (c *Client) State(ctx context.Context) (View, error) {
	var v View
	return v, c.get(ctx, "/api/state", &v)
}

// Queue is GET /api/queue: the queue board.
func (c *Client) Queue(ctx context.Context) (Board, error) {
	var b Board
	return b, c.get(ctx, "/api/queue", &b)
}

// IssueTicket is POST /api/tickets: issue (and print) a ticket, as the staff console does.
func (c *Client) IssueTicket(ctx context.Context, r IssueRequest) (Issued, error) {
	var is Issued
	return is, c.post(ctx, "/api/tickets", r, &is)
}

// KioskTicket is POST /api/tickets/kiosk: the citizen's ticket after a PASS.
func (c *Client) KioskTicket(ctx context.Context, r KioskRequest) (Issued, error) {
	var is Issued
	return is, c.post(ctx, "/api/tickets/kiosk", r, &is)
}

// CheckIn is POST /api/tickets/checkin: a booked appointment becomes a ticket.
func (c *Client) CheckIn(ctx context.Context, r CheckInRequest) (Issued, error) {
	var is Issued
	return is, c.post(ctx, "/api/tickets/checkin", r, &is)
}

// CounterOps are the operations of POST /api/tickets/{op}.
var CounterOps = []string{"call", "recall", "served", "no-show", "transfer"}

// Counter is POST /api/tickets/{op} for op in CounterOps: call the next ticket to a counter,
// call it again, close it, or send it to another service (r.Service).
func (c *Client) Counter(ctx context.Context, op string, r CounterRequest) (Ticket, error) {
	ok := false
	for _, o := range CounterOps {
		ok = ok || o == op
	}
	if !ok {
		return Ticket{}, fmt.Errorf("api: unknown counter operation %q", op)
	}
	var t Ticket
	return t, c.post(ctx, "/api/tickets/"+op, r, &t)
}

// Sync is GET /api/sync: the sync client's last pull and push, replica, outbox and clock skew.
func (c *Client) Sync(ctx context.Context) (SyncStatus, error) {
	var s SyncStatus
	return s, c.get(ctx, "/api/sync", &s)
}

// SyncNow is POST /api/sync/now: pull and push at once, then the status.
func (c *Client) SyncNow(ctx context.Context) (SyncStatus, error) {
	var s SyncStatus
	return s, c.call(ctx, SyncNowTimeout, http.MethodPost, "/api/sync/now", struct{}{}, &s)
}

// Enroll is POST /api/sync/enroll: enroll the kiosk with a hub using a one-time token.
func (c *Client) Enroll(ctx context.Context, r EnrollRequest) (SyncStatus, error) {
	var s SyncStatus
	return s, c.call(ctx, EnrollTimeout, http.MethodPost, "/api/sync/enroll", r, &s)
}

// SimCard is POST /api/sim/card: place a card on the simulated reader.
func (c *Client) SimCard(ctx context.Context, r CardRequest) error {
	return c.post(ctx, "/api/sim/card", r, nil)
}

// SimRemove is POST /api/sim/remove: take the card off the reader.
func (c *Client) SimRemove(ctx context.Context) error {
	return c.post(ctx, "/api/sim/remove", struct{}{}, nil)
}

// SimTemp is POST /api/sim/temp: a person with body temperature °C steps in front.
func (c *Client) SimTemp(ctx context.Context, celsius float64) error {
	return c.post(ctx, "/api/sim/temp", TempRequest{C: celsius}, nil)
}

// SimLeave is POST /api/sim/leave: the person steps away.
func (c *Client) SimLeave(ctx context.Context) error {
	return c.post(ctx, "/api/sim/leave", struct{}{}, nil)
}

// SimCode is POST /api/sim/code: show a QR code with this text to the simulated camera.
func (c *Client) SimCode(ctx context.Context, text string) error {
	return c.post(ctx, "/api/sim/code", CodeRequest{Text: text}, nil)
}

// SimCodeImage is POST /api/sim/code/image: show a picture (PNG, JPEG, WebP…) to the camera.
func (c *Client) SimCodeImage(ctx context.Context, picture []byte) error {
	return c.post(ctx, "/api/sim/code/image", picture, nil)
}

// SimFault is POST /api/sim/fault: set a simulated part's health.
func (c *Client) SimFault(ctx context.Context, r FaultRequest) error {
	return c.post(ctx, "/api/sim/fault", r, nil)
}

// SimState is GET /api/sim: the simulated signal outputs and tickets printed.
func (c *Client) SimState(ctx context.Context) (SimState, error) {
	var s SimState
	return s, c.get(ctx, "/api/sim", &s)
}

// SimSetStatus is POST /api/sim/status: the embedded hub sets a person's status and the kiosk
// has pulled it when this returns.
func (c *Client) SimSetStatus(ctx context.Context, r SimStatusRequest) error {
	return c.post(ctx, "/api/sim/status", r, nil)
}

// SimAppointment is POST /api/sim/appointment: the simulated booking system signs a code.
func (c *Client) SimAppointment(ctx context.Context, r AppointmentRequest) (Appointment, error) {
	var a Appointment
	return a, c.post(ctx, "/api/sim/appointment", r, &a)
}

// SimPrinter is GET /api/sim/printer: the printer simulator's state and last ticket.
func (c *Client) SimPrinter(ctx context.Context) (PrinterState, error) {
	var s PrinterState
	return s, c.get(ctx, "/api/sim/printer", &s)
}

// SimPrinterControl is POST /api/sim/printer: change the paper, the cover or the status answers.
func (c *Client) SimPrinterControl(ctx context.Context, r PrinterControl) error {
	return c.post(ctx, "/api/sim/printer", r, nil)
}

// SimPrinterLastPNG is GET /api/sim/printer/last.png: the last ticket as the printer printed it.
func (c *Client) SimPrinterLastPNG(ctx context.Context) ([]byte, error) {
	var b []byte
	return b, c.get(ctx, "/api/sim/printer/last.png", &b)
}
