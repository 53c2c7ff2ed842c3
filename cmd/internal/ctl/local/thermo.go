package local

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"onepass/cmd/internal/ctl"
	"slices"
	"strconv"
	"time"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"onepass/drivers/mlx90614"
)

// thermoCommand talks to an MLX90614 directly on its I2C bus, without the daemon: the technician's
// tool for the sensor's EEPROM and for calibration readings. The daemon itself never writes the
// sensor's EEPROM.
func thermoCommand(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return ctl.UsageError{Msg: "thermo: which command? emissivity, read"}
	}
	fs := flag.NewFlagSet("thermo "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bus := fs.String("bus", mlx90614.DefaultBus, "")
	addr := mlx90614.Address(mlx90614.DefaultAddr)
	fs.Var(&addr, "address", "")
	switch args[0] {
	case "emissivity":
		set := fs.String("set", "", "")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
			return ctl.UsageError{Msg: "thermo emissivity [--bus B] [--address A] [--set E]: " + flagErr(err, fs)}
		}
		var e float64
		if *set != "" {
			v, err := strconv.ParseFloat(*set, 64)
			if err != nil || v < 0.1 || v > 1 {
				return ctl.UsageError{Msg: fmt.Sprintf("thermo emissivity --set %q: want a number from 0.1 to 1.0", *set)}
			}
			e = v
		}
		d, closeBus, err := openSensor(*bus, addr)
		if err != nil {
			return err
		}
		defer closeBus()
		return emissivity(d, e, stdout)
	case "read":
		samples := fs.Int("samples", 8, "")
		every := fs.Duration("interval", 250*time.Millisecond, "")
		ref := fs.String("reference", "", "")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || *samples < 1 || *samples > 1000 || *every < 0 {
			return ctl.UsageError{Msg: "thermo read [--bus B] [--address A] [--samples N] [--interval D] [--reference C]: " + flagErr(err, fs)}
		}
		var refC *float64
		if *ref != "" {
			v, err := strconv.ParseFloat(*ref, 64)
			if err != nil || v < 0 || v > 100 {
				return ctl.UsageError{Msg: fmt.Sprintf("thermo read --reference %q: want the reference source's temperature in °C", *ref)}
			}
			refC = &v
		}
		d, closeBus, err := openSensor(*bus, addr)
		if err != nil {
			return err
		}
		defer closeBus()
		return calibrationRead(d, *samples, *every, refC, stdout)
	}
	return ctl.UsageError{Msg: fmt.Sprintf("thermo: unknown command %q (emissivity, read)", args[0])}
}

func flagErr(err error, fs *flag.FlagSet) string {
	if err != nil {
		return err.Error()
	}
	if fs.NArg() > 0 {
		return fmt.Sprintf("unexpected %q", fs.Arg(0))
	}
	return "bad value"
}

// openSensor opens the bus by its periph name ("/dev/i2c-1", "I2C1", "1") after loading the host's
// drivers.
func openSensor(bus string, addr mlx90614.Address) (*mlx90614.Dev, func(), error) {
	if _, err := host.Init(); err != nil {
		return nil, nil, fmt.Errorf("periph host init: %w", err)
	}
	b, err := i2creg.Open(bus)
	if err != nil {
		return nil, nil, fmt.Errorf("open I2C bus %s: %w (is I2C enabled, and may this user open it? see the README, \"Thermometer\")", bus, err)
	}
	d, err := mlx90614.New(b, uint16(addr), nil)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return d, func() { b.Close() }, nil
}

func emissivity(d *mlx90614.Dev, set float64, stdout io.Writer) error {
	e, w, err := d.Emissivity()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "emissivity %.3f (0x%04X) on %s\n", e, w, d)
	if set == 0 {
		return nil
	}
	if mlx90614.EmissivityWord(set) == w {
		fmt.Fprintln(stdout, "already set; nothing written")
		return nil
	}
	if err := d.SetEmissivity(set); err != nil {
		return fmt.Errorf("set emissivity: %w", err)
	}
	e, w, err = d.Emissivity()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "emissivity now %.3f (0x%04X); power-cycle the sensor before it measures with it,\n", e, w)
	fmt.Fprintln(stdout, "then recalibrate (README, \"Calibrating the thermometer\")")
	return nil
}

// calibrationRead takes samples of the object and die temperatures and prints their medians, and
// with a reference source's temperature the [measure] offset_c that makes the sensor agree with it.
func calibrationRead(d *mlx90614.Dev, n int, every time.Duration, refC *float64, stdout io.Writer) error {
	var obj, amb []float64
	var errs []error
	for i := range n {
		if i > 0 {
			time.Sleep(every)
		}
		s, err := d.Sense()
		if err != nil {
			errs = append(errs, err)
			fmt.Fprintf(stdout, "%3d  %v\n", i+1, err)
			continue
		}
		obj, amb = append(obj, s.Object.Celsius()), append(amb, s.Ambient.Celsius())
		fmt.Fprintf(stdout, "%3d  object %6.2f °C  ambient %6.2f °C\n", i+1, s.Object.Celsius(), s.Ambient.Celsius())
	}
	if len(obj) == 0 {
		return fmt.Errorf("no valid reading: %w", errors.Join(errs...))
	}
	mo, ma := median(obj), median(amb)
	fmt.Fprintf(stdout, "median of %d: object %.2f °C, ambient %.2f °C (spread %.2f °C)\n", len(obj), mo, ma, slices.Max(obj)-slices.Min(obj))
	if refC != nil {
		fmt.Fprintf(stdout, "reference %.2f °C: set [measure] offset_c = %.2f\n", *refC, *refC-mo)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d readings failed", len(errs), n)
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
