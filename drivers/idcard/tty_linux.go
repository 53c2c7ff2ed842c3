package idcard

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// ttyPort is the reader's tty with its fd non-blocking and waited on in Go's network poller, and
// every call of the poll loop (flush, write, read) made as a raw system call.
//
// Why: the idle poll is one tiny exchange every poll interval, so its CPU is nearly all the Go
// runtime's, not the driver's. Any ordinary system call (syscall.Syscall: os.File, x/sys/unix,
// go.bug.st/serial's blocking select) enters the scheduler's syscall state, which wakes the
// runtime's monitor thread (sysmon) from its deep sleep; it then polls every 20 µs until the
// process is idle again, a dozen thread wake-ups per poll. Raw calls on a non-blocking fd return at
// once and never enter that state, and the wait for the reply is the poller's, which the idle
// scheduler does anyway. An earlier version with os.File reads and writes (ordinary calls) measured
// no better than go.bug.st/serial; this one is measured in docs/idcard.md ("Poll rate").
// Termios is set the way go.bug.st/serial sets it (raw, 8N1, no flow control).
type ttyPort struct {
	f       *os.File
	rc      syscall.RawConn
	fd      int
	timeout time.Duration
}

// ttyBauds are the Linux baud constants, by rate.
var ttyBauds = map[int]uint32{
	115200: unix.B115200, 57600: unix.B57600, 38400: unix.B38400, 19200: unix.B19200, 9600: unix.B9600,
}

// openPort opens a tty for exclusive use (another program opening it gets EBUSY) at baud, 8N1 raw.
func openPort(path string, baud int) (modePort, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "exclusive", Path: path, Err: err}
	}
	p := &ttyPort{fd: fd}
	if err := p.SetMode(serialMode(baud)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd makes os.NewFile register it with the poller.
	p.f = os.NewFile(uintptr(fd), path)
	if p.rc, err = p.f.SyscallConn(); err != nil {
		p.f.Close()
		return nil, fmt.Errorf("%w: %v", ErrPort, err)
	}
	return p, nil
}

// SetMode sets the line rate (the rest of the mode is always 8N1 raw).
func (p *ttyPort) SetMode(m *serial.Mode) error {
	speed, ok := ttyBauds[m.BaudRate]
	if !ok {
		return fmt.Errorf("%w: %d baud not supported", ErrPort, m.BaudRate)
	}
	t, err := unix.IoctlGetTermios(p.fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("%w: get termios: %v", ErrPort, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF | unix.IXANY | unix.INPCK
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CSTOPB | unix.CRTSCTS | unix.CBAUD
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL | speed
	t.Ispeed, t.Ospeed = speed, speed
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(p.fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("%w: set termios: %v", ErrPort, err)
	}
	return nil
}

// SetReadTimeout bounds the next Reads; only a change moves the poller's deadline.
func (p *ttyPort) SetReadTimeout(t time.Duration) error {
	p.timeout = t
	return nil
}

// Read waits up to the read timeout; a timeout returns 0, nil. A hung-up line (the adapter
// unplugged) reads as EIO or end of file: an error.
func (p *ttyPort) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var deadline time.Time
	if p.timeout > 0 {
		deadline = time.Now().Add(p.timeout)
	}
	if err := p.f.SetReadDeadline(deadline); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrPort, err)
	}
	var (
		n     int
		errno syscall.Errno
	)
	err := p.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		n, errno = int(r), e
		return e != unix.EAGAIN // false: wait in the poller for the fd to become readable
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, nil
	case err != nil:
		return 0, err
	case errno == unix.EINTR:
		return 0, nil
	case errno != 0:
		return 0, &os.PathError{Op: "read", Path: p.f.Name(), Err: errno}
	case n == 0:
		return 0, &os.PathError{Op: "read", Path: p.f.Name(), Err: unix.EIO} // hung up
	}
	return n, nil
}

// Write writes all of b, waiting in the poller when the tty's output buffer is full.
func (p *ttyPort) Write(b []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	err := p.rc.Write(func(fd uintptr) bool {
		for done < len(b) {
			r, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[done])), uintptr(len(b)-done))
			switch e {
			case 0:
				done += int(r)
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = &os.PathError{Op: "write", Path: p.f.Name(), Err: errno}
	}
	return done, err
}

// ResetInputBuffer drops bytes received but not read (TCFLSH returns at once: a raw call).
func (p *ttyPort) ResetInputBuffer() error {
	if _, _, e := unix.RawSyscall(unix.SYS_IOCTL, uintptr(p.fd), unix.TCFLSH, unix.TCIFLUSH); e != 0 {
		return &os.PathError{Op: "flush", Path: p.f.Name(), Err: e}
	}
	return nil
}

func (p *ttyPort) Close() error { return p.f.Close() }
