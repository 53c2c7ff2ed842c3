package main

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
	"onepass/device"
	"onepass/drivers/sim"
	"onepass/kiosk"
	"onepass/kiosk/policy"
	"onepass/kiosk/queue"
	"onepass/sync/store"
	"onepass/ui"
	"onepass/ui/api"
)

// queueSetup is the hall's queue in the daemon: the queue itself, the staff console's logins,
// the LAN listener and, in --sim, a booking system that signs appointment codes.
type queueSetup struct {
	q       *queue.Queue
	db      *store.Store
	cfg     config.Config
	staff   ui.StaffOptions
	apptKey ed25519.PrivateKey // --sim only
	printer device.TicketPrinter
	lane    *kiosk.Lane // set by apply, before the lane runs
	log     *slog.Logger
}

// openQueue opens the queue when [queue] enabled = true, or in --sim unless the file says
// enabled = false. The queue needs the database; without one it stays off and says so. A camera
// is wrapped so that appointment codes shown to it go to the queue rather than the lane.
func openQueue(ctx context.Context, cfg config.Config, db *store.Store, parts *kiosk.Parts, simulate bool,
	clock clockwork.Clock, logger *slog.Logger) (*queueSetup, error) {
	on := cfg.Queue.Enabled || (simulate && !cfg.Defined("queue", "enabled"))
	if !on {
		return nil, nil
	}
	log := logger.With("component", "queue")
	if db == nil {
		log.Error("queue tickets are off: the database is not open")
		return nil, nil
	}
	qc, err := cfg.QueueConfig()
	if err != nil {
		return nil, fmt.Errorf("[queue]: %w", err)
	}
	qs := &queueSetup{db: db, cfg: cfg, printer: parts.Printer, log: log}
	if simulate {
		if qc.Hall == "" {
			qc.Hall = "模拟政务服务大厅"
		}
		if qc.TicketURL == "" {
			qc.TicketURL = "https://hall.example.invalid/t/{id}"
		}
		// The simulated booking system: `onepassctl sim appointment` asks it for a code.
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return nil, fmt.Errorf("sim appointment key: %w", err)
		}
		qc.AppointmentKeys = append(qc.AppointmentKeys, pub)
		qs.apptKey = priv
	}
	qs.q, err = queue.New(ctx, qc, db, queue.Options{Clock: clock, Logger: logger, Printer: parts.Printer})
	if err != nil {
		return nil, err
	}
	users, err := cfg.StaffUsers()
	if err != nil {
		return nil, fmt.Errorf("[staff]: %w", err)
	}
	if len(users) == 0 && simulate {
		// A demo login for `make run`; never outside --sim.
		h, _ := bcrypt.GenerateFromPassword([]byte("1234"), bcrypt.DefaultCost)
		users = []config.StaffUser{{ID: "demo", Name: "演示", Counter: qc.Counters[0].ID, PINHash: string(h)}}
		log.Warn("no staff configured: --sim adds staff ID demo with PIN 1234")
	}
	for _, u := range users {
		qs.staff.Users = append(qs.staff.Users, ui.StaffUser{ID: u.ID, Name: u.Name, Counter: u.Counter, PINHash: u.PINHash})
	}
	qs.staff.LockoutAfter, qs.staff.LockoutFor, qs.staff.SessionIdle = cfg.Staff.LockoutAfter, cfg.Staff.LockoutFor.Duration, cfg.Staff.SessionIdle.Duration
	qs.staff.Attempts = loginAttempts{db} // lock-outs survive a restart (stafflockout.go)
	if parts.Scanner != nil {
		parts.Scanner = &apptScanner{CodeScanner: parts.Scanner, qs: qs}
	}
	return qs, nil
}

// queue is the hall's queue, nil when tickets are off.
func (qs *queueSetup) queue() *queue.Queue {
	if qs == nil {
		return nil
	}
	return qs.q
}

