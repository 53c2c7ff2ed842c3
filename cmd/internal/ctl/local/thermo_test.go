package local

import (
	"bytes"
	"strings"
	"testing"

	"onepass/drivers/mlx90614/mlxsim"
)

// The thermo commands against the emulated sensor, registered as a periph bus the way host.Init
// registers /dev/i2c-1, so the command's own open path runs.
func TestThermo(t *testing.T) {
	sensor := mlxsim.New(mlxsim.Options{AmbientC: 23, Tau: -1})
	unregister, err := sensor.Register("mlxsim-ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	sensor.SetObject(34.81) // a reference source at 35.00 °C that the sensor reads 0.19 °C low
	tests := []struct {
		args []string
		code int
		out  []string
	}{
		{[]string{"thermo", "emissivity", "--bus", "mlxsim-ctl"}, 0, []string{"emissivity 1.000 (0xFFFF)"}},
		{[]string{"thermo", "emissivity", "--bus", "mlxsim-ctl", "--address", "0x5A", "--set", "0.98"}, 0,
			[]string{"emissivity 1.000 (0xFFFF)", "emissivity now 0.980 (0xFAE0); power-cycle"}},
		{[]string{"thermo", "emissivity", "--bus", "mlxsim-ctl", "--set", "0.98"}, 0, []string{"already set"}},
		{[]string{"thermo", "read", "--bus", "mlxsim-ctl", "--samples", "3", "--interval", "1ms", "--reference", "35"}, 0,
			[]string{"object  34.81 °C  ambient  22.99 °C", "median of 3: object 34.81 °C", "set [measure] offset_c = 0.19"}},
		{[]string{"thermo", "read", "--bus", "mlxsim-ctl", "--address", "0x5B", "--samples", "1"}, 1, []string{"no valid reading", "NACK"}},
		{[]string{"thermo", "emissivity", "--bus", "no-such-bus"}, 1, []string{"open I2C bus no-such-bus", "see the README"}},
		{[]string{"thermo", "emissivity", "--set", "2"}, 2, []string{"want a number from 0.1 to 1.0"}},
		{[]string{"thermo", "emissivity", "--address", "0x80"}, 2, []string{"7-bit address"}},
		{[]string{"thermo", "read", "--samples", "0"}, 2, []string{"thermo read"}},
		{[]string{"thermo", "calibrate"}, 2, []string{`unknown command "calibrate"`}},
		{[]string{"thermo"}, 2, []string{"emissivity, read"}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		code := run(tt.args, &out, &out)
		for _, want := range tt.out {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, want, out.String())
			}
		}
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s", tt.args, code, tt.code, out.String())
		}
	}
	if got := sensor.EEPROM(0x04); got != 0xFAE0 {
		t.Errorf("emissivity cell 0x%04X after --set 0.98", got)
	}
}
