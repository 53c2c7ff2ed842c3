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
// parts it does not name come from the simulator (sim_*.go).
func openParts(ctx context.Context, cfg config.Config, rig *sim.Rig) (kiosk.Parts, error) {
	var (
		p    kiosk.Parts
		errs = make([]error, 5)
	)
	p.Reader, errs[0] = openPart(ctx, cfg, "reader", device.OpenCardReader, rig, simReader)
	p.Thermometer, errs[1] = openPart(ctx, cfg, "thermometer", device.OpenThermometer, rig, simThermometer)
	p.Scanner, errs[2] = openPart(ctx, cfg, "camera", device.OpenCodeScanner, rig, simCamera)
	p.Printer, errs[3] = openPart(ctx, cfg, "printer", device.OpenTicketPrinter, rig, simPrinter)
	p.Signal, errs[4] = openPart(ctx, cfg, "signal", device.OpenSignal, rig, simSignal)
	if err := errors.Join(errs...); err != nil {
		closeParts(p, slog.Default())
		return kiosk.Parts{}, fmt.Errorf("refusing to start: %w", err)
	}
	return p, nil
}

// openPart opens one part: the configured driver, else the simulated part in --sim, else none.
func openPart[T device.Part](ctx context.Context, cfg config.Config, section string,
	open func(context.Context, string, device.Params) (T, error),
	rig *sim.Rig, simulated func(context.Context, *sim.Rig) (T, error)) (T, error) {
	var (
		part T
		err  error
	)
	driver, params := cfg.Part(section)
	switch {
	case driver != "":
		part, err = open(ctx, driver, params)
	case rig != nil:
		part, err = simulated(ctx, rig)
	}
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
