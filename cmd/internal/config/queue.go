package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"golang.org/x/crypto/bcrypt"

	"onepass/kiosk/queue"
)

// Queue is the [queue] section: the hall's services, counters and numbering.
type Queue struct {
	Enabled          bool       `toml:"enabled"`
	Hall             string     `toml:"hall"`
	AnnounceEn       bool       `toml:"announce_en"` // the hall screen says calls in English too
	ResetHour        int        `toml:"reset_hour"`
	TicketURL        string     `toml:"ticket_url"`
	PassWindow       Duration   `toml:"pass_window"`
	AppointmentKeys  []string   `toml:"appointment_keys"` // base64 Ed25519 public keys (32 bytes)
	AppointmentEarly Duration   `toml:"appointment_early"`
	AppointmentLate  Duration   `toml:"appointment_late"`
	LastCalls        int        `toml:"last_calls"`
	PrintTimeout     Duration   `toml:"print_timeout"`
	Services         []Service  `toml:"services"`
	Counters         []QCounter `toml:"counters"`
}

// Service is one [[queue.services]] entry.
type Service struct {
	Code   string `toml:"code"`
	Name   string `toml:"name"`
	NameEn string `toml:"name_en"`
}

// QCounter is one [[queue.counters]] entry.
type QCounter struct {
	ID       string   `toml:"id"`
	Services []string `toml:"services"`
}

// Staff is the [staff] section: who may log in to the staff console, and from where.
type Staff struct {
	// Listen is an extra address for the staff console and the hall screen on the LAN
	// ("0.0.0.0:8443"); empty keeps them on the local address only.
	Listen       string      `toml:"listen"`
	TLSCert      string      `toml:"tls_cert"`
	TLSKey       string      `toml:"tls_key"`
	Hosts        []string    `toml:"hosts"`      // names the LAN listener answers to besides IPs, localhost and tls_cert's names (DNS rebinding)
	File         string      `toml:"staff_file"` // more [[staff]] entries, as `onepassctl staff add` writes them
	LockoutAfter int         `toml:"lockout_after"`
	LockoutFor   Duration    `toml:"lockout_for"`
	SessionIdle  Duration    `toml:"session_idle"`
	Users        []StaffUser `toml:"users"`
}

// StaffUser is one member of staff. The PIN is stored only as a bcrypt hash.
type StaffUser struct {
	ID      string `toml:"id"`
	Name    string `toml:"name"`
	Counter string `toml:"counter"` // the counter they call to by default
	PINHash string `toml:"pin_hash"`
}

func defaultQueue() Queue {
	d := queue.DefaultConfig()
	q := Queue{ResetHour: d.ResetHour, PassWindow: Duration{d.PassWindow}, AppointmentEarly: Duration{d.AppointmentEarly},
		AppointmentLate: Duration{d.AppointmentLate}, LastCalls: d.LastCalls, PrintTimeout: Duration{d.PrintTimeout}}
	return q
}

func defaultStaff() Staff {
	return Staff{LockoutAfter: 5, LockoutFor: Duration{5 * time.Minute}, SessionIdle: Duration{30 * time.Minute}}
}

