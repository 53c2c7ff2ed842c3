package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c/i2creg"

	"onepass/device"
	"onepass/drivers/mlx90614"
	"onepass/drivers/mlx90614/mlxsim"
	"onepass/drivers/sim"
	"onepass/kiosk"
)

// simI2CBus is the periph bus name the emulated sensor is registered under in --sim; a real
// board's buses are "/dev/i2c-N", so the names never meet.
const simI2CBus = "sim-i2c"

// simRipple is the emulated sensor's noise in --sim: deterministic, ±0.04 °C on the forehead
// reading, so the stability check sees jitter and the screen still shows exactly the temperature
// `onepassctl sim temp` asked for (the window's median cancels it).
var simRipple = []float64{0, 0.04, -0.04, 0.02, -0.02}

// simThermometer gives --sim its thermometer: the real mlx90614 driver, opened by name through
// i2creg like a kiosk's /dev/i2c-1, talking to an emulated MLX90614. `onepassctl sim temp C` puts a
// person of body temperature C in front of the emulator; the forehead it shows is the one the
// default skin-to-body compensation maps back to C, so a site's own calibration in the config
// file shows as the shift it causes.
func simThermometer(ctx context.Context, rig *sim.Rig) (device.Thermometer, error) {
	sensor := mlxsim.New(mlxsim.Options{Skin: kiosk.DefaultMeasure().ObjectFor, Ripple: simRipple})
	i2creg.Unregister(simI2CBus) // from an earlier serve in the same process (tests)
	unregister, err := sensor.Register(simI2CBus)
	if err != nil {
		return nil, fmt.Errorf("emulated I2C bus: %w", err)
	}
	th, err := device.OpenThermometer(ctx, "mlx90614", device.Params{"bus": simI2CBus, "address": mlx90614.DefaultAddr})
	if err != nil {
		unregister()
		return nil, err
	}
	rig.People = sensor
	go func() {
		watchFaults(ctx, clockwork.NewRealClock(), rig.Thermometer.Health, func(s device.HealthState) { thermoFault(sensor, s) })
		unregister()
	}()
	return th, nil
}

// thermoFault turns `onepassctl sim fault thermometer …` into what a failing sensor does on the
// bus, so the driver's own health reporting is what the kiosk shows.
func thermoFault(sensor *mlxsim.Sensor, s device.HealthState) {
	switch s {
	case device.Down:
		sensor.Inject(mlxsim.NACK, -1) // unplugged
	case device.Degraded:
		sensor.Inject(mlxsim.BadPEC, 1) // a noisy line: one corrupted answer per check, retried
	default:
		sensor.Clear()
	}
}

// watchFaults applies the health the simulator's fault command set on the rig's in-memory part
// (which the lane no longer uses) to the far end of the real driver, four times a second.
func watchFaults(ctx context.Context, clock clockwork.Clock, health func() device.Health, apply func(device.HealthState)) {
	tick := clock.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.Chan():
			apply(health().State)
		}
	}
}
