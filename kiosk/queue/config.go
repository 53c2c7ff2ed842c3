package queue

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Service is one kind of business (业务) with its own queue and number prefix.
type Service struct {
	Code   string `json:"code"`    // one capital letter, the number prefix: A → A001
	Name   string `json:"name"`    // 社保
	NameEn string `json:"name_en"` // Social insurance
}

// Counter is a service window (窗口) and the services its staff handle.
type Counter struct {
	ID       string   `json:"id"` // what the hall screen says: 请 A012 号到 <ID> 号窗口
	Services []string `json:"services"`
}

// Config is the hall's queue.
type Config struct {
	Services  []Service
	Counters  []Counter
	ResetHour int            // numbering restarts every day at this local hour (0–23)
	Location  *time.Location // the hall's time zone; nil = time.Local
	Hall      string         // printed on tickets
	// AnnounceEn makes the hall screen say each call in English too, after the Chinese.
	AnnounceEn bool

	// TicketURL is the check-in URL printed as a QR code on every ticket; {id}, {number} and
	// {day} are replaced. Empty: tickets carry no QR code.
	TicketURL string
	// PassWindow is how long after a PASS the citizen may still take a ticket for it.
	PassWindow time.Duration
	// AppointmentKeys verify booked-appointment codes (see appointment.go); none = check-in off.
	AppointmentKeys []ed25519.PublicKey
	// A booking checks in from AppointmentEarly before its slot until AppointmentLate after it.
	AppointmentEarly time.Duration
	AppointmentLate  time.Duration
	// LastCalls is how many calls the hall screen lists.
	LastCalls int
	// PrintTimeout bounds one ticket print, status queries included.
	PrintTimeout time.Duration
}

// DefaultConfig is a small hall: three services, three counters, reset at 04:00.
func DefaultConfig() Config {
	return Config{
		Services: []Service{
			{Code: "A", Name: "社保", NameEn: "Social insurance"},
			{Code: "B", Name: "医保", NameEn: "Medical insurance"},
			{Code: "C", Name: "户籍", NameEn: "Household registration"},
		},
		Counters: []Counter{
			{ID: "1", Services: []string{"A"}},
			{ID: "2", Services: []string{"B"}},
			{ID: "3", Services: []string{"A", "B", "C"}},
		},
		ResetHour: 4, PassWindow: 2 * time.Minute,
		AppointmentEarly: 2 * time.Hour, AppointmentLate: 15 * time.Minute,
		LastCalls: 6, PrintTimeout: 15 * time.Second,
	}
}

var (
	serviceCode = regexp.MustCompile(`^[A-Z]$`)
	counterID   = regexp.MustCompile(`^[0-9A-Za-z]{1,8}$`)
)

// Validate names every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Services) == 0 {
		bad("services: at least one service is needed")
	}
	codes := map[string]bool{}
	for i, s := range c.Services {
		switch {
		case !serviceCode.MatchString(s.Code):
			bad("services[%d].code %q: want one capital letter A–Z", i, s.Code)
		case codes[s.Code]:
			bad("services[%d].code %q: used twice", i, s.Code)
		}
		codes[s.Code] = true
		if strings.TrimSpace(s.Name) == "" {
			bad("services[%d].name: must not be empty", i)
		}
	}
	if len(c.Counters) == 0 {
		bad("counters: at least one counter is needed")
	}
	ids := map[string]bool{}
	served := map[string]bool{}
	for i, k := range c.Counters {
		switch {
		case !counterID.MatchString(k.ID):
			bad("counters[%d].id %q: want 1–8 letters or digits", i, k.ID)
		case ids[k.ID]:
			bad("counters[%d].id %q: used twice", i, k.ID)
		}
		ids[k.ID] = true
		if len(k.Services) == 0 {
			bad("counters[%d].services: a counter must serve at least one service", i)
		}
		for _, s := range k.Services {
			if !codes[s] {
				bad("counters[%d].services: unknown service %q", i, s)
			}
			served[s] = true
		}
	}
	for _, s := range c.Services {
		if codes[s.Code] && len(c.Counters) > 0 && !served[s.Code] {
			bad("services %q: no counter serves it, so its tickets would never be called", s.Code)
		}
	}
	if c.ResetHour < 0 || c.ResetHour > 23 {
		bad("reset_hour %d: want 0–23", c.ResetHour)
	}
	if c.TicketURL != "" && !strings.HasPrefix(c.TicketURL, "https://") && !strings.HasPrefix(c.TicketURL, "http://") {
		bad("ticket_url %q: want an http(s) URL", c.TicketURL)
	}
	if c.PassWindow < 10*time.Second || c.PassWindow > 30*time.Minute {
		bad("pass_window %s: want 10s–30m", c.PassWindow)
	}
	if c.AppointmentEarly < 0 || c.AppointmentEarly > 24*time.Hour || c.AppointmentLate < 0 || c.AppointmentLate > 24*time.Hour {
		bad("appointment_early/appointment_late: want 0–24h")
	}
	for i, k := range c.AppointmentKeys {
		if len(k) != ed25519.PublicKeySize {
			bad("appointment_keys[%d]: %d bytes, want an Ed25519 public key (%d)", i, len(k), ed25519.PublicKeySize)
		}
	}
	if c.LastCalls < 1 || c.LastCalls > 50 {
		bad("last_calls %d: want 1–50", c.LastCalls)
	}
	if c.PrintTimeout < time.Second || c.PrintTimeout > time.Minute {
		bad("print_timeout %s: want 1s–1m", c.PrintTimeout)
	}
	return errors.Join(errs...)
}

func (c Config) location() *time.Location {
	if c.Location == nil {
		return time.Local
	}
	return c.Location
}

// businessDay is the day a moment belongs to: the day starts at ResetHour, local time.
func (c Config) businessDay(t time.Time) string {
	return t.In(c.location()).Add(-time.Duration(c.ResetHour) * time.Hour).Format(time.DateOnly)
}

// nextReset is the first reset boundary after t.
func (c Config) nextReset(t time.Time) time.Time {
	l := t.In(c.location())
	r := time.Date(l.Year(), l.Month(), l.Day(), c.ResetHour, 0, 0, 0, c.location())
	for !r.After(t) {
		r = time.Date(r.Year(), r.Month(), r.Day()+1, c.ResetHour, 0, 0, 0, c.location())
	}
	return r
}

func (c Config) service(code string) (Service, bool) {
	for _, s := range c.Services {
		if s.Code == code {
			return s, true
		}
	}
	return Service{}, false
}

func (c Config) counter(id string) (Counter, bool) {
	for _, k := range c.Counters {
		if k.ID == id {
			return k, true
		}
	}
	return Counter{}, false
}
