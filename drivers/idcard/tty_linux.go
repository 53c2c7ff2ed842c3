package idcard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.bug.st/serial"
	"golang.org/x/sys/unix"
)

// ttyPort is a serial port read through Go's network poller: the fd is non-blocking and a read
// waits with a deadline in epoll instead of a blocking select. go.bug.st/serial's blocking read
// makes the runtime wake its monitor thread for every command, which then spins at 20 µs for a
// millisecond: at one find per poll interval that tripled the idle CPU (docs/idcard.md, "Poll
// rate"). Termios is set here the way go.bug.st/serial sets it (raw, 8N1, no flow control).
type ttyPort struct {
	f       *os.File
	fd      int
	timeout time.Duration
}

// Linux baud constants, by rate.
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

func (p *ttyPort) SetReadTimeout(t time.Duration) error {
	p.timeout = t
	return nil
}

// Read waits up to the read timeout; a timeout returns 0, nil. A hung-up line (the adapter
// unplugged) reads as EIO or end of file: an error.
func (p *ttyPort) Read(b []byte) (int, error) {
	if p.timeout > 0 {
		if err := p.f.SetReadDeadline(time.Now().Add(p.timeout)); err != nil {
			return 0, err
		}
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func (p *ttyPort) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *ttyPort) ResetInputBuffer() error {
	return unix.IoctlSetInt(p.fd, unix.TCFLSH, unix.TCIFLUSH)
}

func (p *ttyPort) Close() error { return p.f.Close() }
