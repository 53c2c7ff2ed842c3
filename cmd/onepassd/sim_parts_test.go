package main

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"

	"onepass/device"
	"onepass/drivers/sim"
	"onepass/kiosk"
	"onepass/ui/api"
)

// eventually polls cond every 50 ms for up to 10 s: the simulated parts run on the real clock.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never: %s", what)
}

// `onepassctl sim temp 36.6` through the real mlx90614 driver: the forehead the emulator shows is
// what the default compensation turns back into 36.6 °C.
func TestSimThermometerIsTheRealDriver(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rig := sim.NewRig()
	th, err := simThermometer(ctx, rig)
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	if h := th.Health(); h.State != device.OK {
		t.Errorf("health %s", h)
	}
	m := kiosk.DefaultMeasure()
	simRig{rig}.Person(36.6) // what POST /api/sim/temp does (ui/localapi.go)
	var body, object float64
	eventually(t, "the reading settles at 36.6 °C", func() bool {
		r, err := th.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		object, body = r.ObjectC, m.Body(r.ObjectC, r.AmbientC)
		return math.Abs(body-36.6) < 0.07
	})
	if object > 35.5 || object < 34 {
		t.Errorf("the sensor saw %.2f °C: a forehead, not the body temperature", object)
	}

	// `onepassctl sim fault thermometer down`: the emulated sensor stops answering and the
	// driver's own health says so.
	if err := rig.Fault("thermometer", device.Health{State: device.Down, Reason: "unplugged"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the driver reports the sensor down", func() bool {
		th.Read(ctx)
		return th.Health().State == device.Down
	})
	rig.Fault("thermometer", device.Health{State: device.OK})
	eventually(t, "the driver recovers", func() bool {
		_, err := th.Read(ctx)
		return err == nil
	})
}

func TestSimSignalReadsThePins(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rig := sim.NewRig()
	s, err := simSignal(ctx, rig)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	state := func() api.SignalState { return simRig{rig}.State().Signal } // GET /api/sim
	// A pass, as the lane signals it.
	if err := errors.Join(s.SetLED(device.LEDGreen), s.Buzz(device.BuzzShort), s.OpenGate(ctx, 200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if st := state(); st.GatePulses != 1 || st.LED != "green" || st.Buzz != "short" {
		t.Errorf("after a pass: %+v", st)
	}
	eventually(t, "the gate closes after its pulse", func() bool { return rig.Signal.State().GatePulses == 1 && pinLow(simGatePin) })
	// A deny: three beeps make "triple" once the third one sounds.
	time.Sleep(2 * beepGap)
	s.SetLED(device.LEDRed)
	s.Buzz(device.BuzzTriple)
	eventually(t, "three beeps", func() bool { return state().Buzz == "triple" })
	if st := state(); st.LED != "red" || st.GatePulses != 1 {
		t.Errorf("after a deny: %+v", st)
	}
	// `onepassctl sim fault signal down`: the lines refuse and the driver reports the gate down.
	rig.Fault("signal", device.Health{State: device.Down})
	eventually(t, "the driver reports the gate down", func() bool {
		s.SetLED(device.LEDOff)
		s.OpenGate(ctx, time.Second)
		return s.Health().State == device.Down
	})
}

func pinLow(name string) bool {
	p := gpioreg.ByName(name)
	return p != nil && p.Read() == gpio.Low
}
