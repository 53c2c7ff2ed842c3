// Package simpty puts a device simulator on the far end of a pseudo-terminal, so a driver opens
// the tty path as it would /dev/ttyUSB0 and talks to the simulator over the real serial code
// path. Closing the line is unplugging the device: the simulator stops and the path goes away.
package simpty

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Line is one pseudo-terminal with a simulator serving its master end.
type Line struct {
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

// Open opens a raw line (nothing echoed, translated or swallowed: the protocols are binary and
// XON/XOFF bytes occur in their data) at baud, or at the pty's default rate when baud is 0, and
// runs serve on the master end until Close; hostBaud tells serve the rate the host set on its end
// (Line.HostBaud). The master is non-blocking, in Go's poller, so a read waits without spinning
// and Close interrupts it.
func Open(baud int, serve func(ctx context.Context, master *os.File, hostBaud func() int) error) (*Line, error) {
	m, t, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	if err := setRaw(int(t.Fd()), baud); err != nil {
		m.Close()
		t.Close()
		return nil, fmt.Errorf("raw mode: %w", err)
	}
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		if err = unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
		}
	}
	m.Close()
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("master: %w", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	ctx, cancel := context.WithCancel(context.Background())
	l := &Line{master: master, tty: t, path: t.Name(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		l.err = serve(ctx, master, l.HostBaud)
	}()
	return l, nil
}

// Path is the tty the driver opens, e.g. /dev/pts/3.
func (l *Line) Path() string { return l.path }

// HostBaud is the rate the host set on its end of the line (0 if unknown).
func (l *Line) HostBaud() int {
	t, err := unix.IoctlGetTermios(int(l.tty.Fd()), unix.TCGETS)
	if err != nil {
		return 0
	}
	return lineRates[t.Cflag&unix.CBAUD]
}

// Close unplugs the device: the simulator stops and the tty goes away. It returns what serve
// returned, unless that was the stop itself.
func (l *Line) Close() error {
	l.once.Do(func() {
		l.cancel()
		l.master.Close()
		<-l.done
		l.tty.Close()
	})
	if l.err != nil && !errors.Is(l.err, context.Canceled) && !errors.Is(l.err, os.ErrClosed) {
		return l.err
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
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	for code, rate := range lineRates {
		if rate == baud {
			t.Cflag &^= unix.CBAUD
			t.Cflag |= code
			t.Ispeed, t.Ospeed = code, code
		}
	}
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}
