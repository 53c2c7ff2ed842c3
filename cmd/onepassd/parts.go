package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"onepass/cmd/internal/config"
	"onepass/device"
	"onepass/drivers/sim"
	"onepass/kiosk"
)

// openParts opens every part the configuration names with its registered driver; in --sim the
// parts it does not name come from the simulator (drivers/sim), real drivers on simulated lines.
func openParts(ctx context.Context, cfg config.Config, rig *sim.Rig) (kiosk.Parts, error) {
	var (
		p    kiosk.Parts
		errs = make([]error, 6)
	)
	p.Reader, errs[0] = openPart(ctx, cfg, "reader", device.OpenCardReader)
	p.Thermometer, errs[1] = openPart(ctx, cfg, "thermometer", device.OpenThermometer)
	p.Scanner, errs[2] = openPart(ctx, cfg, "camera", device.OpenCodeScanner)
	p.Printer, errs[3] = openPart(ctx, cfg, "printer", device.OpenTicketPrinter)
	p.Signal, errs[4] = openPart(ctx, cfg, "signal", device.OpenSignal)
	if rig != nil {
		unnamed := func(section string) bool { d, _ := cfg.Part(section); return d == "" }
		// The person the emulated thermometer shows reads back, through the default
		// compensation, as the temperature `onepassctl sim temp` asked for; a site's own
		// calibration in the file shows as the shift it causes.
		want := sim.Config{Reader: unnamed("reader"), Thermometer: unnamed("thermometer"), Camera: unnamed("camera"),
			Printer: unnamed("printer"), Signal: unnamed("signal"), Skin: kiosk.DefaultMeasure().ObjectFor}
		var sp sim.Parts
		if sp, errs[5] = sim.Open(ctx, rig, want); errs[5] == nil {
			p.Reader = configuredOr(p.Reader, sp.Reader)
			p.Thermometer = configuredOr(p.Thermometer, sp.Thermometer)
			p.Scanner = configuredOr(p.Scanner, sp.Scanner)
			p.Printer = configuredOr(p.Printer, sp.Printer)
			p.Signal = configuredOr(p.Signal, sp.Signal)
		}
	}
	if err := errors.Join(errs...); err != nil {
		closeParts(p, slog.Default())
		return kiosk.Parts{}, fmt.Errorf("refusing to start: %w", err)
	}
	return p, nil
}

// configuredOr is the configured part, else the simulated one.
func configuredOr[T device.Part](configured, simulated T) T {
	if any(configured) != nil {
		return configured
	}
	return simulated
}

// openPart opens one part with the driver its section names; none when the section is absent.
func openPart[T device.Part](ctx context.Context, cfg config.Config, section string,
	open func(context.Context, string, device.Params) (T, error)) (T, error) {
	var part T
	driver, params := cfg.Part(section)
	if driver == "" {
		return part, nil
	}
	part, err := open(ctx, driver, params)
	if err != nil {
		return part, fmt.Errorf("[%s]: %w", section, err)
	}
	return part, nil
}

// closeParts closes the signal first, so the gate is closed before anything else goes.
func closeParts(p kiosk.Parts, logger *slog.Logger) {
	parts := []struct {
		name string
		part device.Part
	}{{"signal", p.Signal}, {"reader", p.Reader}, {"thermometer", p.Thermometer}, {"camera", p.Scanner}, {"printer", p.Printer}}
	for _, x := range parts {
		if x.part == nil {
			continue
		}
		if err := x.part.Close(); err != nil {
			logger.Warn("close part", "part", x.name, "err", err)
		}
	}
}
