// Package escpos drives ESC/POS ticket printers over a serial line (go.bug.st/serial: USB-serial
// adapters, /dev/ttyUSB0) or a printer device file (the kernel's usblp driver, /dev/usb/lp0):
// Chinese text in GB18030 (or GBK), a double-size number, the check-in URL as a QR code the
// printer renders (GS ( k), a cut, and the real-time status (DLE EOT) for paper out and cover
// open. See specs/escpos.md and docs/queue.md.
//
// The port is opened for each job and closed after it, so a printer unplugged and plugged back
// works again by itself; a printer that is absent never fails the daemon's start, it reports
// itself down in Health.
package escpos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.bug.st/serial"

	"onepass/device"
)

// Options configure a printer.
type Options struct {
	Port          string        // serial device, e.g. /dev/ttyUSB0 (one of Port and Device)
	Device        string        // printer device file, e.g. /dev/usb/lp0
	Baud          int           // serial rate, default 9600
	Layout        Layout        // ticket layout and text encoding
	Status        bool          // ask DLE EOT before and after each ticket
	StatusTimeout time.Duration // a status request unanswered by then is "unknown", never "fine"
	Poll          time.Duration // ask the status this often while idle (0: never)
	Copies        int           // tickets printed per issue (MADO prints two)
	Logger        *slog.Logger
}

// Errors a print can end with; the message says what to do.
var (
	ErrNotReady = errors.New("escpos: printer not ready")
	ErrPort     = errors.New("escpos: printer port")
	ErrNoAnswer = errors.New("escpos: printer did not answer the status request")
)

// Port is the byte stream to the printer.
type Port interface {
	Read(p []byte) (int, error) // returns 0, nil when the read timeout passes
	Write(p []byte) (int, error)
	SetReadTimeout(d time.Duration) error
	ResetInputBuffer() error
	Close() error
}

// Printer is an ESC/POS ticket printer. It implements device.TicketPrinter.
type Printer struct {
	o    Options
	open func() (Port, error)
	log  *slog.Logger

	job sync.Mutex // one job or status poll on the line at a time

	mu     sync.Mutex
	health device.Health
	last   Status
	known  bool

	stop chan struct{}
	done chan struct{}
}

// New returns a printer; it does not touch the hardware (see SelfTest).
func New(o Options) (*Printer, error) {
	if (o.Port == "") == (o.Device == "") {
		return nil, errors.New("escpos: set exactly one of port (serial) and device (e.g. /dev/usb/lp0)")
	}
	if o.Baud == 0 {
		o.Baud = 9600
	}
	if o.Baud < 1200 || o.Baud > 921600 {
		return nil, fmt.Errorf("escpos: baud %d: want 1200–921600", o.Baud)
	}
	if err := o.Layout.validate(); err != nil {
		return nil, fmt.Errorf("escpos: %w", err)
	}
	if o.StatusTimeout == 0 {
		o.StatusTimeout = 500 * time.Millisecond
	}
	if o.StatusTimeout < 50*time.Millisecond || o.StatusTimeout > 5*time.Second {
		return nil, fmt.Errorf("escpos: status_timeout %s: want 50ms–5s", o.StatusTimeout)
	}
	if o.Poll != 0 && (o.Poll < time.Second || o.Poll > time.Hour) {
		return nil, fmt.Errorf("escpos: poll %s: want 0 (off) or 1s–1h", o.Poll)
	}
	if o.Copies == 0 {
		o.Copies = 1
	}
	if o.Copies < 1 || o.Copies > 3 {
		return nil, fmt.Errorf("escpos: copies %d: want 1–3", o.Copies)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Printer{o: o, log: o.Logger.With("part", "printer"), stop: make(chan struct{}), done: make(chan struct{}),
		health: device.Health{State: device.OK, Reason: "not used yet", Since: time.Now()}}
	if o.Port != "" {
		p.open = func() (Port, error) {
			sp, err := serial.Open(o.Port, &serial.Mode{BaudRate: o.Baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
			if err != nil {
				return nil, err
			}
			return sp, nil
		}
	} else {
		p.open = func() (Port, error) { return openFile(o.Device) }
	}
	if o.Poll > 0 && o.Status {
		go p.poll()
	} else {
		close(p.done)
	}
	return p, nil
}

// Print prints one ticket (Copies times). Before printing it asks whether the printer is ready,
// so a ticket is not sent into a printer without paper; after printing it asks again, so a paper
// end or a cutter jam during the ticket is reported too.
func (p *Printer) Print(ctx context.Context, t device.Ticket) error {
	job, err := Ticket(t, p.o.Layout)
	if err != nil {
		return err
	}
	return p.withPort(ctx, func(port Port) error {
		var before Status
		if p.o.Status {
			st, err := p.ask(port, StatusOffline, StatusPaper)
			p.remember(st)
			if err != nil {
				return err
			}
			if problem := st.Problem(); problem != "" {
				return fmt.Errorf("%w: %s", ErrNotReady, problem)
			}
			before = st
		}
		for range p.o.Copies {
			if err := writeAll(port, job); err != nil {
				return err
			}
		}
		if p.o.Status {
			after, err := p.ask(port, StatusOffline, StatusError)
			// The paper sensor was read before the ticket; the rest is as it is now.
			after.PaperNearEnd = after.PaperNearEnd || before.PaperNearEnd
			after.Answered = append(before.Answered, after.Answered...)
			p.remember(after)
			if err != nil {
				return err
			}
			if problem := after.Problem(); problem != "" {
				return fmt.Errorf("%w: %s (ticket %s may be incomplete)", ErrNotReady, problem, t.Number)
			}
		}
		return nil
	})
}

// Status asks the printer for its condition. A printer that does not answer gives an error
// (unknown is never reported as fine).
func (p *Printer) Status(ctx context.Context) (device.PrinterStatus, error) {
	var st Status
	err := p.withPort(ctx, func(port Port) error {
		var err error
		st, err = p.ask(port, StatusPrinter, StatusOffline, StatusPaper)
		p.remember(st)
		if err != nil {
			return err
		}
		if len(st.Answered) < 3 {
			return fmt.Errorf("%w (%d of 3 answered)", ErrNoAnswer, len(st.Answered))
		}
		return nil
	})
	return st.Device(), err
}

// SelfTest opens the port and asks the status.
func (p *Printer) SelfTest(ctx context.Context) error {
	st, err := p.Status(ctx)
	if err != nil {
		return err
	}
	if st.PaperOut || st.CoverOpen || !st.Online {
		return fmt.Errorf("%w: %+v", ErrNotReady, st)
	}
	return nil
}

// Health reports the printer's last known condition.
func (p *Printer) Health() device.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.health
}

// Close stops the status poll. The port is open only during a job.
func (p *Printer) Close() error {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	return nil
}

func (p *Printer) poll() {
	defer close(p.done)
	t := time.NewTicker(p.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if !p.job.TryLock() {
			continue // a job is running and will tell
		}
		p.job.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 4*p.o.StatusTimeout+time.Second)
		if _, err := p.Status(ctx); err != nil {
			p.log.Debug("printer status poll", "err", err)
		}
		cancel()
	}
}

// withPort opens the port for one job, runs it and closes the port; the health follows.
func (p *Printer) withPort(ctx context.Context, job func(Port) error) error {
	p.job.Lock()
	defer p.job.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	port, err := p.open()
	if err != nil {
		p.setHealth(device.Down, "port gone: "+err.Error())
		return fmt.Errorf("%w: open: %v", ErrPort, err)
	}
	// A write that blocks (flow control, a printer gone mid-job) ends when ctx does.
	stop := context.AfterFunc(ctx, func() { port.Close() })
	err = job(port)
	if stop() {
		port.Close()
	}
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %v (%v)", ErrPort, ctx.Err(), err)
	}
	switch {
	case errors.Is(err, ErrNotReady):
		p.setHealth(device.Down, p.lastProblem())
	case errors.Is(err, ErrNoAnswer):
		p.setStatusHealth()
	case err != nil:
		p.setHealth(device.Down, err.Error())
	default:
		p.setStatusHealth()
	}
	return err
}

