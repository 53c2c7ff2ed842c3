package mlx90614

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"onepass/device"
)

func init() {
	device.RegisterThermometer("mlx90614", func(ctx context.Context, p device.Params) (device.Thermometer, error) {
		cfg := Config{Bus: DefaultBus, Address: DefaultAddr}
		if err := p.Decode(&cfg); err != nil {
			return nil, err
		}
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		// Init fails only on a dependency cycle among periph's own drivers; a board without
		// I²C is reported by the bus open below, as "down", not here.
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("periph host init: %w", err)
		}
		return NewThermometer(cfg, ThermometerOptions{}), nil
	})
}

// Config is the [thermometer] section for driver "mlx90614".
type Config struct {
	Bus       string  `json:"bus"`        // periph bus name: "/dev/i2c-1", "I2C1", "1"
	Address   Address `json:"address"`    // 7-bit SMBus address, 0x5A from the factory
	IgnorePEC bool    `json:"ignore_pec"` // accept readings with a bad PEC (counted in Health)
	// The sensor's own filter (ConfigRegister1), written at open when the part has another one:
	// IIR coefficient a1 and FIR length. Both 0 (the default) leaves the part as it is: an EEPROM
	// write that applies only after a power cycle is a site's choice, not a start-up side effect.
	IIR float64 `json:"iir"`
	FIR int     `json:"fir"`
}

// The fast profile's filter setting (opt-in: iir = 1.0, fir = 1024): IIR bypassed, FIR 1024. A result every ~145 ms that depends on that
// conversion only, so a person's reading settles within two results of the head arriving; the
// noise (0.17 °C rms per result, against 0.10 with the factory IIR 50 %) is averaged by the
// measurement rule over independent results instead of by an IIR that makes successive ones
// alike (docs/thermometer.md §5, "A faster profile").
const (
	DefaultIIR = 1.0
	DefaultFIR = 1024
)

// Validate checks the values.
func (c Config) Validate() error {
	if c.Bus == "" {
		return errors.New("bus: must not be empty (e.g. \"/dev/i2c-1\")")
	}
	if c.Address < 0x01 || c.Address > 0x7F {
		return fmt.Errorf("address: 0x%02X: want a 7-bit address 0x01…0x7F", uint16(c.Address))
	}
	if c.IIR != 0 || c.FIR != 0 {
		if _, err := FilterBits(c.IIR, c.FIR); err != nil {
			return fmt.Errorf("iir/fir: %w", err)
		}
	}
	return nil
}

// Address is an SMBus address written as a number (`address = 0x5A` in TOML) or a string
// ("0x5A", "90").
type Address uint16

// UnmarshalJSON accepts a number or a string in Go integer syntax.
func (a *Address) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return errors.New("address: want a 7-bit address such as 0x5A, not null")
	}
	if uq, err := strconv.Unquote(s); err == nil {
		s = uq
	} else {
		var f float64
		if err := json.Unmarshal(b, &f); err != nil || f != float64(int64(f)) {
			return fmt.Errorf("address %s: want an integer such as 0x5A", b)
		}
		s = strconv.FormatInt(int64(f), 10)
	}
	return a.Set(s)
}

// Set parses "0x5A", "90" or "0o132"; it makes Address a flag.Value.
func (a *Address) Set(s string) error {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 0, 16)
	if err != nil || v > 0x7F {
		return fmt.Errorf("address %q: want a 7-bit address such as 0x5A", s)
	}
	*a = Address(v)
	return nil
}

func (a Address) String() string { return fmt.Sprintf("0x%02X", uint16(a)) }

// ThermometerOptions are the collaborators of a Thermometer; zero values are the real ones.
type ThermometerOptions struct {
	Open   func(bus string) (i2c.BusCloser, error) // nil: i2creg.Open
	Clock  clockwork.Clock                         // nil: the real clock
	Dev    Opts
	Logger *slog.Logger // nil: slog.Default()
}

// Health thresholds. A sensor polled at 4 Hz that is frozen for 10 s is broken, not calm: the
// thermopile's noise (0.05–0.18 °C rms per datasheet table 8) moves the raw word every few reads.
const (
	healthWindow = 20 // reads remembered for Health
	downAfter    = 5  // consecutive failed reads that mark the sensor down and reopen the bus
	stuckAfter   = 40 // identical raw (Ta, Tobj) pairs in a row that mark the readings frozen
	maxBackoff   = 10 * time.Second
)

// ErrStuck is returned while the sensor repeats the very same raw words.
var ErrStuck = errors.New("readings frozen")

type outcome uint8

const (
	readClean outcome = iota + 1
	readRetried
	readFailed
)

