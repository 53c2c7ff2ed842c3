package gpio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3/fs"

	"onepass/device"
)

// TestMain keeps the tests off real GPIO lines.
func TestMain(m *testing.M) {
	fs.Inhibit()
	os.Exit(m.Run())
}

// levels records every level written to the fake pins, with the fake clock's time.
type levels struct {
	mu    sync.Mutex
	clock *clockwork.FakeClock
	start time.Time
	log   []string
}

func (l *levels) add(name string, lv gpio.Level) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, fmt.Sprintf("%s@%s=%s", name, l.clock.Since(l.start), lv))
}

func (l *levels) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.log
	l.log = nil
	return out
}

// recPin is periph's gpiotest.Pin that also logs what it was told.
type recPin struct {
	*gpiotest.Pin
	rec  *levels
	fail error
}

func (p *recPin) Out(l gpio.Level) error {
	if p.fail != nil {
		return p.fail
	}
	p.rec.add(p.N, l)
	return p.Pin.Out(l)
}

type bench struct {
	clock *clockwork.FakeClock
	rec   *levels
	pins  map[string]*recPin
}

// newBench registers fake pins under unique names in periph's registry, as host.Init registers
// the board's lines, so the driver's gpioreg.ByName path is the one under test. A pin starts at
// the level a floating line might have: high.
func newBench(t *testing.T, names ...string) *bench {
	t.Helper()
	clock := clockwork.NewFakeClock()
	b := &bench{clock: clock, rec: &levels{clock: clock, start: clock.Now()}, pins: map[string]*recPin{}}
	for _, n := range names {
		full := t.Name() + "_" + n
		p := &recPin{Pin: &gpiotest.Pin{N: full, Num: -1, L: gpio.High}, rec: b.rec}
		if err := gpioreg.Register(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gpioreg.Unregister(full) })
		b.pins[n] = p
	}
	return b
}

func (b *bench) name(t *testing.T, short string) string { return t.Name() + "_" + short }

func (b *bench) level(short string) gpio.Level { return b.pins[short].Read() }

// short turns the recorded log into "pin@time=level" with the test prefix removed.
func (b *bench) take(t *testing.T) string {
	return strings.ReplaceAll(strings.Join(b.rec.take(), " "), t.Name()+"_", "")
}

func fullConfig(t *testing.T, b *bench) Config {
	return Config{Gate: b.name(t, "GATE"), Green: b.name(t, "GREEN"), Red: b.name(t, "RED"), Buzzer: b.name(t, "BUZZ")}
}

func TestStartsSafe(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(t *testing.T, b *bench) Config
		want string
	}{
		{"active high", fullConfig, "GATE@0s=Low GREEN@0s=Low RED@0s=Low BUZZ@0s=Low"},
		{"relay board active low", func(t *testing.T, b *bench) Config {
			c := fullConfig(t, b)
			c.GateActiveLow, c.BuzzerActiveLow = true, true
			return c
		}, "GATE@0s=High GREEN@0s=Low RED@0s=Low BUZZ@0s=High"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t, "GATE", "GREEN", "RED", "BUZZ")
			s := New(tt.cfg(t, b), Options{Clock: b.clock})
			defer s.Close()
			if got := b.take(t); got != tt.want {
				t.Errorf("at start: %s, want %s", got, tt.want)
			}
			if h := s.Health(); h.State != device.OK {
				t.Errorf("health %s", h)
			}
		})
	}
}

