package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"onepass/device"
	"onepass/drivers/sim"
)

// Pin names of the simulated lane's outputs in periph's registry; a board's lines are named
// GPIOn or by its device tree, never like these.
const (
	simGatePin   = "SIM_GATE"
	simGreenPin  = "SIM_LED_GREEN"
	simRedPin    = "SIM_LED_RED"
	simBuzzerPin = "SIM_BUZZER"
)

// simSignal gives --sim its signal: the real gpio driver, opened by name, driving periph's
// gpiotest pins. What the pins do is read back into the rig's in-memory signal, so
// `GET /api/sim` reports gate pulses, the LED colour and the buzzer pattern as the pins showed
// them, not as the lane asked for them.
func simSignal(ctx context.Context, rig *sim.Rig) (device.Signal, error) {
	obs := &pinObserver{rig: rig.Signal, clock: clockwork.NewRealClock()}
	pins := map[string]*simPin{}
	for _, name := range []string{simGatePin, simGreenPin, simRedPin, simBuzzerPin} {
		p := &simPin{Pin: &gpiotest.Pin{N: name, Num: -1}, obs: obs}
		gpioreg.Unregister(name) // from an earlier serve in the same process (tests)
		if err := gpioreg.Register(p); err != nil {
			return nil, err
		}
		pins[name] = p
	}
	obs.pins = pins
	unregister := func() {
		for name := range pins {
			gpioreg.Unregister(name)
		}
	}
	s, err := device.OpenSignal(ctx, "gpio", device.Params{
		"gate": simGatePin, "green": simGreenPin, "red": simRedPin, "buzzer": simBuzzerPin,
	})
	if err != nil {
		unregister()
		return nil, err
	}
	go func() {
		watchFaults(ctx, obs.clock, rig.Signal.Health, func(st device.HealthState) {
			for name, p := range pins {
				// down: every line refuses; degraded: the LEDs and buzzer, the gate still works.
				p.fail.Store(st == device.Down || (st == device.Degraded && name != simGatePin))
			}
		})
		unregister()
	}()
	return s, nil
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
	rig   *sim.Signal
	clock clockwork.Clock
	pins  map[string]*simPin

	mu       sync.Mutex
	lastFall time.Time
	beeps    int
}

// beepGap separates buzzer patterns: the beeps of one are 100 ms apart.
const beepGap = 300 * time.Millisecond

func (o *pinObserver) changed(name string, prev, now gpio.Level) {
	switch name {
	case simGatePin:
		if prev == gpio.Low && now == gpio.High {
			o.rig.OpenGate(context.Background(), 0) // counted when the relay energises
		}
	case simGreenPin, simRedPin:
		green := o.pins[simGreenPin].Read() == gpio.High
		red := o.pins[simRedPin].Read() == gpio.High
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
	case simBuzzerPin:
		o.mu.Lock()
		defer o.mu.Unlock()
		switch {
		case prev == gpio.High && now == gpio.Low:
			o.lastFall = o.clock.Now()
		case prev == gpio.Low && now == gpio.High:
			if o.clock.Since(o.lastFall) > beepGap {
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
