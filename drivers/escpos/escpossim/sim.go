package escpossim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
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
	sim    *Sim
	master *os.File
	tty    *os.File // held open so the line keeps its settings between jobs
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// OpenPTY starts the printer on a new pseudo-terminal.
func (s *Sim) OpenPTY() (*PTY, error) {
	m, t, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("escpossim: open pty: %w", err)
	}
	if err := raw(int(t.Fd())); err != nil {
		m.Close()
		t.Close()
		return nil, fmt.Errorf("escpossim: raw mode: %w", err)
	}
	// A non-blocking copy of the master goes into Go's poller, so a read waits without spinning
	// and Close interrupts it.
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	m.Close()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("escpossim: master: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	ctx, cancel := context.WithCancel(context.Background())
	p := &PTY{sim: s, master: master, tty: t, cancel: cancel, done: make(chan error, 1)}
	go func() { p.done <- s.Serve(ctx, master) }()
	return p, nil
}

// Path is the tty the driver opens, e.g. /dev/pts/3.
func (p *PTY) Path() string { return p.tty.Name() }

// Sim is the printer behind the line.
func (p *PTY) Sim() *Sim { return p.sim }

// Close unplugs the printer: the tty goes away.
func (p *PTY) Close() error {
	var err error
	p.once.Do(func() {
		p.cancel()
		p.master.Close()
		err = <-p.done
		p.tty.Close()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
	})
	return err
}

// raw sets the line to pass every byte through unchanged (ESC/POS is binary).
func raw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

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
