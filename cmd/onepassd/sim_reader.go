package main

import (
	"context"
	"fmt"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/drivers/idcard/idcardsim"
	"onepass/drivers/sim"
)

// The simulated reader in --sim: a SAM that answers at once, every byte at 115200 baud as on a
// real line (a read is 118 ms of wire), polled every 50 ms. Quick on purpose: the lane re-measures a
// person still standing in front when the next card comes, so a slow read would let the previous
// person's temperature decide again (see the end-to-end test's card after a fever).
var simReaderOptions = idcardsim.Options{Paced: true}

const simReaderPoll = "50ms"

// simReader gives --sim its reader: the real ga467 driver, opened by name through the registry on
// the tty of a reader simulator (idcardsim) that speaks the protocol on the far end of a
// pseudo-terminal. The rig's Cards point at the simulator, so `onepassctl sim card …` lays the card
// out as a chip's 256-byte UCS-2 text block on it and the driver reads it back over the serial
// path; `onepassctl sim fault reader …` becomes what a failing reader does on the line.
func simReader(ctx context.Context, rig *sim.Rig) (device.CardReader, error) {
	s := idcardsim.New(simReaderOptions)
	p, err := s.OpenPTY()
	if err != nil {
		return nil, fmt.Errorf("reader simulator: %w", err)
	}
	r, err := device.OpenCardReader(ctx, "ga467", device.Params{"port": p.Path(), "baud": 115200, "poll_interval": simReaderPoll})
	if err != nil {
		p.Close()
		return nil, err
	}
	rig.Cards = s
	go watchFaults(ctx, clockwork.NewRealClock(), rig.Reader.Health, func(st device.HealthState) { readerFault(s, st) })
	return &ptyReader{CardReader: r, pty: p}, nil
}

// readerFault: down is a broken SAM (self-test failed, a reset does not help: the driver resets it,
// then reports it down); degraded is a noisy line (junk before every reply: cards are still read,
// the driver reports the line degraded).
func readerFault(s *idcardsim.Sim, st device.HealthState) {
	var f idcardsim.Faults
	switch st {
	case device.Down:
		f.SAMFailure, f.SAMSticky = 0x60, true
	case device.Degraded:
		f.Noise = 8
	}
	if s.Faults() != f {
		s.SetFaults(f)
	}
}

// ptyReader closes the simulator with the driver: the driver first, so it never sees the line vanish.
type ptyReader struct {
	device.CardReader
	pty *idcardsim.PTY
}

func (r *ptyReader) Close() error {
	err := r.CardReader.Close()
	r.pty.Close()
	return err
}
