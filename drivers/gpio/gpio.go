// Package gpio drives the lane's physical outputs over periph's GPIO: the gate relay (a pulse of
// the configured length on a pass, closed again by a timer, on Close and at start), a green and a
// red LED (both on = amber, for a bi-colour LED), and an active buzzer (one short beep for a pass,
// three for a deny). Pins are looked up by name with gpioreg.ByName, so on Linux they are GPIO
// character-device lines named by the board's device tree ("GPIO17" on a Raspberry Pi). It
// registers signal driver "gpio"; a configuration naming no pins gives a part that signals nothing.
package gpio

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"

	"onepass/device"
)

func init() {
	device.RegisterSignal("gpio", func(ctx context.Context, p device.Params) (device.Signal, error) {
		var cfg Config
		if err := p.Decode(&cfg); err != nil {
			return nil, err
		}
		// Init registers the host's GPIO lines with gpioreg; it fails only on a dependency cycle
		// among periph's drivers. A board without the named lines shows as "down", not an error.
		if _, err := host.Init(); err != nil {
			return nil, fmt.Errorf("periph host init: %w", err)
		}
		return New(cfg, Options{}), nil
	})
}

// Config is the [signal] section for driver "gpio": pin names as gpioreg knows them, and whether
// each output is active low (e.g. a relay board that energises on a low input).
type Config struct {
	Gate            string `json:"gate"`
	Green           string `json:"green"`
	Red             string `json:"red"`
	Buzzer          string `json:"buzzer"`
	GateActiveLow   bool   `json:"gate_active_low"`
	GreenActiveLow  bool   `json:"green_active_low"`
	RedActiveLow    bool   `json:"red_active_low"`
	BuzzerActiveLow bool   `json:"buzzer_active_low"`
}

// Options are the collaborators of a Signal; zero values are the real ones.
type Options struct {
	Clock  clockwork.Clock              // nil: the real clock
	Lookup func(name string) gpio.PinIO // nil: gpioreg.ByName
}

// Beep timings. An active buzzer sounds while its pin is active, so a pattern is a list of steps.
const (
	ShortBeep  = 150 * time.Millisecond
	TripleBeep = 100 * time.Millisecond // each of the three beeps, and each pause between them
)

// relookup is how often a missing pin is looked up again: periph registers the host's lines once,
// at Init, but a simulator or a late udev rule may still bring them.
const relookup = 5 * time.Second

type step struct {
	on bool
	d  time.Duration
}

func pattern(p device.BuzzPattern) []step {
	switch p {
	case device.BuzzShort:
		return []step{{true, ShortBeep}}
	case device.BuzzTriple:
		return []step{{true, TripleBeep}, {false, TripleBeep}, {true, TripleBeep}, {false, TripleBeep}, {true, TripleBeep}}
	}
	return nil
}

// output is one configured pin.
type output struct {
	role      string
	name      string
	activeLow bool
	pin       gpio.PinIO // nil until found
	err       error      // the last failure driving it
}

// Signal is the lane's gate, LEDs and buzzer on GPIO pins.
type Signal struct {
	lookup func(string) gpio.PinIO
	clock  clockwork.Clock

	mu         sync.Mutex
	gate       output
	green, red output
	buzzer     output
	nextLookup time.Time
	gateGen    int // a pulse's timer closes the gate only if no newer pulse started
	gateTimer  clockwork.Timer
	buzzStop   chan struct{}
	buzzing    sync.WaitGroup
	closed     bool
	since      time.Time
	last       device.Health
}

// New looks the pins up and puts the outputs in their safe state at once: gate closed, LEDs and
// buzzer off. That is what makes a daemon restarted by its watchdog close a gate a crashed one
// left open. Missing pins are not an error; Health reports them.
func New(cfg Config, o Options) *Signal {
	s := &Signal{lookup: o.Lookup, clock: o.Clock}
	if s.lookup == nil {
		s.lookup = gpioreg.ByName
	}
	if s.clock == nil {
		s.clock = clockwork.NewRealClock()
	}
	s.gate = output{role: "gate", name: cfg.Gate, activeLow: cfg.GateActiveLow}
	s.green = output{role: "green LED", name: cfg.Green, activeLow: cfg.GreenActiveLow}
	s.red = output{role: "red LED", name: cfg.Red, activeLow: cfg.RedActiveLow}
	s.buzzer = output{role: "buzzer", name: cfg.Buzzer, activeLow: cfg.BuzzerActiveLow}
	s.since = s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.find(true)
	s.safe()
	s.last = s.judge()
	return s
}

func (s *Signal) outputs() []*output { return []*output{&s.gate, &s.green, &s.red, &s.buzzer} }

// find looks up configured pins that were not found yet; s.mu is held.
func (s *Signal) find(force bool) {
	now := s.clock.Now()
	if !force && now.Before(s.nextLookup) {
		return
	}
	s.nextLookup = now.Add(relookup)
	for _, o := range s.outputs() {
		if o.name != "" && o.pin == nil {
			o.pin = s.lookup(o.name)
		}
	}
}