// apply gives the UI the queue and its collaborators, and in --sim the simulators' controls.
func (qs *queueSetup) apply(o *ui.Options, lane *kiosk.Lane) {
	if qs == nil {
		return
	}
	o.Queue, o.Staff, o.Manual, o.Visits, o.Override = qs.q, qs.staff, lane, storeVisits{qs.db}, lane
	o.LANHosts = qs.cfg.Staff.Hosts
	qs.lane = lane
	if p, ok := qs.printer.(*sim.PTYPrinter); ok {
		o.Sim.Printer = simPrinter{p}
	}
	if qs.apptKey != nil {
		o.Sim.Booking = qs
	}
}

// start runs the queue and, when [staff] listen is set, the LAN listener for the staff console
// and the hall screen, each through run (the daemon's lifecycle).
func (qs *queueSetup) start(ctx context.Context, srv *ui.Server, run func(func(context.Context) error)) error {
	if qs == nil {
		return nil
	}
	run(qs.q.Run)
	if qs.cfg.Staff.Listen == "" {
		return nil
	}
	l, err := net.Listen("tcp", qs.cfg.Staff.Listen)
	if err != nil {
		return fmt.Errorf("[staff] listen: %w", err)
	}
	scheme := "http"
	var tlsCfg *tls.Config
	if qs.cfg.Staff.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(qs.cfg.Staff.TLSCert, qs.cfg.Staff.TLSKey)
		if err != nil {
			l.Close()
			return fmt.Errorf("[staff] tls: %w", err)
		}
		// ServeLANTLS puts TLS above its per-address connection cap.
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	} else {
		qs.log.Warn("the staff console is on the LAN without TLS: PINs cross the network in clear; set [staff] tls_cert and tls_key")
	}
	qs.log.Info("staff console and hall screen on the LAN", "url", scheme+"://"+l.Addr().String()+"/staff")
	run(func(ctx context.Context) error { return srv.ServeLANTLS(ctx, l, tlsCfg) })
	return nil
}

// apptScanner routes appointment codes shown to the camera to the queue: after a PASS on this
// lane (within the pass window) the booking becomes a ticket, printed and shown on the citizen's
// screen; every other code goes to the lane as before.
type apptScanner struct {
	device.CodeScanner
	qs *queueSetup
}

func (a *apptScanner) Next(ctx context.Context) (device.Scan, error) {
	for {
		s, err := a.CodeScanner.Next(ctx)
		if err != nil || !queue.IsAppointmentCode(s.Text) {
			return s, err
		}
		a.qs.checkInAtKiosk(ctx, s.Text)
	}
}

func (qs *queueSetup) checkInAtKiosk(ctx context.Context, code string) {
	passID := kiosk.CheckInPass(ctx, qs.lane.View(), qs.db)
	if passID == "" {
		// Say what to do rather than nothing: the citizen would show the code again and again.
		qs.log.Info("appointment code shown without a pass at this lane: asked to pass first")
		qs.lane.Notice(ctx, policy.ReasonCheckInNeedsPass)
		return
	}
	is, err := qs.q.CheckIn(ctx, code, passID)
	if err != nil {
		qs.log.Info("appointment check-in refused", "err", err)
		return
	}
	qs.log.Info("appointment checked in at the kiosk", "ticket", is.Ticket.Number)
}

// Appointment signs an appointment code as a booking system would (POST /api/sim/appointment):
// {"service": "A", "ref": "BK-1", "in": "10m"} → {"code": "APPT1:…"}; the slot starts "in" from
// now (default now). Every error is a bad request.
func (qs *queueSetup) Appointment(_ context.Context, req api.AppointmentRequest) (api.Appointment, error) {
	in := time.Duration(0)
	if req.In != "" {
		d, err := time.ParseDuration(req.In)
		if err != nil {
			return api.Appointment{}, fmt.Errorf("appointment: in %q: want a duration like 10m", req.In)
		}
		in = d
	}
	if req.Ref == "" {
		req.Ref = fmt.Sprintf("SIM-%d", time.Now().UnixMilli()%1_000_000)
	}
	loc := qs.q.Config().Location
	if loc == nil {
		loc = time.Local
	}
	slot := time.Now().Add(in).Truncate(time.Minute)
	code, err := queue.SignAppointment(qs.apptKey, queue.Appointment{Ref: req.Ref, Service: req.Service, Slot: slot, Length: 30 * time.Minute}, loc)
	if err != nil {
		return api.Appointment{}, err
	}
	return api.Appointment{Code: code}, nil
}
