package sim

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"onepass/device"
	"onepass/drivers/escpos/escpossim"
	"onepass/drivers/idcard/idcardsim"
)

// eventually polls cond every 20 ms for up to 20 s: the simulated parts run on the real clock.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func open(t *testing.T, cfg Config) (*Rig, Parts) {
	t.Helper()
	rig := NewRig()
	p, err := Open(context.Background(), rig, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return rig, p
}

// Open makes only the parts asked for.
func TestOpenOnlyWhatIsAsked(t *testing.T) {
	_, p := open(t, Config{Signal: true})
	if p.Signal == nil || p.Reader != nil || p.Thermometer != nil || p.Scanner != nil || p.Printer != nil {
		t.Errorf("parts %+v, want the signal only", p)
	}
}

// `onepassctl sim card` goes through the reader simulator on a pseudo-terminal and the real
// ga467 driver: the card comes back as the driver parsed it from the chip's text block. A fault
// set on the rig reaches the simulator at once (no polling), and the driver reports it.
func TestReaderIsTheRealDriver(t *testing.T) {
	rig, p := open(t, Config{Reader: true})
	r := p.Reader
	next := func() device.Card {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return c
	}
	rig.Cards.Place(idcardsim.CardRequest{ID: "110101199003074477", Name: "张三"}.Card(time.Now()))
	c := next()
	if c.Type != device.CardResident || c.Name != "张三" || c.Number != "110101199003074477" || c.Sex != "男" ||
		c.Nation != "汉" || c.Birth != "19900307" || len(c.Raw) != 256 || len(c.Photo) != 1024 || !strings.HasPrefix(c.Reader, "ga467:/dev/pts/") {
		t.Errorf("card %#v", c)
	}
	rig.Cards.Place(idcardsim.CardRequest{ID: "810000199001010019", Name: "陈大文", Type: "hkmotw", ValidTo: "长期"}.Card(time.Now()))
	if c := next(); c.Type != device.CardHKMOTW || c.Number != "810000199001010019" || c.ValidTo != "长期" {
		t.Errorf("permit %#v", c)
	}

	if err := rig.Fault("reader", device.Health{State: device.Down, Reason: "unplugged"}); err != nil {
		t.Fatal(err)
	}
	if f := rig.Cards.(*idcardsim.Sim).Faults(); f.SAMFailure == 0 {
		t.Errorf("the fault did not reach the simulator at once: %+v", f)
	}
	eventually(t, "the driver reports the reader down", func() bool { return r.Health().State == device.Down })
	rig.Fault("reader", device.Health{State: device.OK})
	eventually(t, "the driver recovers", func() bool { return r.Health().State == device.OK })
	rig.Cards.Remove()
	rig.Cards.Place(idcardsim.CardRequest{ID: "11010519491231002X", Name: "王五"}.Card(time.Now()))
	if c := next(); c.Number != "11010519491231002X" {
		t.Errorf("after recovery: %#v", c)
	}
}

// `onepassctl sim temp 36.6` through the real mlx90614 driver: the forehead the emulator shows is
// what Skin makes of 36.6 °C, and a fault on the rig is what the sensor does on the bus.
func TestThermometerIsTheRealDriver(t *testing.T) {
	skin := func(bodyC, ambientC float64) float64 { return bodyC - 2 } // a forehead 2 °C below the body
	rig, p := open(t, Config{Thermometer: true, Skin: skin})
	th := p.Thermometer
	ctx := context.Background()
	if h := th.Health(); h.State != device.OK {
		t.Errorf("health %s", h)
	}
	rig.People.Person(36.6)
	eventually(t, "the reading settles at the forehead of 36.6 °C", func() bool {
		r, err := th.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return math.Abs(r.ObjectC-34.6) < 0.07
	})
	for _, tt := range []struct {
		state device.HealthState
		what  string
	}{{device.Down, "the driver reports the sensor down"}, {device.OK, "the driver recovers"},
		{device.Degraded, "the driver reports the line degraded"}, {device.OK, "the driver recovers"}} {
		if err := rig.Fault("thermometer", device.Health{State: tt.state}); err != nil {
			t.Fatal(err)
		}
		eventually(t, tt.what, func() bool {
			th.Read(ctx)
			time.Sleep(noisyEvery - 20*time.Millisecond) // the lane's pace: one read per corrupted answer
			return th.Health().State == tt.state
		})
	}
}

// The signal drives periph's test pins through the real gpio driver; what the pins did is what
// the rig reports.
func TestSignalReadsThePins(t *testing.T) {
	rig, p := open(t, Config{Signal: true})
	s := p.Signal
	ctx := context.Background()
	if err := errors.Join(s.SetLED(device.LEDGreen), s.Buzz(device.BuzzShort), s.OpenGate(ctx, 200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if st := rig.Signal.State(); st.GatePulses != 1 || st.LED != "green" || st.Buzz != "short" {
		t.Errorf("after a pass: %+v", st)
	}
	eventually(t, "the gate closes after its pulse", func() bool { return rig.Signal.State().GatePulses == 1 && pinLow(GatePin) })
	time.Sleep(2 * BeepGap)
	s.SetLED(device.LEDRed)
	s.Buzz(device.BuzzTriple)
	eventually(t, "three beeps", func() bool { return rig.Signal.State().Buzz == "triple" })
	if st := rig.Signal.State(); st.LED != "red" || st.GatePulses != 1 {
		t.Errorf("after a deny: %+v", st)
	}
	// `onepassctl sim fault signal down`: the lines refuse and the driver reports the gate down.
	rig.Fault("signal", device.Health{State: device.Down})
	eventually(t, "the driver reports the gate down", func() bool {
		s.SetLED(device.LEDOff)
		s.OpenGate(ctx, time.Second)
		return s.Health().State == device.Down
	})
	p.Close()
	if gpioreg.ByName(GatePin) != nil {
		t.Error("the pins stay registered after Close")
	}
}

// A printer fault sets the simulator's paper, once per change of the fault.
func TestPrinterFaultSetsThePaper(t *testing.T) {
	rig, p := open(t, Config{Printer: true})
	pr := p.Printer.(*PTYPrinter)
	paper := func() string { return string(pr.Simulator().Snapshot().Paper) }
	for _, tt := range []struct {
		state device.HealthState
		paper string
	}{{device.Down, "out"}, {device.Degraded, "near_end"}, {device.OK, "ok"}} {
		rig.Fault("printer", device.Health{State: tt.state})
		if got := paper(); got != tt.paper {
			t.Errorf("fault %s: paper %q, want %q", tt.state, got, tt.paper)
		}
	}
	pr.sim.SetPaper(escpossim.PaperOut) // `onepassctl sim printer paper out`
	rig.Fault("printer", device.Health{State: device.OK})
	if got := paper(); got != "out" {
		t.Errorf("a repeated ok fault refilled the paper set by hand: %q", got)
	}
}

func pinLow(name string) bool {
	p := gpioreg.ByName(name)
	return p != nil && p.Read() == gpio.Low
}
