// Package api is onepassd's local API in one place: the request and response bodies of every
// route the ui package serves to onepassctl and scripts, and Client, a typed client of them (the
// model is tailscale's apitype + LocalClient).
//
// It imports only the standard library, device (for the Health of a part) and the light reader
// simulator (whose CardRequest is the body of /api/sim/card), so that the CLI built on it links
// none of the daemon's heavy dependencies (OpenCV, SQLite, periph). The daemon answers with its
// own types (kiosk.View, queue.Board, …), made in packages that link those dependencies; these
// mirror their JSON field for field, and ui's tests fail when a mirror drifts from the type it
// stands for.
package api

import (
	"time"

	"onepass/device"
	"onepass/drivers/idcard/idcardsim"
)

// Status is the body of GET /api/status.
type Status struct {
	Version     string                   `json:"version"`
	Started     time.Time                `json:"started"`
	UptimeS     float64                  `json:"uptime_s"`
	Health      string                   `json:"health"` // ok, degraded, down (as /healthz)
	Lane        string                   `json:"lane"`
	State       string                   `json:"state"`
	Parts       map[string]device.Health `json:"parts"`
	OutboxDepth *int                     `json:"outbox_depth"`  // records waiting for upload; null when the database is down
	ReplicaAgeS *float64                 `json:"replica_age_s"` // seconds since the last verified status head; null when never synced
	LastSync    *time.Time               `json:"last_sync"`     // last successful exchange with the hub; null when never
	Problems    []string                 `json:"problems,omitempty"`
}

// Health is the body of GET /healthz.
type Health struct {
	Status string                   `json:"status"` // ok, degraded, down
	Parts  map[string]device.Health `json:"parts"`
}

// View is the body of GET /api/state and of the "view" events: what the kiosk screen shows
// (kiosk.View).
type View struct {
	Version    uint64                   `json:"version"`
	Lane       string                   `json:"lane"`
	State      string                   `json:"state"` // idle, identified, card_wait, measuring, decided, showing
	PassID     string                   `json:"pass_id,omitempty"`
	Method     string                   `json:"method,omitempty"`
	Outcome    string                   `json:"outcome"`
	Reason     string                   `json:"reason"`
	Prompt     string                   `json:"prompt,omitempty"` // idle: "card" or "code" when only one way in works
	MaskedName string                   `json:"masked_name"`
	MaskedID   string                   `json:"masked_id"`
	TempC      *float64                 `json:"temp_c"`
	TitleZh    string                   `json:"title_zh"`
	TitleEn    string                   `json:"title_en"`
	TextZh     string                   `json:"text_zh"`
	TextEn     string                   `json:"text_en"`
	Sound      string                   `json:"sound,omitempty"`
	At         time.Time                `json:"at"`
	Health     map[string]device.Health `json:"health"`
	Unused     []string                 `json:"unused,omitempty"`
}

// Priority is a ticket's priority class: "" (normal), elderly, disabled, pregnant.
type Priority string

// IssueRequest is the body of POST /api/tickets (and the staff console's issue).
type IssueRequest struct {
	Service  string   `json:"service"`
	Priority Priority `json:"priority,omitempty"`
}

// KioskRequest is the body of POST /api/tickets/kiosk: the citizen's choice after a PASS.
type KioskRequest struct {
	PassID  string `json:"pass_id"`
	Service string `json:"service"`
}

// CheckInRequest is the body of POST /api/tickets/checkin.
type CheckInRequest struct {
	Code   string `json:"code"`
	PassID string `json:"pass_id,omitempty"`
}

// CounterRequest is the body of POST /api/tickets/{call,recall,served,no-show,transfer}.
type CounterRequest struct {
	Counter string `json:"counter"`
	Service string `json:"service,omitempty"` // transfer: where to
}

