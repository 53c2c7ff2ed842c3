// Package config reads onepassd's TOML configuration. Every key has a documented default, an
// unknown key or a bad value stops the daemon with a message naming the key, and the sections of
// hardware parts are handed to their drivers, which check their own keys.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/healthcode"
	"onepass/kiosk/policy"
	"onepass/signing"
)

// DefaultPath is where the packaged daemon looks for its configuration.
const DefaultPath = "/etc/onepass/onepassd.toml"

// Duration is a time.Duration written as "8s", "250ms", "30m" in the file.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"8s\" or \"30m\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Config is the whole file. The zero value is not useful: start from Default().
type Config struct {
	Listen   string  `toml:"listen"`
	Data     string  `toml:"data"`
	LogLevel string  `toml:"log_level"`
	Lane     Lane    `toml:"lane"`
	Policy   Policy  `toml:"policy"`
	Measure  Measure `toml:"measure"`
	Trust    Trust   `toml:"trust"`
	Sync     Sync    `toml:"sync"`
	Queue    Queue   `toml:"queue"` // queue tickets (queue.go)
	Staff    Staff   `toml:"staff"` // staff console and its logins (queue.go)

	// Hardware parts: `driver` names the driver, every other key is the driver's.
	Reader      map[string]any `toml:"reader"`
	Thermometer map[string]any `toml:"thermometer"`
	Camera      map[string]any `toml:"camera"`
	Printer     map[string]any `toml:"printer"`
	Signal      map[string]any `toml:"signal"`

	// Set by Load: which keys the file gave explicitly (the daemon's --sim defaults yield to them).
	defined func(key ...string) bool
}

// Trust is the [trust] section: the root key pinned at provisioning, which signs the trust list of
// health-code issuers, and how far the device clock may be off before code times are not judged.
type Trust struct {
	Root    string   `toml:"root"`     // base64 SubjectPublicKeyInfo DER (ES256, EdDSA or SM2)
	MaxSkew Duration `toml:"max_skew"` // default 2m
}

// RootKey is the pinned root key; nil when none is configured.
func (t Trust) RootKey() (*signing.PublicKey, error) {
	if t.Root == "" {
		return nil, nil
	}
	return signing.ParsePublicKeyBase64(t.Root)
}

// Sync is the [sync] section: how the kiosk syncs with the platform hub once enrolled
// (`onepassctl enroll --hub URL --token T`).
type Sync struct {
	Hub          string   `toml:"hub"`           // https://…; overrides the URL given at enrollment
	Hubs         []string `toml:"hubs"`          // the hub's replicas, preferred first; instead of hub
	PullInterval Duration `toml:"pull_interval"` // status, trust list, revocations, policy, keys
	PushInterval Duration `toml:"push_interval"` // visit and ticket uploads
	MaxBackoff   Duration `toml:"max_backoff"`   // cap of the retry wait while the hub is unreachable
	OutboxLimit  int      `toml:"outbox_limit"`  // more waiting records raise the alarm (never dropped)
}

// Replicas are the configured hub URLs, preferred first: hubs, or hub alone; nil when neither is
// set (the URL saved at enrollment is used).
func (s Sync) Replicas() []string {
	if len(s.Hubs) > 0 {
		return s.Hubs
	}
	if s.Hub != "" {
		return []string{s.Hub}
	}
	return nil
}

// Lane is the [lane] section.
type Lane struct {
	ID             string   `toml:"id"`
	ShowSeconds    float64  `toml:"show_seconds"`
	MeasureTimeout Duration `toml:"measure_timeout"`
	PollInterval   Duration `toml:"poll_interval"`
	GatePulse      Duration `toml:"gate_pulse"`
	CardWait       Duration `toml:"card_wait"` // a printed code shown first waits this long for the ID card; 0: none
}