// ask sends the status requests ns and reads one reply byte for each. Replies that never come
// leave their request out of Status.Answered.
func (p *Printer) ask(port Port, ns ...byte) (Status, error) {
	// Drop stale bytes: a late reply to an earlier request must not answer this one.
	if err := port.ResetInputBuffer(); err != nil {
		return Status{}, fmt.Errorf("%w: flush: %v", ErrPort, err)
	}
	var st Status
	buf := make([]byte, 16)
	for _, n := range ns {
		if err := writeAll(port, Query(n)); err != nil {
			return st, err
		}
		deadline := time.Now().Add(p.o.StatusTimeout)
	read:
		for {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			if err := port.SetReadTimeout(left); err != nil {
				return st, fmt.Errorf("%w: read timeout: %v", ErrPort, err)
			}
			k, err := port.Read(buf[:1])
			if err != nil {
				if errors.Is(err, io.EOF) {
					break // a device file that cannot answer
				}
				return st, fmt.Errorf("%w: read: %v", ErrPort, err)
			}
			if k == 0 {
				break // timed out: unknown
			}
			if st.Apply(n, buf[0]) == nil {
				break read
			}
			// Not a status byte: skip it and keep waiting for this request's reply.
		}
	}
	return st, nil
}

// remember keeps the last status for Health.
func (p *Printer) remember(st Status) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last, p.known = st, len(st.Answered) > 0
}

func (p *Printer) lastProblem() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.Problem()
}

// setStatusHealth sets the health from the last status after a job that went through.
func (p *Printer) setStatusHealth() {
	p.mu.Lock()
	st, known := p.last, p.known
	p.mu.Unlock()
	switch {
	case known && st.Problem() != "":
		p.setHealth(device.Down, st.Problem())
	case known && st.PaperNearEnd:
		p.setHealth(device.Degraded, "paper near end")
	case !known && p.o.Status:
		p.setHealth(device.OK, "status not reported")
	default:
		p.setHealth(device.OK, "")
	}
}

func (p *Printer) setHealth(s device.HealthState, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.health.State != s || p.health.Reason != reason {
		if s != device.OK {
			p.log.Warn("printer", "state", s, "reason", reason)
		}
		p.health = device.Health{State: s, Reason: reason, Since: time.Now()}
	}
}

func writeAll(port Port, b []byte) error {
	for len(b) > 0 {
		n, err := port.Write(b)
		if err != nil {
			return fmt.Errorf("%w: write: %v", ErrPort, err)
		}
		b = b[n:]
	}
	return nil
}

// filePort is a printer device file (usblp). Replies are read only where the file supports
// deadlines; elsewhere every status request goes unanswered (unknown).
type filePort struct {
	f          *os.File
	noDeadline bool
}

func openFile(path string) (Port, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return &filePort{f: f}, nil
}

func (p *filePort) Read(b []byte) (int, error) {
	if p.noDeadline {
		return 0, nil
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (p *filePort) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *filePort) SetReadTimeout(d time.Duration) error {
	if err := p.f.SetReadDeadline(time.Now().Add(d)); err != nil {
		if errors.Is(err, os.ErrNoDeadline) {
			p.noDeadline = true
			return nil
		}
		return err
	}
	return nil
}

func (p *filePort) ResetInputBuffer() error { return nil }
func (p *filePort) Close() error            { return p.f.Close() }