// Ticket is a queue ticket (queue.Ticket), the answer of the counter operations.
type Ticket struct {
	ID          string    `json:"id"`
	Day         string    `json:"day"`
	Number      string    `json:"number"`
	Service     string    `json:"service"`
	ServiceName string    `json:"service_name"`
	Priority    Priority  `json:"priority,omitempty"`
	Source      string    `json:"source"` // kiosk, staff, appointment
	State       string    `json:"state"`  // waiting, called, served, no_show…
	IssuedAt    time.Time `json:"issued_at"`
	CalledAt    time.Time `json:"called_at,omitzero"`
	Counter     string    `json:"counter,omitempty"`
	Recalls     int       `json:"recalls,omitempty"`
	Slot        time.Time `json:"slot,omitzero"` // appointment: the booked slot's start
}

// Issued is the answer of POST /api/tickets, /api/tickets/kiosk and /api/tickets/checkin.
type Issued struct {
	Ticket   Ticket `json:"ticket"`
	Ahead    int    `json:"ahead"`
	Existing bool   `json:"existing,omitempty"`
	Printing bool   `json:"printing"`
	// Staff and onepassctl issues wait for the printer: printed, or why not (empty without a
	// printer). The kiosk's issue does not wait; its screen follows the board.
	Printed        bool   `json:"printed"`
	PrintProblem   string `json:"print_problem,omitempty"`
	PrintProblemZh string `json:"print_problem_zh,omitempty"`
}

// QueueError is the body of a queue refusal (409) or failure (500) on /api/tickets….
type QueueError struct {
	Code string `json:"error"`
	Zh   string `json:"zh"`
	En   string `json:"en"`
}

func (e *QueueError) Error() string { return "onepassd refused: " + e.Zh + " (" + e.En + ")" }

// Board is the body of GET /api/queue and /hall/state (queue.Board).
type Board struct {
	Version  uint64           `json:"version"`
	Day      string           `json:"day"`
	At       time.Time        `json:"at"`
	Hall     string           `json:"hall,omitempty"`
	Services []ServiceBoard   `json:"services"`
	Counters []CounterBoard   `json:"counters"`
	Calls    []Call           `json:"calls"` // latest first
	Printer  PrinterStatus    `json:"printer"`
	Kiosk    *KioskTicket     `json:"kiosk,omitempty"`
	Priority []PriorityOption `json:"priorities"`

	// AnnounceEn: the hall screen says each call in English too ([queue] announce_en).
	AnnounceEn bool `json:"announce_en,omitempty"`
}

// PriorityOption is a priority class with its screen names.
type PriorityOption struct {
	Class Priority `json:"class"`
	Zh    string   `json:"zh"`
	En    string   `json:"en"`
}

// ServiceBoard is one service's queue.
type ServiceBoard struct {
	Code    string   `json:"code"`
	Name    string   `json:"name"`
	NameEn  string   `json:"name_en"`
	Waiting int      `json:"waiting"`
	Next    []Waiter `json:"next"`
	Served  int      `json:"served"`
	Issued  int      `json:"issued"`
}

// Waiter is a waiting ticket on the board.
type Waiter struct {
	Number   string    `json:"number"`
	Priority Priority  `json:"priority,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
	Slot     time.Time `json:"slot,omitzero"`
}

// CounterBoard is one counter and the ticket it called.
type CounterBoard struct {
	ID       string   `json:"id"`
	Services []string `json:"services"`
	Current  *Ticket  `json:"current,omitempty"`
}

// Call is one call of a ticket to a counter.
type Call struct {
	Seq     uint64    `json:"seq"`
	Number  string    `json:"number"`
	Counter string    `json:"counter"`
	Service string    `json:"service"`
	At      time.Time `json:"at"`
	Recall  bool      `json:"recall,omitempty"`
}

// PrinterStatus is how the ticket printer's last prints went.
type PrinterStatus struct {
	Configured bool      `json:"configured"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Unprinted  []string  `json:"unprinted,omitempty"`
}