// Thermometer is an MLX90614 as a device.Thermometer. It opens the bus on first use and again,
// with backoff, whenever the bus cannot be opened or the sensor stops answering, so an unplugged
// sensor or a missing bus shows as "down" and recovers by itself.
type Thermometer struct {
	cfg   Config
	name  string // mlx90614@BUS:ADDR, the Sensor of every reading
	open  func(string) (i2c.BusCloser, error)
	clock clockwork.Clock
	dopts Opts
	log   *slog.Logger

	filterDone bool // the filter setting was checked (and written if needed) once
	mu         sync.Mutex
	bus        i2c.BusCloser
	dev        *Dev
	closed     bool
	nextTry    time.Time
	backoff    time.Duration
	lastErr    error
	fails      int // consecutive failed reads
	hist       [healthWindow]outcome
	histN      int
	lastRaw    [2]uint16
	same       int
	health     device.Health
	counters   Stats // of devices closed on reconnect, so Stats keeps counting
}

// NewThermometer returns the sensor cfg names and tries to open its bus at once; a failure leaves
// it down and retried later, never an error.
func NewThermometer(cfg Config, o ThermometerOptions) *Thermometer {
	t := &Thermometer{cfg: cfg, open: o.Open, clock: o.Clock, dopts: o.Dev, log: o.Logger,
		name: fmt.Sprintf("mlx90614@%s:%s", cfg.Bus, cfg.Address)}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.log = t.log.With("part", "thermometer", "sensor", t.name)
	if t.open == nil {
		t.open = i2creg.Open
	}
	if t.clock == nil {
		t.clock = clockwork.NewRealClock()
	}
	t.health = device.Health{State: device.Down, Reason: "not read yet", Since: t.clock.Now()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.connect(); err == nil {
		t.setHealth(device.OK, "")
	}
	return t
}

// connect opens the bus if it is not open and the backoff allows; t.mu is held.
func (t *Thermometer) connect() error {
	if t.dev != nil {
		return nil
	}
	if t.closed {
		return errors.New("mlx90614: closed")
	}
	now := t.clock.Now()
	if now.Before(t.nextTry) {
		return fmt.Errorf("%s: retrying in %s: %w", t.name, t.nextTry.Sub(now).Round(time.Millisecond), t.lastErr)
	}
	bus, err := t.open(t.cfg.Bus)
	if err == nil {
		t.dev, err = New(bus, uint16(t.cfg.Address), &t.dopts)
		if err != nil {
			bus.Close()
		}
	}
	if err != nil {
		t.retryLater(fmt.Errorf("bus %s: %w", t.cfg.Bus, err))
		return fmt.Errorf("%s: %w", t.name, t.lastErr)
	}
	t.bus = bus // the backoff is reset by a good reading, not by an open bus
	t.setFilter()
	return nil
}

// setFilter writes the configured IIR/FIR into the part once per Thermometer, and only when it
// differs: an EEPROM cell wears, and a part whose write does not verify is not written again on
// every reconnect. A failure leaves the part measuring with its old filter; t.mu is held.
func (t *Thermometer) setFilter() {
	if t.filterDone || t.cfg.IIR == 0 && t.cfg.FIR == 0 {
		return
	}
	t.filterDone = true
	wrote, err := t.dev.SetFilter(t.cfg.IIR, t.cfg.FIR)
	switch {
	case err != nil:
		t.log.Warn("could not set the sensor's filter; it measures with its old one", "iir", t.cfg.IIR, "fir", t.cfg.FIR, "err", err)
	case wrote:
		t.log.Warn("sensor filter written to its EEPROM; it applies after the sensor's next power-on (reboot the kiosk)", "iir", t.cfg.IIR, "fir", t.cfg.FIR)
	}
}

// retryLater schedules the next open with exponential backoff and marks the sensor down.
func (t *Thermometer) retryLater(err error) {
	t.backoff = min(max(2*t.backoff, time.Second), maxBackoff)
	t.nextTry = t.clock.Now().Add(t.backoff)
	t.lastErr = err
	t.setHealth(device.Down, err.Error())
}

// disconnect closes the bus after the sensor stopped answering; a later read reopens it.
func (t *Thermometer) disconnect(err error) {
	if t.dev != nil {
		t.counters = addStats(t.counters, t.dev.Stats())
	}
	if t.bus != nil {
		t.bus.Close()
	}
	t.bus, t.dev = nil, nil
	t.retryLater(fmt.Errorf("no valid reading in %d tries: %w", t.fails, err))
}

// Read takes one reading: Ta and Tobj1, each PEC-checked and flag-checked.
func (t *Thermometer) Read(ctx context.Context) (device.TempReading, error) {
	if err := ctx.Err(); err != nil {
		return device.TempReading{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.connect(); err != nil {
		return device.TempReading{}, err
	}
	before := t.dev.Stats().Retries
	s, err := t.dev.Sense()
	if err != nil {
		t.remember(readFailed)
		switch t.fails++; {
		case t.fails%downAfter == 0:
			t.disconnect(err) // reopen the bus, in case it was the adapter that went away
		case t.fails > downAfter:
			t.setHealth(device.Down, fmt.Sprintf("no valid reading in %d tries: %v", t.fails, err))
		default:
			t.judge()
		}
		return device.TempReading{}, err
	}
	t.fails, t.backoff = 0, 0
	if t.dev.Stats().Retries > before {
		t.remember(readRetried)
	} else {
		t.remember(readClean)
	}
	if raw := [2]uint16{s.RawTa, s.RawObj}; raw == t.lastRaw {
		t.same++
	} else {
		t.lastRaw, t.same = raw, 1
	}
	if t.same >= stuckAfter {
		t.setHealth(device.Down, fmt.Sprintf("readings frozen: the same raw words %d times in a row", t.same))
		return device.TempReading{}, fmt.Errorf("%s: %w (Ta 0x%04x, Tobj 0x%04x, %d times)", t.name, ErrStuck, s.RawTa, s.RawObj, t.same)
	}
	t.judge()
	return device.TempReading{
		ObjectC: s.Object.Celsius(), AmbientC: s.Ambient.Celsius(), At: t.clock.Now(), Sensor: t.name,
	}, nil
}

func (t *Thermometer) remember(o outcome) {
	t.hist[t.histN%healthWindow] = o
	t.histN++
}

// judge sets the health from the recent reads; t.mu is held.
func (t *Thermometer) judge() {
	var failed, retried, n int
	for _, o := range t.hist {
		switch o {
		case readFailed:
			failed++
		case readRetried:
			retried++
		}
		if o != 0 {
			n++
		}
	}
	st := t.stats()
	switch {
	case failed > 0:
		t.setHealth(device.Degraded, fmt.Sprintf("%d of the last %d reads failed (bus errors %d, PEC errors %d, error flags %d in total)",
			failed, n, st.BusErrors, st.PECErrors, st.FlagErrors))
	case retried >= 3:
		t.setHealth(device.Degraded, fmt.Sprintf("%d of the last %d reads needed a retry (bus errors %d, PEC errors %d in total)",
			retried, n, st.BusErrors, st.PECErrors))
	default:
		t.setHealth(device.OK, "")
	}
}

func (t *Thermometer) setHealth(s device.HealthState, reason string) {
	if t.health.State == s && t.health.Reason == reason {
		return
	}
	since := t.health.Since
	if t.health.State != s {
		since = t.clock.Now()
	}
	t.health = device.Health{State: s, Reason: reason, Since: since}
}

// Health reports the sensor's condition from what the last reads saw; it does not touch the bus.
func (t *Thermometer) Health() device.Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.health
}

// Stats returns the bus counters since the Thermometer was made, across reconnects.
func (t *Thermometer) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.stats()
}

func (t *Thermometer) stats() Stats {
	if t.dev == nil {
		return t.counters
	}
	return addStats(t.counters, t.dev.Stats())
}

func addStats(a, b Stats) Stats {
	return Stats{
		Transactions: a.Transactions + b.Transactions, BusErrors: a.BusErrors + b.BusErrors,
		PECErrors: a.PECErrors + b.PECErrors, FlagErrors: a.FlagErrors + b.FlagErrors,
		RangeErrors: a.RangeErrors + b.RangeErrors, Retries: a.Retries + b.Retries,
	}
}

// SelfTest reads the ID, the configuration, the emissivity and both temperatures, and checks that
// the die temperature is one a working kiosk can have.
func (t *Thermometer) SelfTest(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.connect(); err != nil {
		return err
	}
	d := t.dev
	var errs []error
	if _, err := d.ID(); err != nil {
		errs = append(errs, fmt.Errorf("ID: %w", err))
	}
	if _, err := d.ReadWord(EEConfig1); err != nil {
		errs = append(errs, fmt.Errorf("config register: %w", err))
	}
	if e, _, err := d.Emissivity(); err != nil {
		errs = append(errs, fmt.Errorf("emissivity: %w", err))
	} else if e < 0.1 {
		errs = append(errs, fmt.Errorf("emissivity %.3f: the EEPROM cell looks erased", e))
	}
	s, err := d.Sense()
	switch {
	case err != nil:
		errs = append(errs, err)
	case s.Ambient.Celsius() < -20 || s.Ambient.Celsius() > 70:
		errs = append(errs, fmt.Errorf("die temperature %.2f °C is outside −20…70 °C", s.Ambient.Celsius()))
	}
	return errors.Join(errs...)
}

// Close releases the bus.
func (t *Thermometer) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.bus == nil {
		return nil
	}
	if t.dev != nil {
		t.counters = addStats(t.counters, t.dev.Stats())
	}
	err := t.bus.Close()
	t.bus, t.dev = nil, nil
	return err
}