// QueueConfig is the queue the file describes; services and counters default to queue's
// DefaultConfig when the file lists none.
func (c Config) QueueConfig() (queue.Config, error) {
	d := queue.DefaultConfig()
	q := c.Queue
	out := queue.Config{
		Services: d.Services, Counters: d.Counters, ResetHour: q.ResetHour, Hall: q.Hall, AnnounceEn: q.AnnounceEn, TicketURL: q.TicketURL,
		PassWindow: q.PassWindow.Duration, AppointmentEarly: q.AppointmentEarly.Duration,
		AppointmentLate: q.AppointmentLate.Duration, LastCalls: q.LastCalls, PrintTimeout: q.PrintTimeout.Duration,
	}
	if len(q.Services) > 0 {
		out.Services = nil
		for _, s := range q.Services {
			out.Services = append(out.Services, queue.Service{Code: s.Code, Name: s.Name, NameEn: s.NameEn})
		}
	}
	if len(q.Counters) > 0 {
		out.Counters = nil
		for _, k := range q.Counters {
			out.Counters = append(out.Counters, queue.Counter{ID: k.ID, Services: k.Services})
		}
	}
	var errs []error
	for i, k := range q.AppointmentKeys {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(b) != ed25519.PublicKeySize {
			errs = append(errs, fmt.Errorf("appointment_keys[%d]: want base64 of a 32-byte Ed25519 public key", i))
			continue
		}
		out.AppointmentKeys = append(out.AppointmentKeys, ed25519.PublicKey(b))
	}
	if err := out.Validate(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

var staffID = regexp.MustCompile(`^[0-9A-Za-z_-]{1,16}$`)

// StaffUsers returns the staff of the [staff] section and of its staff file, checked.
func (c Config) StaffUsers() ([]StaffUser, error) {
	users := append([]StaffUser(nil), c.Staff.Users...)
	if c.Staff.File != "" {
		more, err := ReadStaffFile(c.Staff.File)
		if err != nil {
			return nil, err
		}
		users = append(users, more...)
	}
	qc, _ := c.QueueConfig()
	counters := map[string]bool{}
	for _, k := range qc.Counters {
		counters[k.ID] = true
	}
	var errs []error
	seen := map[string]bool{}
	for i, u := range users {
		key := fmt.Sprintf("staff.users[%d]", i)
		if !staffID.MatchString(u.ID) {
			errs = append(errs, fmt.Errorf("%s.id %q: want 1–16 letters, digits, _ or -", key, u.ID))
		}
		if seen[u.ID] {
			errs = append(errs, fmt.Errorf("%s.id %q: used twice", key, u.ID))
		}
		seen[u.ID] = true
		if cost, err := bcrypt.Cost([]byte(u.PINHash)); err != nil || cost < bcrypt.DefaultCost {
			errs = append(errs, fmt.Errorf("%s (%s).pin_hash: want a bcrypt hash of cost ≥ %d (make one with `onepassctl staff add`)", key, u.ID, bcrypt.DefaultCost))
		}
		if u.Counter != "" && !counters[u.Counter] {
			errs = append(errs, fmt.Errorf("%s (%s).counter %q: no such counter in [queue]", key, u.ID, u.Counter))
		}
	}
	return users, errors.Join(errs...)
}

// StaffFile is the layout of a staff file.
type StaffFile struct {
	Staff []StaffUser `toml:"staff"`
}

// ReadStaffFile reads a staff file strictly (unknown keys are errors).
func ReadStaffFile(path string) ([]StaffUser, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("staff file: %w", err)
	}
	var f StaffFile
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return nil, fmt.Errorf("staff file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("staff file %s: unknown key %s", path, und[0])
	}
	return f.Staff, nil
}

// validateQueue adds the [queue] and [staff] problems to bad.
func (c Config) validateQueue(bad func(key, format string, a ...any)) {
	if c.Queue.Enabled || c.Defined("queue") {
		if _, err := c.QueueConfig(); err != nil {
			bad("queue", "%v", err)
		}
	}
	s := c.Staff
	if s.Listen != "" {
		if _, _, err := net.SplitHostPort(s.Listen); err != nil {
			bad("staff.listen", "%q: want host:port, e.g. \"0.0.0.0:8443\"", s.Listen)
		}
	}
	for _, h := range s.Hosts {
		if h == "" || strings.ContainsAny(h, ":/ ") {
			bad("staff.hosts", "%q: want a host name without port, e.g. \"kiosk3.hall.local\"", h)
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		bad("staff.tls_cert", "tls_cert and tls_key go together")
	}
	if s.LockoutAfter < 1 || s.LockoutAfter > 20 {
		bad("staff.lockout_after", "%d: want 1–20 failed attempts", s.LockoutAfter)
	}
	if d := s.LockoutFor.Duration; d < 10*time.Second || d > 24*time.Hour {
		bad("staff.lockout_for", "%s: want 10s–24h", d)
	}
	if d := s.SessionIdle.Duration; d < time.Minute || d > 24*time.Hour {
		bad("staff.session_idle", "%s: want 1m–24h", d)
	}
	if len(s.Users) > 0 || s.File != "" {
		if _, err := c.StaffUsers(); err != nil {
			bad("staff", "%v", err)
		}
	}
}