// KioskTicket is the last ticket taken at the kiosk, for the citizen's screen.
type KioskTicket struct {
	Seq         uint64    `json:"seq"`
	PassID      string    `json:"pass_id,omitempty"`
	Number      string    `json:"number"`
	Service     string    `json:"service"`
	ServiceName string    `json:"service_name"`
	ServiceEn   string    `json:"service_en"`
	Ahead       int       `json:"ahead"`
	Slot        time.Time `json:"slot,omitzero"`
	Print       string    `json:"print"`
	PrintError  string    `json:"print_error,omitempty"`
	At          time.Time `json:"at"`
}

// SyncStatus is the body of GET /api/sync and the answer of POST /api/sync/now and
// /api/sync/enroll.
type SyncStatus struct {
	Enrolled    bool        `json:"enrolled"`
	EmbeddedHub string      `json:"embedded_hub,omitempty"`
	Status      *SyncClient `json:"status,omitempty"`
	// Quarantine lists the latest records the hub refused for good (kept, never uploaded again).
	Quarantine []Quarantined `json:"quarantine,omitempty"`
}

// SyncClient is the sync client's side of SyncStatus (sync/client.Status).
type SyncClient struct {
	Hub         string    `json:"hub"`            // the preferred hub replica
	Hubs        []string  `json:"hubs,omitempty"` // the configured replicas, when more than one
	LastHub     string    `json:"last_hub,omitempty"`
	Device      string    `json:"device"`
	Hall        string    `json:"hall"`
	CertExpires time.Time `json:"cert_expires"`

	LastPull      time.Time `json:"last_pull,omitzero"`
	PullError     string    `json:"pull_error,omitempty"`
	LastPullError time.Time `json:"last_pull_error,omitzero"`
	LastPush      time.Time `json:"last_push,omitzero"`
	PushError     string    `json:"push_error,omitempty"`
	LastPushError time.Time `json:"last_push_error,omitzero"`
	Uploaded      int64     `json:"uploaded"`

	ReplicaIssuedAt time.Time `json:"replica_issued_at,omitzero"`
	ReplicaAge      float64   `json:"replica_age_seconds"` // −1: never synced
	ReplicaEpoch    int64     `json:"replica_epoch"`
	ReplicaSeq      int64     `json:"replica_seq"`
	ReplicaCount    int64     `json:"replica_count"`
	ReplicaError    string    `json:"replica_error,omitempty"` // the database could not say

	OutboxDepth  int       `json:"outbox_depth"`
	OutboxOldest time.Time `json:"outbox_oldest,omitzero"`
	OutboxLimit  int       `json:"outbox_limit"`
	Quarantined  int       `json:"quarantined"`

	SkewKnown bool    `json:"skew_known"`
	SkewMS    float64 `json:"skew_ms"` // hub clock − kiosk clock, from signed times
	Refused   string  `json:"refused,omitempty"`

	Health device.Health `json:"health"`
}

