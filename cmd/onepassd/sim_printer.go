package main

import (
	"context"
	"fmt"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/drivers/escpos/escpossim"
	"onepass/drivers/sim"
)

// simPrinter gives --sim its printer: the real escpos driver, opened by name through the
// registry on the tty of a printer simulator (escpossim) that parses the ESC/POS on the far end
// of a pseudo-terminal, answers the status requests and renders each ticket. `onepassctl sim
// fault printer down` runs it out of paper (degraded: paper near end, ok: a new roll);
// GET /api/sim/printer shows what it printed and /api/sim/printer/last.png the last ticket.
func simPrinter(ctx context.Context, rig *sim.Rig) (device.TicketPrinter, error) {
	s := escpossim.New()
	p, err := s.OpenPTY()
	if err != nil {
		return nil, fmt.Errorf("printer simulator: %w", err)
	}
	pr, err := device.OpenTicketPrinter(ctx, "escpos", device.Params{"port": p.Path(), "baud": 115200, "poll": "2s"})
	if err != nil {
		p.Close()
		return nil, err
	}
	last := rig.Printer.Health().State
	go watchFaults(ctx, clockwork.NewRealClock(), rig.Printer.Health, func(st device.HealthState) {
		if st == last {
			return // only a change of the fault: `sim printer paper …` sets the paper directly
		}
		last = st
		switch st {
		case device.Down:
			s.SetPaper(escpossim.PaperOut)
		case device.Degraded:
			s.SetPaper(escpossim.PaperNearEnd)
		default:
			s.SetPaper(escpossim.PaperOK)
		}
	})
	r, _ := escpossim.NewRenderer("") // without a CJK font it draws boxes: still a picture
	return &ptyPrinter{TicketPrinter: pr, pty: p, sim: s, render: r}, nil
}

// ptyPrinter closes the simulator with the driver, the driver first.
type ptyPrinter struct {
	device.TicketPrinter
	pty    *escpossim.PTY
	sim    *escpossim.Sim
	render *escpossim.Renderer
}

func (p *ptyPrinter) Close() error {
	err := p.TicketPrinter.Close()
	p.pty.Close()
	return err
}