// set drives one output; s.mu is held.
func (s *Signal) set(o *output, on bool) error {
	if o.name == "" {
		return nil // not fitted
	}
	if o.pin == nil {
		s.find(false)
	}
	if o.pin == nil {
		o.err = fmt.Errorf("%s pin %q not found", o.role, o.name)
		return o.err
	}
	if err := o.pin.Out(gpio.Level(on != o.activeLow)); err != nil {
		o.err = fmt.Errorf("%s pin %s: %w", o.role, o.name, err)
		return o.err
	}
	o.err = nil
	return nil
}

// safe closes the gate and switches everything off; s.mu is held.
func (s *Signal) safe() error {
	var errs []error
	for _, o := range s.outputs() {
		errs = append(errs, s.set(o, false))
	}
	return errors.Join(errs...)
}

// OpenGate energises the gate relay for d, then closes it. A pulse during a pulse extends it.
func (s *Signal) OpenGate(ctx context.Context, d time.Duration) error {
	if d <= 0 || d > time.Minute {
		return fmt.Errorf("gpio: gate pulse %s: want (0, 1m]", d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("gpio: closed")
	}
	if s.gate.name == "" {
		return nil
	}
	if err := s.set(&s.gate, true); err != nil {
		return err
	}
	s.gateGen++
	gen := s.gateGen
	if s.gateTimer != nil {
		s.gateTimer.Stop()
	}
	s.gateTimer = s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if gen == s.gateGen && !s.closed {
			s.set(&s.gate, false) // a failure shows in Health; Close and the next start retry
		}
	})
	return nil
}

// SetLED shows one colour; amber lights both LEDs.
func (s *Signal) SetLED(c device.LEDColour) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("gpio: closed")
	}
	g := c == device.LEDGreen || c == device.LEDAmber
	r := c == device.LEDRed || c == device.LEDAmber
	return errors.Join(s.set(&s.green, g), s.set(&s.red, r))
}

// Buzz plays a pattern and returns at once; a new pattern cuts the one playing.
func (s *Signal) Buzz(p device.BuzzPattern) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("gpio: closed")
	}
	s.stopBuzz()
	steps := pattern(p)
	if len(steps) == 0 || s.buzzer.name == "" {
		return s.set(&s.buzzer, false)
	}
	if err := s.set(&s.buzzer, steps[0].on); err != nil {
		return err
	}
	stop := make(chan struct{})
	s.buzzStop = stop
	s.buzzing.Add(1)
	go s.play(steps, stop)
	return nil
}

// play runs the rest of a pattern: each step's level was set when its wait began.
func (s *Signal) play(steps []step, stop chan struct{}) {
	defer s.buzzing.Done()
	for i, st := range steps {
		select {
		case <-stop:
			return
		case <-s.clock.After(st.d):
		}
		on := false
		if i+1 < len(steps) {
			on = steps[i+1].on
		}
		s.mu.Lock()
		select {
		case <-stop:
			s.mu.Unlock()
			return
		default:
		}
		s.set(&s.buzzer, on)
		s.mu.Unlock()
	}
}

// stopBuzz cuts the pattern playing; s.mu is held.
func (s *Signal) stopBuzz() {
	if s.buzzStop != nil {
		close(s.buzzStop)
		s.buzzStop = nil
	}
}

// Health reports missing pins and the last failures; it does not touch the pins.
func (s *Signal) Health() device.Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.judge()
	if h.State != s.last.State || h.Reason != s.last.Reason {
		if h.State != s.last.State {
			s.since = s.clock.Now()
		}
		s.last = h
	}
	h.Since = s.since
	return h
}

func (s *Signal) judge() device.Health {
	if s.gate.name == "" && s.green.name == "" && s.red.name == "" && s.buzzer.name == "" {
		return device.Health{State: device.NotConfigured, Reason: "no pins configured"}
	}
	var errs []string
	state := device.OK
	for _, o := range s.outputs() {
		switch {
		case o.name == "":
			continue
		case o.pin == nil:
			errs = append(errs, fmt.Sprintf("%s pin %q not found (no GPIO line of that name)", o.role, o.name))
		case o.err != nil:
			errs = append(errs, o.err.Error())
		default:
			continue
		}
		if o == &s.gate {
			state = device.Down // a kiosk that cannot open its gate cannot let anyone through
		} else if state == device.OK {
			state = device.Degraded
		}
	}
	if len(errs) == 0 {
		return device.Health{State: device.OK}
	}
	return device.Health{State: state, Reason: strings.Join(errs, "; ")}
}

// SelfTest checks that every configured pin exists and can be driven to its safe level. It never
// opens the gate.
func (s *Signal) SelfTest(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("gpio: closed")
	}
	s.find(true)
	s.stopBuzz()
	s.gateGen++
	return s.safe()
}

// Close closes the gate, switches the LEDs and buzzer off and stops the timers.
func (s *Signal) Close() error {
	s.mu.Lock()
	s.closed = true
	s.gateGen++
	if s.gateTimer != nil {
		s.gateTimer.Stop()
	}
	s.stopBuzz()
	err := s.safe()
	s.mu.Unlock()
	s.buzzing.Wait()
	return err
}