// Quarantined is one record the hub refused, as the technician sees it.
type Quarantined struct {
	ID     string    `json:"id"`
	Kind   string    `json:"kind"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// EnrollRequest is the body of POST /api/sync/enroll.
type EnrollRequest struct {
	Hub   string `json:"hub"`
	Token string `json:"token"`
}

// The simulator's routes exist only in `onepassd --sim`.

// CardRequest is the body of POST /api/sim/card: a card to place on the reader. Only id and name
// are needed; the rest get plausible values. It is the reader simulator's own request (one model:
// onepassctl links idcardsim anyway for sim-reader, and idcardsim is light), named here so that
// every body of the local API has its name in this package.
type CardRequest = idcardsim.CardRequest

// TempRequest is the body of POST /api/sim/temp.
type TempRequest struct {
	C float64 `json:"c"`
}

// CodeRequest is the body of POST /api/sim/code.
type CodeRequest struct {
	Text string `json:"text"`
}

// FaultRequest is the body of POST /api/sim/fault: set a part's health, e.g. to show a degraded kiosk.
type FaultRequest struct {
	Part   string             `json:"part"` // reader, thermometer, camera, printer, signal
	State  device.HealthState `json:"state"`
	Reason string             `json:"reason,omitempty"`
}

// SimState is the body of GET /api/sim.
type SimState struct {
	Signal  SignalState `json:"signal"`
	Tickets int         `json:"tickets_printed"`
}

// SignalState is what the simulated signal outputs did.
type SignalState struct {
	GatePulses int    `json:"gate_pulses"`
	LED        string `json:"led"`
	Buzz       string `json:"buzz"`
}

// SimStatusRequest is the body of POST /api/sim/status: the embedded hub sets a person's status
// (as the platform's operators do) and the kiosk pulls it before the request returns.
type SimStatusRequest struct {
	ID     string `json:"id"`
	Type   int    `json:"type,omitempty"` // certificate type, default 10 (resident card)
	Status string `json:"status"`         // green, yellow, red, unknown (removes the person)
}

// AppointmentRequest is the body of POST /api/sim/appointment: the simulated booking system signs
// a code for a slot starting In from now (a duration like 10m; default now).
type AppointmentRequest struct {
	Service string `json:"service"`
	Ref     string `json:"ref"`
	In      string `json:"in"`
}

// Appointment is the answer of POST /api/sim/appointment.
type Appointment struct {
	Code string `json:"code"` // APPT1:…
}

// PrinterState is the body of GET /api/sim/printer: the printer simulator's paper, cover and
// what it printed.
type PrinterState struct {
	Paper    string    `json:"paper"` // ok, near_end, out
	Cover    string    `json:"cover"` // open, closed
	Mute     bool      `json:"mute"`
	Printed  int       `json:"printed"`
	BytesIn  int       `json:"bytes_in"`
	Last     *Receipt  `json:"last,omitempty"`
	LastText []string  `json:"last_text,omitempty"`
	At       time.Time `json:"at"`
}

// Receipt is one printed ticket, as the printer simulator parsed it.
type Receipt struct {
	Elements []PrintElement `json:"elements"`
	Partial  bool           `json:"partial_cut"`
}

// PrintElement is a line or a QR code on a receipt.
type PrintElement struct {
	Text    string `json:"text,omitempty"`
	QR      string `json:"qr,omitempty"`
	QRSize  int    `json:"qr_size,omitempty"`
	Align   int    `json:"align"`
	Bold    bool   `json:"bold,omitempty"`
	W       int    `json:"w"`
	H       int    `json:"h"`
	Reverse bool   `json:"reverse,omitempty"`
}

// PrinterControl is the body of POST /api/sim/printer: change the paper, the cover or whether the
// printer answers status requests.
type PrinterControl struct {
	Paper string `json:"paper,omitempty"` // ok, near_end, out
	Cover string `json:"cover,omitempty"` // open, closed
	Mute  *bool  `json:"mute,omitempty"`
}

// OverrideRequest is the body of POST /staff/api/override: a staff member's decision on a MANUAL
// visit (the staff ID is the logged-in session's).
type OverrideRequest struct {
	VisitID string `json:"visit_id"`
	Outcome string `json:"outcome"` // PASS or DENY
	Note    string `json:"note"`    // a reason code from the console's list (OverrideNote.Code)
}

// Override is the answer of POST /staff/api/override: the decision, logged as a visit of its own
// (method "staff", reason "staff_override") before this answer was sent.
type Override struct {
	VisitID    string `json:"visit_id"`  // the decision's visit; after a PASS, the pass a ticket is taken with
	Overrides  string `json:"overrides"` // the MANUAL visit decided
	Outcome    string `json:"outcome"`
	MaskedName string `json:"masked_name"`
	Shown      bool   `json:"shown"`   // the lane's screen shows it to the citizen
	AtDesk     bool   `json:"at_desk"` // the MANUAL visit was a manual entry at the staff desk
}

// OverrideNote is one reason a staff member may give for a decision (kiosk.OverrideNote).
type OverrideNote struct {
	Code     string   `json:"code"`
	Zh       string   `json:"zh"`
	En       string   `json:"en"`
	Outcomes []string `json:"outcomes"` // PASS, DENY: the decisions it may explain
}
