package sim

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"onepass/device"
)

// Pin names of the simulated lane's outputs in periph's registry; a board's lines are named
// GPIOn or by its device tree, never like these.
const (
	GatePin   = "SIM_GATE"
	GreenPin  = "SIM_LED_GREEN"
	RedPin    = "SIM_LED_RED"
	BuzzerPin = "SIM_BUZZER"
)

// openSignal is the real gpio driver, opened by name, driving periph's gpiotest pins. What the
// pins do is read back into the rig's in-memory signal, so `GET /api/sim` reports gate pulses,
// the LED colour and the buzzer pattern as the pins showed them, not as the lane asked for them.
func openSignal(ctx context.Context, rig *Rig) (device.Signal, error) {
	obs := &pinObserver{rig: rig.Signal}
	pins := map[string]*simPin{}
	for _, name := range []string{GatePin, GreenPin, RedPin, BuzzerPin} {
		p := &simPin{Pin: &gpiotest.Pin{N: name, Num: -1}, obs: obs}
		gpioreg.Unregister(name) // from an earlier Open in the same process (tests)
		if err := gpioreg.Register(p); err != nil {
			return nil, err
		}
		pins[name] = p
	}
	obs.pins = pins
	s, err := device.OpenSignal(ctx, "gpio", device.Params{
		"gate": GatePin, "green": GreenPin, "red": RedPin, "buzzer": BuzzerPin,
	})
	if err != nil {
		unregisterPins(pins)
		return nil, err
	}
	ps := &pinSignal{Signal: s, pins: pins}
	rig.OnFault("signal", ps)
	return ps, nil
}

func unregisterPins(pins map[string]*simPin) {
	for name := range pins {
		gpioreg.Unregister(name)
	}
}

// pinSignal is the driver with its pins.
type pinSignal struct {
	device.Signal
	pins map[string]*simPin
}

// Fault implements FaultSink: down, every line refuses; degraded, the LEDs and buzzer do, the
// gate still works.
func (s *pinSignal) Fault(st device.HealthState) {
	for name, p := range s.pins {
		p.fail.Store(st == device.Down || (st == device.Degraded && name != GatePin))
	}
}

// Close closes the driver, then takes the pins out of the registry.
func (s *pinSignal) Close() error {
	err := s.Signal.Close()
	unregisterPins(s.pins)
	return err
}

// simPin is a gpiotest pin that tells the observer what it was set to, and can refuse.
type simPin struct {
	*gpiotest.Pin
	obs  *pinObserver
	fail atomic.Bool
}

var errLineBusy = errors.New("gpio line busy (simulated fault)")

// Out implements gpio.PinOut.
func (p *simPin) Out(l gpio.Level) error {
	if p.fail.Load() {
		return errLineBusy
	}
	prev := p.Read()
	if err := p.Pin.Out(l); err != nil {
		return err
	}
	p.obs.changed(p.N, prev, l)
	return nil
}

// pinObserver reads the pins back into the in-memory signal the simulator reports.
type pinObserver struct {
	rig  *Signal
	pins map[string]*simPin

	mu       sync.Mutex
	lastFall time.Time
	beeps    int
}

// BeepGap separates buzzer patterns: the beeps of one are 100 ms apart.
const BeepGap = 300 * time.Millisecond

func (o *pinObserver) changed(name string, prev, now gpio.Level) {
	switch name {
	case GatePin:
		if prev == gpio.Low && now == gpio.High {
			o.rig.OpenGate(context.Background(), 0) // counted when the relay energises
		}
	case GreenPin, RedPin:
		green := o.pins[GreenPin].Read() == gpio.High
		red := o.pins[RedPin].Read() == gpio.High
		c := device.LEDOff
		switch {
		case green && red:
			c = device.LEDAmber
		case green:
			c = device.LEDGreen
		case red:
			c = device.LEDRed
		}
		o.rig.SetLED(c)
	case BuzzerPin:
		o.mu.Lock()
		defer o.mu.Unlock()
		switch {
		case prev == gpio.High && now == gpio.Low:
			o.lastFall = time.Now()
		case prev == gpio.Low && now == gpio.High:
			if time.Since(o.lastFall) > BeepGap {
				o.beeps = 0
			}
			o.beeps++
			switch o.beeps {
			case 1:
				o.rig.Buzz(device.BuzzShort)
			case 3:
				o.rig.Buzz(device.BuzzTriple)
			}
		}
	}
}