// Policy is the [policy] section: the hall's rules until the platform sends its own.
type Policy struct {
	FeverC       float64  `toml:"fever_c"`
	StatusMaxAge Duration `toml:"status_max_age"`
	AbsentStatus string   `toml:"absent_status"`
	Temperature  string   `toml:"temperature"` // "required" or "off"
	Status       string   `toml:"status"`      // "required" or "off"
}

// Measure is the [measure] section: how readings become one temperature. It is the lane's own
// type, keys in its toml tags, so nothing is copied between two shapes of it.
type Measure = kiosk.MeasureConfig

// Default returns the configuration used when the file says nothing.
func Default() Config {
	k, m, p := kiosk.DefaultConfig(), kiosk.DefaultMeasure(), policy.Default()
	return Config{
		Listen:   "127.0.0.1:8080",
		Data:     "/var/lib/onepass",
		LogLevel: "info",
		Trust:    Trust{MaxSkew: Duration{healthcode.DefaultMaxSkew}},
		Sync: Sync{PullInterval: Duration{time.Minute}, PushInterval: Duration{5 * time.Second},
			MaxBackoff: Duration{5 * time.Minute}, OutboxLimit: 100_000},
		Lane: Lane{ID: k.Lane, ShowSeconds: k.ShowFor.Seconds(), MeasureTimeout: Duration{k.MeasureTimeout},
			PollInterval: Duration{k.PollEvery}, GatePulse: Duration{k.GatePulse}, CardWait: Duration{k.CardWait}},
		Policy: Policy{FeverC: p.FeverC, StatusMaxAge: Duration{p.StatusMaxAge}, AbsentStatus: string(p.AbsentStatus),
			Temperature: string(policy.Required), Status: string(policy.Required)},
		Measure: m,
		Queue:   defaultQueue(),
		Staff:   defaultStaff(),
		defined: func(...string) bool { return false },
	}
}

// Load reads the file at path over the defaults. A missing file is an error only when required.
func Load(path string, required bool) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && !required {
		return c, c.Validate()
	}
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if err := c.parse(string(b)); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// FromFlags is the configuration every command's --config FILE and --data DIR name: FILE over the
// defaults (required when given, else DefaultPath when it exists), then DIR, when given, as the
// data directory over the file's "data".
func FromFlags(file, dataDir string) (Config, error) {
	path, required := DefaultPath, false
	if file != "" {
		path, required = file, true
	}
	c, err := Load(path, required)
	if err != nil {
		return c, err
	}
	if dataDir != "" {
		c.Data = dataDir
	}
	return c, nil
}

func (c *Config) parse(text string) error {
	md, err := toml.Decode(text, c)
	if err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return fmt.Errorf("unknown key %s", strings.Join(keys, ", "))
	}
	// Durations are written as strings; toml would take a bare number as nanoseconds.
	if md.IsDefined("measure", "settle") && md.Type("measure", "settle") != "String" {
		return errors.New(`measure.settle: want a duration like "650ms"`)
	}
	if md.IsDefined("measure", "fault_grace") && md.Type("measure", "fault_grace") != "String" {
		return errors.New(`measure.fault_grace: want a duration like "10s"`)
	}
	c.defined = md.IsDefined
	return c.Validate()
}

// Defined reports whether the file set the key, e.g. Defined("policy", "absent_status").
func (c Config) Defined(key ...string) bool { return c.defined != nil && c.defined(key...) }

