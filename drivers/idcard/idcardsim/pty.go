package idcardsim

import (
	"context"
	"fmt"
	"os"

	"onepass/drivers/internal/simpty"
)

// PTY is a simulated reader on a pseudo-terminal: the driver opens Path() as it would open
// /dev/ttyUSB0. Closing it is unplugging the reader: the tty path disappears.
type PTY struct {
	sim  *Sim
	line *simpty.Line
}

// OpenPTY starts the simulator on a new pseudo-terminal, its line raw at the SAM's rate so
// nothing is echoed, translated or swallowed before the driver sets the line up itself.
func (s *Sim) OpenPTY() (*PTY, error) {
	l, err := simpty.Open(s.Baud(), func(ctx context.Context, master *os.File, hostBaud func() int) error {
		return s.serve(ctx, master, hostBaud)
	})
	if err != nil {
		return nil, fmt.Errorf("idcardsim: %w", err)
	}
	return &PTY{sim: s, line: l}, nil
}

// Path is the tty the driver opens, e.g. /dev/pts/3.
func (p *PTY) Path() string { return p.line.Path() }

// Close unplugs the reader: it stops answering and the tty path goes away.
func (p *PTY) Close() error { return p.line.Close() }
