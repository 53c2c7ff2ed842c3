package escpossim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"onepass/drivers/internal/simpty"
)

// Paper is the roll's state.
type Paper string

// Paper states.
const (
	PaperOK      Paper = "ok"
	PaperNearEnd Paper = "near_end"
	PaperOut     Paper = "out"
)

// Sim is the printer: its paper and cover, whether it answers status requests, and what it
// printed.
type Sim struct {
	mu       sync.Mutex
	paper    Paper
	cover    bool // open
	mute     bool // does not answer DLE EOT, as many USB printers do not
	receipts []Receipt
	changed  chan struct{} // closed and replaced when a receipt is cut
	encoding string
	bytesIn  int
}

// New returns a printer with paper, cover closed, answering status requests, GB18030 font.
func New() *Sim { return &Sim{paper: PaperOK, changed: make(chan struct{}), encoding: "gb18030"} }

// SetPaper changes the roll.
func (s *Sim) SetPaper(p Paper) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paper = p
}

// SetCover opens or closes the cover.
func (s *Sim) SetCover(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cover = open
}

// SetMute makes the printer stop (or start again) answering status requests.
func (s *Sim) SetMute(mute bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mute = mute
}

// Receipts returns everything printed so far.
func (s *Sim) Receipts() []Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Receipt(nil), s.receipts...)
}

// Wait blocks until at least n receipts were cut, or ctx is done.
func (s *Sim) Wait(ctx context.Context, n int) ([]Receipt, error) {
	for {
		s.mu.Lock()
		got, ch := len(s.receipts), s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Receipts(), nil
		}
		select {
		case <-ctx.Done():
			return s.Receipts(), fmt.Errorf("escpossim: %d of %d receipts: %w", got, n, ctx.Err())
		case <-ch:
		}
	}
}

// canPrint is false while the paper is out or the cover open: the printer drops print data.
func (s *Sim) canPrint() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paper != PaperOut && !s.cover
}

// status is the reply byte to DLE EOT n, with the fixed bits (1 and 4) set.
func (s *Sim) status(n byte) (byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mute {
		return 0, false
	}
	b := byte(0x12)
	switch n {
	case 1:
		if s.cover || s.paper == PaperOut {
			b |= 0x08 // offline
		}
	case 2:
		if s.cover {
			b |= 0x04
		}
		if s.paper == PaperOut {
			b |= 0x20
		}
	case 3:
	case 4:
		switch s.paper {
		case PaperNearEnd:
			b |= 0x0c
		case PaperOut:
			b |= 0x0c | 0x60
		}
	default:
		return 0, false
	}
	return b, true
}

func (s *Sim) addReceipt(r Receipt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.receipts = append(s.receipts, r)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Serve speaks to the driver over rw until ctx is done or rw fails: it parses what comes in and
// writes the status replies.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	var werr error
	p := NewParser(s.encoding)
	p.Accept = s.canPrint
	p.OnReceipt = s.addReceipt
	p.OnStatus = func(n byte) (byte, bool) {
		b, ok := s.status(n)
		if ok && werr == nil {
			_, werr = rw.Write([]byte{b})
		}
		return b, ok
	}
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.bytesIn += n
			s.mu.Unlock()
			p.Write(buf[:n])
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case werr != nil:
			return fmt.Errorf("escpossim: reply: %w", werr)
		case errors.Is(err, unix.EIO):
			// No process has the tty open (between two jobs): wait for the next one.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		case err != nil:
			return fmt.Errorf("escpossim: read: %w", err)
		}
	}
}

// PTY is the printer on a pseudo-terminal; the driver opens Path() as it would /dev/ttyUSB0.
type PTY struct {
	sim  *Sim
	line *simpty.Line
}

// OpenPTY starts the printer on a new pseudo-terminal.
func (s *Sim) OpenPTY() (*PTY, error) {
	l, err := simpty.Open(0, func(ctx context.Context, master *os.File, _ func() int) error { return s.Serve(ctx, master) })
	if err != nil {
		return nil, fmt.Errorf("escpossim: %w", err)
	}
	return &PTY{sim: s, line: l}, nil
}

// Path is the tty the driver opens, e.g. /dev/pts/3.
func (p *PTY) Path() string { return p.line.Path() }

// Sim is the printer behind the line.
func (p *PTY) Sim() *Sim { return p.sim }

// Close unplugs the printer: the tty goes away.
func (p *PTY) Close() error { return p.line.Close() }

// State is what the simulator did and how it stands (Snapshot).
type State struct {
	Paper    Paper     `json:"paper"`
	Cover    string    `json:"cover"`
	Mute     bool      `json:"mute"`
	Printed  int       `json:"printed"`
	BytesIn  int       `json:"bytes_in"`
	Last     *Receipt  `json:"last,omitempty"`
	LastText []string  `json:"last_text,omitempty"`
	At       time.Time `json:"at"`
}

// Control changes the paper, the cover or the status answers (Apply).
type Control struct {
	Paper Paper  `json:"paper,omitempty"` // ok, near_end, out
	Cover string `json:"cover,omitempty"` // open, closed
	Mute  *bool  `json:"mute,omitempty"`
}

// Snapshot returns the simulator's state (GET /api/sim/printer in onepassd --sim).
func (s *Sim) Snapshot() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Paper: s.paper, Cover: map[bool]string{true: "open", false: "closed"}[s.cover], Mute: s.mute,
		Printed: len(s.receipts), BytesIn: s.bytesIn, At: time.Now()}
	if n := len(s.receipts); n > 0 {
		last := s.receipts[n-1]
		st.Last, st.LastText = &last, last.Lines()
	}
	return st
}

// Apply changes the paper, the cover or the status answers; it refuses an unknown value and
// then changes nothing.
func (s *Sim) Apply(c Control) error {
	switch c.Paper {
	case "", PaperOK, PaperNearEnd, PaperOut:
	default:
		return fmt.Errorf("printer: paper %q: want ok, near_end or out", c.Paper)
	}
	switch c.Cover {
	case "", "open", "closed":
	default:
		return fmt.Errorf("printer: cover %q: want open or closed", c.Cover)
	}
	if c.Paper != "" {
		s.SetPaper(c.Paper)
	}
	if c.Cover != "" {
		s.SetCover(c.Cover == "open")
	}
	if c.Mute != nil {
		s.SetMute(*c.Mute)
	}
	return nil
}