// Validate checks values, naming the key that is wrong.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, a...)...))
	}
	if c.Listen == "" {
		bad("listen", "must not be empty")
	} else if err := LoopbackListen(c.Listen); err != nil {
		bad("listen", "%v", err)
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Lane.ID == "" {
		bad("lane.id", "must not be empty")
	}
	if _, err := c.Trust.RootKey(); err != nil {
		bad("trust.root", "%v", err)
	}
	if d := c.Trust.MaxSkew.Duration; d < time.Second || d > 24*time.Hour {
		bad("trust.max_skew", "%s: want 1s–24h", d)
	}
	if h := c.Sync.Hub; h != "" && !strings.HasPrefix(h, "https://") {
		bad("sync.hub", "%q: want https://host[:port] (mutual TLS)", h)
	}
	if c.Sync.Hub != "" && len(c.Sync.Hubs) > 0 {
		bad("sync.hub", "set together with sync.hubs: use hub for one hub or hubs for its replicas, not both")
	}
	seen := map[string]bool{}
	for i, h := range c.Sync.Hubs {
		key := fmt.Sprintf("sync.hubs[%d]", i)
		switch {
		case !strings.HasPrefix(h, "https://") || len(h) == len("https://"):
			bad(key, "%q: want https://host[:port] (mutual TLS)", h)
		case seen[h]:
			bad(key, "%q is listed twice", h)
		}
		seen[h] = true
	}
	if d := c.Sync.PullInterval.Duration; d < time.Second || d > 24*time.Hour {
		bad("sync.pull_interval", "%s: want 1s–24h", d)
	}
	if d := c.Sync.PushInterval.Duration; d < 100*time.Millisecond || d > time.Hour {
		bad("sync.push_interval", "%s: want 100ms–1h", d)
	}
	if d := c.Sync.MaxBackoff.Duration; d < time.Second || d > 24*time.Hour {
		bad("sync.max_backoff", "%s: want 1s–24h", d)
	}
	if n := c.Sync.OutboxLimit; n < 100 || n > 100_000_000 {
		bad("sync.outbox_limit", "%d: want 100–100000000", n)
	}
	if c.Lane.ShowSeconds < 1 || c.Lane.ShowSeconds > 60 {
		bad("lane.show_seconds", "%g: want 1–60", c.Lane.ShowSeconds)
	}
	if d := c.Lane.MeasureTimeout.Duration; d < time.Second || d > time.Minute {
		bad("lane.measure_timeout", "%s: want 1s–1m", d)
	}
	if d := c.Lane.PollInterval.Duration; d < 10*time.Millisecond || d > 2*time.Second {
		bad("lane.poll_interval", "%s: want 10ms–2s", d)
	}
	if d := c.Lane.GatePulse.Duration; d < 100*time.Millisecond || d > 10*time.Second {
		bad("lane.gate_pulse", "%s: want 100ms–10s", d)
	}
	if d := c.Lane.CardWait.Duration; d < 0 || d > time.Minute {
		bad("lane.card_wait", "%s: want 0–1m (0: a printed code without the card goes to staff at once)", d)
	}
	// The policy takes "" as required (its zero value); a file that writes "" meant something else.
	for key, v := range map[string]string{"policy.temperature": c.Policy.Temperature, "policy.status": c.Policy.Status} {
		if v == "" {
			bad(key, `"": want "required" or "off"`)
		}
	}
	if err := c.policy().Validate(); err != nil {
		bad("policy", "%v", err)
	}
	m := c.Measure
	if m.Window < 2 || m.Window > 32 {
		bad("measure.window", "%d: want 2–32", m.Window)
	}
	if m.ToleranceC <= 0 || m.ToleranceC > 2 {
		bad("measure.tolerance_c", "%g: want (0, 2]", m.ToleranceC)
	}
	if m.Estimate != "" && m.Estimate != "mean" && m.Estimate != "median" {
		bad("measure.estimate", "%q: want \"mean\" or \"median\"", m.Estimate)
	}
	if m.OffsetC < -3 || m.OffsetC > 3 {
		bad("measure.offset_c", "%g: want −3…3", m.OffsetC)
	}
	if m.RangeMinC >= m.RangeMaxC {
		bad("measure.range_min_c", "%g must be below range_max_c %g", m.RangeMinC, m.RangeMaxC)
	}
	// A body temperature outside 0–60 °C is one the hub refuses (wire.MinTempC, wire.MaxTempC):
	// the lane could not log it.
	if m.RangeMinC < 0 {
		bad("measure.range_min_c", "%g: want a range inside 0–60 °C", m.RangeMinC)
	}
	if m.RangeMaxC > 60 {
		bad("measure.range_max_c", "%g: want a range inside 0–60 °C", m.RangeMaxC)
	}
	if d := m.Settle; d < 0 || d > 5*time.Second {
		bad("measure.settle", "%s: want 0–5s", d)
	}
	if m.CompensationK < 0 || m.CompensationK > 1 {
		bad("measure.compensation_k", "%g: want 0…1 (0.19 from the published forehead model)", m.CompensationK)
	}
	if m.CompensationOffsetC < -3 || m.CompensationOffsetC > 3 {
		bad("measure.compensation_offset_c", "%g: want −3…3", m.CompensationOffsetC)
	}
	if m.AmbientOffsetC < -15 || m.AmbientOffsetC > 15 {
		bad("measure.ambient_offset_c", "%g: want −15…15", m.AmbientOffsetC)
	}
	if d := m.FaultGrace; d < 0 || d > 10*time.Minute {
		bad("measure.fault_grace", "%s: want 0–10m", d)
	}
	if m.AmbientMinC >= m.AmbientMaxC {
		bad("measure.ambient_min_c", "%g must be below ambient_max_c %g", m.AmbientMinC, m.AmbientMaxC)
	}
	for name, sec := range c.parts() {
		if len(sec) == 0 {
			continue
		}
		if d, ok := sec["driver"].(string); !ok || d == "" {
			bad(name+".driver", "missing: name the driver (known: %s)", strings.Join(device.Drivers()[name], ", "))
		}
	}
	c.validateQueue(bad)
	return errors.Join(errs...)
}

