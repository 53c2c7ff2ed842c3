package idcardsim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTY is a simulated reader on a pseudo-terminal: the driver opens Path() as it would open
// /dev/ttyUSB0. Closing it is unplugging the reader: the tty path disappears.
type PTY struct {
	sim    *Sim
	master *os.File
	tty    *os.File // held open so the line keeps its settings and the master never sees a hang-up
	path   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	once   sync.Once
}

// lineRates maps termios speed codes to baud rates.
var lineRates = map[uint32]int{unix.B115200: 115200, unix.B57600: 57600, unix.B38400: 38400, unix.B19200: 19200, unix.B9600: 9600}

// OpenPTY starts the simulator on a new pseudo-terminal.
func (s *Sim) OpenPTY() (*PTY, error) {
	m, t, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("idcardsim: open pty: %w", err)
	}
	// Raw line at the SAM's rate, so nothing is echoed, translated or swallowed (XON/XOFF bytes
	// occur in photos) before the driver sets the line up itself.
	if err := setRaw(int(t.Fd()), s.Baud()); err != nil {
		m.Close()
		t.Close()
		return nil, fmt.Errorf("idcardsim: raw mode: %w", err)
	}
	// pty.Open leaves the master in blocking mode; a non-blocking copy lets Close interrupt a read.
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		m.Close()
		t.Close()
		return nil, fmt.Errorf("idcardsim: master: %w", err)
	}
	path := t.Name()
	m.Close()
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	ctx, cancel := context.WithCancel(context.Background())
	p := &PTY{sim: s, master: master, tty: t, path: path, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.err = s.serve(ctx, master, p.hostBaud)
	}()
	return p, nil
}

// Path is the tty the driver opens, e.g. /dev/pts/3.
func (p *PTY) Path() string { return p.path }

// hostBaud reads the rate the host set on the line (0 if unknown).
func (p *PTY) hostBaud() int {
	t, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
	if err != nil {
		return 0
	}
	return lineRates[t.Cflag&unix.CBAUD]
}

// Close unplugs the reader: it stops answering and the tty path goes away.
func (p *PTY) Close() error {
	p.once.Do(func() {
		p.cancel()
		p.master.Close()
		<-p.done
		p.tty.Close()
	})
	if p.err != nil && !errors.Is(p.err, context.Canceled) && !errors.Is(p.err, os.ErrClosed) {
		return p.err
	}
	return nil
}

func setRaw(fd, baud int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	for code, rate := range lineRates {
		if rate == baud {
			t.Cflag |= code
			t.Ispeed, t.Ospeed = code, code
		}
	}
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