func TestGatePulse(t *testing.T) {
	b := newBench(t, "GATE", "GREEN", "RED", "BUZZ")
	cfg := fullConfig(t, b)
	cfg.GateActiveLow = true
	s := New(cfg, Options{Clock: b.clock})
	b.take(t)
	ctx := context.Background()
	if err := s.OpenGate(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if b.level("GATE") != gpio.Low {
		t.Fatal("gate not energised (active low)")
	}
	b.clock.Advance(999 * time.Millisecond)
	if b.level("GATE") != gpio.Low {
		t.Fatal("gate closed before its pulse ended")
	}
	b.clock.Advance(time.Millisecond)
	waitLevel(t, b, "GATE", gpio.High)
	if got := b.take(t); got != "GATE@0s=Low GATE@1s=High" {
		t.Errorf("pulse: %s", got)
	}

	// A second pulse during the first extends it; the first one's timer does not cut it short.
	s.OpenGate(ctx, time.Second)
	b.clock.Advance(600 * time.Millisecond)
	s.OpenGate(ctx, time.Second)
	b.clock.Advance(600 * time.Millisecond)
	if b.level("GATE") != gpio.Low {
		t.Fatal("the first pulse's timer closed the extended pulse")
	}
	b.clock.Advance(400 * time.Millisecond)
	waitLevel(t, b, "GATE", gpio.High)

	// Closing mid-pulse closes the gate at once, and nothing reopens it.
	s.OpenGate(ctx, 5*time.Second)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b.level("GATE") != gpio.High {
		t.Error("gate left open by Close")
	}
	b.clock.Advance(10 * time.Second)
	if err := s.OpenGate(ctx, time.Second); err == nil || b.level("GATE") != gpio.High {
		t.Errorf("gate opened after Close: %v", err)
	}
	if err := New(cfg, Options{Clock: b.clock}).OpenGate(ctx, 0); err == nil {
		t.Error("a zero pulse accepted")
	}
}

// waitLevel waits for a timer's goroutine (clockwork runs AfterFunc in its own goroutine).
func waitLevel(t *testing.T, b *bench, pin string, want gpio.Level) {
	t.Helper()
	for range 1000 {
		if b.level(pin) == want {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%s never went %s", pin, want)
}

func TestLEDs(t *testing.T) {
	b := newBench(t, "GATE", "GREEN", "RED", "BUZZ")
	s := New(fullConfig(t, b), Options{Clock: b.clock})
	defer s.Close()
	tests := []struct {
		c          device.LEDColour
		green, red gpio.Level
	}{
		{device.LEDGreen, gpio.High, gpio.Low},
		{device.LEDRed, gpio.Low, gpio.High},
		{device.LEDAmber, gpio.High, gpio.High},
		{device.LEDOff, gpio.Low, gpio.Low},
	}
	for _, tt := range tests {
		if err := s.SetLED(tt.c); err != nil {
			t.Fatal(err)
		}
		if b.level("GREEN") != tt.green || b.level("RED") != tt.red {
			t.Errorf("%s: green %s red %s", tt.c, b.level("GREEN"), b.level("RED"))
		}
	}
}

// play steps a pattern through on the fake clock, 50 ms at a time, and returns the buzzer's
// levels over time from its start.
func play(t *testing.T, b *bench, s *Signal, p device.BuzzPattern) string {
	t.Helper()
	b.take(t)
	b.rec.start = b.clock.Now()
	if err := s.Buzz(p); err != nil {
		t.Fatal(err)
	}
	var total time.Duration
	for _, st := range pattern(p) {
		total += st.d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for elapsed := time.Duration(0); elapsed < total; elapsed += 50 * time.Millisecond {
		// Advance only once the player waits on the clock, so no step is skipped.
		if err := b.clock.BlockUntilContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(50 * time.Millisecond)
	}
	s.buzzing.Wait()
	return b.take(t)
}

func TestBuzzerPatterns(t *testing.T) {
	b := newBench(t, "GATE", "GREEN", "RED", "BUZZ")
	s := New(fullConfig(t, b), Options{Clock: b.clock})
	defer s.Close()
	tests := []struct {
		p    device.BuzzPattern
		want string
	}{
		{device.BuzzShort, "BUZZ@0s=High BUZZ@150ms=Low"},
		{device.BuzzTriple, "BUZZ@0s=High BUZZ@100ms=Low BUZZ@200ms=High BUZZ@300ms=Low BUZZ@400ms=High BUZZ@500ms=Low"},
	}
	for _, tt := range tests {
		if got := play(t, b, s, tt.p); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.p, got, tt.want)
		}
	}
	// A new pattern cuts the one playing; BuzzNone silences.
	s.Buzz(device.BuzzTriple)
	s.Buzz(device.BuzzNone)
	s.buzzing.Wait()
	if b.level("BUZZ") != gpio.Low {
		t.Error("buzzer still on after BuzzNone")
	}
}

func TestNoPinsIsNotAnError(t *testing.T) {
	s, err := device.OpenSignal(context.Background(), "gpio", device.Params{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := errors.Join(s.OpenGate(ctx, time.Second), s.SetLED(device.LEDGreen), s.Buzz(device.BuzzTriple), s.SelfTest(ctx)); err != nil {
		t.Errorf("signalling without pins: %v", err)
	}
	if h := s.Health(); h.State != device.NotConfigured || h.Reason != "no pins configured" {
		t.Errorf("health %s", h)
	}
}

func TestConfig(t *testing.T) {
	b := newBench(t, "GATE", "GREEN")
	tests := []struct {
		params device.Params
		err    string
	}{
		{device.Params{"gate": b.name(t, "GATE"), "gate_active_low": true, "green": b.name(t, "GREEN")}, ""},
		{device.Params{"gate": b.name(t, "GATE"), "gate_pulse": "1s"}, `unknown key "gate_pulse"`},
		{device.Params{"gate": 17}, "bad value"},
	}
	for _, tt := range tests {
		s, err := device.OpenSignal(context.Background(), "gpio", tt.params)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%v: %v", tt.params, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%v: %v, want %q", tt.params, err, tt.err)
		}
		if err == nil {
			if h := s.Health(); h.State != device.OK {
				t.Errorf("%v: health %s", tt.params, h)
			}
			s.Close()
		}
	}
}

func TestMissingAndFailingPins(t *testing.T) {
	b := newBench(t, "GREEN", "RED", "BUZZ")
	cfg := fullConfig(t, b) // no GATE pin registered
	s := New(cfg, Options{Clock: b.clock})
	defer s.Close()
	h := s.Health()
	if h.State != device.Down || !strings.Contains(h.Reason, `gate pin "`+cfg.Gate+`" not found`) {
		t.Fatalf("missing gate: %s", h)
	}
	if err := s.OpenGate(context.Background(), time.Second); err == nil {
		t.Error("OpenGate without a gate pin succeeded")
	}
	if err := s.SelfTest(context.Background()); err == nil {
		t.Error("self-test passed without a gate pin")
	}
	// The line appears (a late udev rule, the simulator): found at the next look-up.
	p := &recPin{Pin: &gpiotest.Pin{N: cfg.Gate, Num: -1}, rec: b.rec}
	gpioreg.Register(p)
	defer gpioreg.Unregister(cfg.Gate)
	b.clock.Advance(relookup)
	if err := s.OpenGate(context.Background(), time.Second); err != nil {
		t.Fatalf("gate after it appeared: %v", err)
	}
	if h := s.Health(); h.State != device.OK {
		t.Errorf("health %s", h)
	}

	// A pin that refuses to be driven: the LED is degraded, the gate still works.
	b.pins["RED"].fail = errors.New("line busy")
	if err := s.SetLED(device.LEDRed); err == nil {
		t.Error("failed LED write not reported")
	}
	if h := s.Health(); h.State != device.Degraded || !strings.Contains(h.Reason, "red LED pin") {
		t.Errorf("failing LED: %s", h)
	}
	b.pins["RED"].fail = nil
	s.SetLED(device.LEDOff)
	if h := s.Health(); h.State != device.OK {
		t.Errorf("after the LED recovered: %s", h)
	}
}