// LoopbackListen refuses an address for the local API that is not on loopback: the API's
// state-changing routes (/api/tickets, /api/sync, /api/sim) have no login, which is safe only while
// nothing but this machine can reach them. "localhost" is the one host name accepted (a name
// resolving elsewhere would put the API on the LAN).
func LoopbackListen(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: want host:port, e.g. \"127.0.0.1:8080\"", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q is not a loopback address (127.0.0.1, ::1 or localhost): the local API has no login; "+
		"to reach the staff console and hall screen from the LAN, set [staff] listen (e.g. \"0.0.0.0:8443\") instead", addr)
}

func (c Config) parts() map[string]map[string]any {
	return map[string]map[string]any{"reader": c.Reader, "thermometer": c.Thermometer, "camera": c.Camera, "printer": c.Printer, "signal": c.Signal}
}

// Part returns the driver name and its parameters for a part section; driver "" = not configured.
func (c Config) Part(section string) (driver string, p device.Params) {
	sec := c.parts()[section]
	if len(sec) == 0 {
		return "", nil
	}
	p = device.Params{}
	for k, v := range sec {
		if k == "driver" {
			driver, _ = v.(string)
			continue
		}
		p[k] = v
	}
	return driver, p
}

func (c Config) policy() policy.Policy {
	return policy.Policy{FeverC: c.Policy.FeverC, StatusMaxAge: c.Policy.StatusMaxAge.Duration, AbsentStatus: policy.AbsentStatus(c.Policy.AbsentStatus),
		Temperature: policy.Requirement(c.Policy.Temperature), Status: policy.Requirement(c.Policy.Status)}
}

// Kiosk is the lane configuration the file describes.
func (c Config) Kiosk() kiosk.Config {
	return kiosk.Config{
		Lane: c.Lane.ID, ShowFor: time.Duration(c.Lane.ShowSeconds * float64(time.Second)),
		MeasureTimeout: c.Lane.MeasureTimeout.Duration, PollEvery: c.Lane.PollInterval.Duration,
		GatePulse: c.Lane.GatePulse.Duration, CardWait: c.Lane.CardWait.Duration, Policy: c.policy(),
		Measure: c.Measure,
	}
}
