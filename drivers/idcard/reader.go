package idcard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"time"

	"go.bug.st/serial"

	"onepass/device"
)

// Options configure a Reader. The registry fills them from the [reader] section.
type Options struct {
	Port         string        // serial device, e.g. /dev/ttyUSB0 or a udev symlink
	Baud         int           // the SAM's configured rate; default 115200
	PollInterval time.Duration // between find-card polls; default 40 ms (DefaultPollInterval)
	Fingerprint  bool          // read with 30 10 (text, photo, fingerprints) instead of 30 01
	Logger       *slog.Logger  // default slog.Default()
}

// Defaults, and the bounds of the reconnect backoff.
//
// DefaultPollInterval: a card waits on average half the interval for the next find, so 40 ms
// keeps placed → event within ~25 ms of the bytes' own wire time. An idle poll is one find
// (20 01 → 80): 10 + 11 bytes, 1.8 ms of a 115200 line, so the line is idle 95 % of the time and
// the SAM gets one command per 40 ms; host code in the reference polls from a busy loop (C5) to
// 50 ms (C4) and 200 ms (C6), and no reader documents a minimum gap between commands
// (docs/idcard.md, "Poll rate").
const (
	DefaultBaud         = 115200
	DefaultPollInterval = 40 * time.Millisecond
	minBackoff          = 250 * time.Millisecond
	maxBackoff          = 5 * time.Second
	// After this many failures in a row something is wrong beyond one bad frame or one bad card.
	maxLinkErrors = 3
	maxSAMErrors  = 3
	maxCardErrors = 3
	// noisyWindow: a line that needed repairs this recently shows as degraded.
	noisyWindow = 10 * time.Second
)

// Reader is a GA 467 (SAM_V) card reader on a serial port: a device.CardReader. A goroutine owns
// the port: it connects (and reconnects with backoff when the port disappears), checks the SAM,
// and polls find → select → read; Next hands out the cards it read.
type Reader struct {
	opts   Options
	log    *slog.Logger
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	tried  chan struct{} // closed once the first connection attempt is over
	cards  chan device.Card

	mu   sync.Mutex // one command at a time: the poll loop and SelfTest
	conn *Conn

	hmu    sync.Mutex
	health device.Health
	steady device.Health // the health of a working connection (set on connect)
}

// startWait bounds how long Open waits for the first connection attempt.
const startWait = 3 * time.Second

// Open validates the options and starts the reader. It returns once the first connection attempt
// is over (at most a few seconds, or when ctx ends), so Health is meaningful at once. A missing or
// unplugged port is not an error: the reader keeps trying and says so ("down: port gone").
func Open(ctx context.Context, opts Options) (*Reader, error) {
	if opts.Port == "" {
		return nil, errors.New("port: missing (e.g. port = \"/dev/ttyUSB0\")")
	}
	if opts.Baud == 0 {
		opts.Baud = DefaultBaud
	}
	if !slices.Contains(Bauds, opts.Baud) {
		return nil, fmt.Errorf("baud: %d is not a rate the SAM supports (%v)", opts.Baud, Bauds)
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.PollInterval < time.Millisecond || opts.PollInterval > 5*time.Second {
		return nil, fmt.Errorf("poll_interval: %s: want 1ms–5s", opts.PollInterval)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r := &Reader{
		opts: opts, name: "ga467:" + opts.Port, cancel: cancel, done: make(chan struct{}), tried: make(chan struct{}),
		cards:  make(chan device.Card, 1),
		log:    opts.Logger.With("part", "reader", "driver", "ga467", "port", opts.Port),
		health: device.Health{State: device.Down, Reason: "connecting", Since: time.Now()},
	}
	go r.run(runCtx)
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-r.tried:
	case <-t.C:
	case <-ctx.Done():
	}
	return r, nil
}

// Next blocks until a card is read. A card that stays on the reader is reported once.
func (r *Reader) Next(ctx context.Context) (device.Card, error) {
	select {
	case c := <-r.cards:
		return c, nil
	case <-ctx.Done():
		return device.Card{}, ctx.Err()
	case <-r.done:
		return device.Card{}, errors.New("idcard: reader closed")
	}
}

// Health reports the reader's condition without touching the port.
func (r *Reader) Health() device.Health {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	return r.health
}

func (r *Reader) setHealth(state device.HealthState, reason string) {
	r.hmu.Lock()
	defer r.hmu.Unlock()
	if r.health.State == state && r.health.Reason == reason {
		return
	}
	if state == device.OK {
		r.log.Info("reader ok", "was", r.health.String())
	} else {
		r.log.Warn("reader "+string(state), "reason", reason)
	}
	r.health = device.Health{State: state, Reason: reason, Since: time.Now()}
}

// SelfTest asks the SAM for its status and its ID. Right after Open it first waits for the
// connection attempt (`onepassctl selftest` opens and tests at once).
func (r *Reader) SelfTest(ctx context.Context) error {
	select {
	case <-r.tried:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conn == nil {
		return fmt.Errorf("idcard: not connected: %s", r.Health())
	}
	if err := r.conn.SAMStatus(ctx); err != nil {
		return fmt.Errorf("idcard self-test: SAM status: %w", err)
	}
	id, err := r.conn.ReadSAMID(ctx)
	if err != nil {
		return fmt.Errorf("idcard self-test: SAM ID: %w", err)
	}
	r.log.Info("self-test passed", "sam", id.String())
	return nil
}

// Close stops the poll loop and releases the port.
func (r *Reader) Close() error {
	r.cancel()
	<-r.done
	return nil
}

// run connects, polls until the port fails, and reconnects with backoff, until Close.
func (r *Reader) run(ctx context.Context) {
	defer close(r.done)
	backoff := minBackoff
	var once sync.Once
	defer once.Do(func() { close(r.tried) })
	for {
		conn, err := r.connect(ctx)
		once.Do(func() { close(r.tried) })
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close()
			}
			return
		}
		if err != nil {
			r.setHealth(device.Down, r.reason(err))
			r.log.Debug("connect failed", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		err = r.poll(ctx, conn)
		r.mu.Lock()
		r.conn = nil
		conn.Close()
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		r.setHealth(device.Down, r.reason(err))
		r.log.Debug("reconnecting", "err", err)
		if !sleep(ctx, minBackoff) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reason turns a connect or poll failure into the Health reason a technician acts on.
func (r *Reader) reason(err error) string {
	var pe *serial.PortError
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO),
		errors.Is(err, syscall.EIO), errors.Is(err, ErrPort):
		return "port gone"
	case errors.As(err, &pe) && pe.Code() == serial.PermissionDenied, errors.Is(err, fs.ErrPermission):
		return "permission denied on " + r.opts.Port + " (add the daemon's user to the dialout group)"
	case errors.As(err, &pe) && pe.Code() == serial.PortBusy, errors.Is(err, syscall.EBUSY):
		return r.opts.Port + " is busy: another program has it open"
	case errors.As(err, &pe) && pe.Code() == serial.PortNotFound:
		return "port gone"
	case errors.Is(err, ErrFrameChecksum), errors.Is(err, ErrTruncated):
		return "garbled replies from the reader on " + r.opts.Port + " (cable, USB adapter or interference)"
	case errors.Is(err, ErrTimeout):
		return fmt.Sprintf("no answer from the reader on %s (tried %v baud)", r.opts.Port, Bauds)
	}
	var st Status
	if errors.As(err, &st) {
		en, _ := st.Meaning()
		return "SAM: " + en
	}
	return err.Error()
}

// connect opens the port and checks the SAM (status, then ID). A SAM that does not answer at the
// configured rate is probed at the other four (it keeps a rate set earlier across power cycles).
func (r *Reader) connect(ctx context.Context) (*Conn, error) {
	p, err := openPort(r.opts.Port, r.opts.Baud)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", r.opts.Port, err)
	}
	conn := NewConn(p)
	baud, err := r.samCheck(ctx, conn, p)
	if err != nil {
		conn.Close()
		return nil, err
	}
	id, err := conn.ReadSAMID(ctx)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read SAM ID: %w", err)
	}
	r.mu.Lock()
	r.conn = conn
	r.mu.Unlock()
	r.log.Info("reader connected", "sam", id.String(), "baud", baud)
	steady := device.Health{State: device.OK}
	if baud != r.opts.Baud {
		steady = device.Health{State: device.Degraded, Reason: fmt.Sprintf("reader answers at %d baud, configured %d: set baud = %d", baud, r.opts.Baud, baud)}
	}
	r.hmu.Lock()
	r.steady = steady
	r.hmu.Unlock()
	r.ok()
	return conn, nil
}

// samCheck sends SAM status at the configured rate, then at the others; a SAM that answers but
// reports a failure gets one reset.
func (r *Reader) samCheck(ctx context.Context, conn *Conn, p modePort) (int, error) {
	err := conn.SAMStatus(ctx)
	if err != nil && !silent(err) && !errors.As(err, new(Status)) && !errors.Is(err, ErrPort) {
		err = conn.SAMStatus(ctx) // a garbled reply: ask again before giving up
	}
	baud := r.opts.Baud
	if silent(err) {
		for _, b := range Bauds {
			if b == r.opts.Baud {
				continue
			}
			if err := p.SetMode(serialMode(b)); err != nil {
				return 0, fmt.Errorf("%w: set %d baud: %v", ErrPort, b, err)
			}
			if err = conn.SAMStatus(ctx); !silent(err) {
				baud = b
				break
			}
		}
	}
	var st Status
	if errors.As(err, &st) {
		r.log.Warn("SAM reports a failure at start; resetting it", "status", st.Error())
		if err = conn.ResetSAM(ctx); err == nil {
			err = conn.SAMStatus(ctx)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("SAM status: %w", err)
	}
	return baud, nil
}

// silent tells a reader that sent nothing (or only noise, as a reply at another rate looks) from
// one whose reply came garbled.
func silent(err error) bool {
	return errors.Is(err, ErrTimeout) && !errors.Is(err, ErrFrameChecksum) && !errors.Is(err, ErrTruncated)
}

// Poll states.
type pollState int

const (
	idle       pollState = iota // no card, or one not read yet: find → select → read
	present                     // a card was read and is still there: probe its presence
	unreadable                  // a card that fails to read: wait for it to leave
)

// poller holds the poll loop's memory between steps.
type poller struct {
	state     pollState
	lastKey   string // the card reported last, until a find confirms it left
	linkErrs  int
	samErrs   int
	cardErrs  int
	resetWait time.Duration
	lastSAM   Status
	repairs   int       // frames the framing layer repaired so far
	repaired  time.Time // when it last had to
}

// poll runs the find → select → read loop on a connected port until the port fails (or the
// reader stops answering), and returns why.
func (r *Reader) poll(ctx context.Context, conn *Conn) error {
	p := &poller{resetWait: minBackoff}
	immediate := true
	for {
		if !immediate && !sleep(ctx, r.opts.PollInterval) {
			return ctx.Err()
		}
		r.mu.Lock()
		var err error
		immediate, err = r.step(ctx, conn, p)
		r.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// step does one poll and returns whether to poll again at once.
func (r *Reader) step(ctx context.Context, conn *Conn, p *poller) (again bool, fatal error) {
	if p.samErrs >= maxSAMErrors {
		return r.resetSAM(ctx, conn, p)
	}
	var err error
	switch p.state {
	case present:
		if _, err = conn.ReadAppendedAddress(ctx); err == nil {
			p.linkErrs = 0
			r.healthy(conn, p)
			return false, nil
		}
		var st Status
		if errors.As(err, &st) {
			// Any status other than 90/91: the card left (or was swapped). A find tells which.
			p.linkErrs = 0
			p.state = idle
			return true, nil
		}
	case unreadable:
		if _, err = conn.FindCard(ctx); errors.Is(err, StatusNoCard) {
			p.state, p.lastKey, p.cardErrs = idle, "", 0
			r.healthy(conn, p)
			return false, nil
		}
		if err == nil {
			p.linkErrs = 0
			return false, nil
		}
	default:
		var (
			t    Text
			info BaseInfo
		)
		t, info, err = r.readCard(ctx, conn)
		if err == nil {
			p.linkErrs, p.samErrs, p.cardErrs = 0, 0, 0
			r.healthy(conn, p)
			key := t.Format + "|" + t.Number
			if key == p.lastKey {
				// The presence probe failed but no find ever saw the field empty: the card never
				// left (a radio hiccup). It was reported already.
				p.state = present
				return false, nil
			}
			p.state, p.lastKey = present, key
			r.deliver(t, info)
			return false, nil
		}
	}
	return r.failed(conn, err, p)
}

// failed sorts a command failure: the port (fatal), the link, the SAM, or the card.
func (r *Reader) failed(conn *Conn, err error, p *poller) (again bool, fatal error) {
	var st Status
	switch {
	case errors.Is(err, ErrPort):
		return false, err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false, err
	case !errors.As(err, &st):
		p.linkErrs++
		r.log.Debug("link error", "err", err, "in_a_row", p.linkErrs)
		r.setHealth(device.Degraded, "reader not answering properly: "+r.reason(err))
		if p.linkErrs >= maxLinkErrors {
			return false, fmt.Errorf("reader stopped answering: %w", err)
		}
		return false, nil
	}
	p.linkErrs = 0
	switch {
	case st == StatusNoCard:
		p.state, p.lastKey, p.cardErrs, p.samErrs = idle, "", 0, 0
		r.healthy(conn, p)
		return false, nil
	case st.samFault():
		p.samErrs++
		p.lastSAM = st
		r.log.Debug("SAM error", "status", st.Error(), "in_a_row", p.samErrs)
		return p.samErrs >= maxSAMErrors, nil
	case st == StatusSelectFailed:
		return false, nil // the card left between find and select
	case st == StatusReadFailed && p.cardErrs < maxCardErrors:
		// The card moved or left during the read: nothing half-read is delivered; try again now.
		p.cardErrs++
		return true, nil
	default:
		// 40 (not an ID card), 31/32/33 (authentication) or repeated 41: the card cannot be read.
		p.cardErrs++
		if p.cardErrs >= maxCardErrors && p.state != unreadable {
			r.log.Warn("card cannot be read; waiting for it to be taken away", "status", st.Error())
			p.state = unreadable
		}
		return false, nil
	}
}

// resetSAM resets the SAM after repeated SAM errors; while it stays broken the reader is down and
// resets are spaced out with backoff.
func (r *Reader) resetSAM(ctx context.Context, conn *Conn, p *poller) (bool, error) {
	en, _ := p.lastSAM.Meaning()
	r.log.Warn("resetting the SAM after repeated SAM errors", "status", p.lastSAM.Error(), "errors", p.samErrs)
	err := conn.ResetSAM(ctx)
	if err == nil {
		err = conn.SAMStatus(ctx)
	}
	if err == nil {
		p.samErrs, p.state, p.resetWait = 0, idle, minBackoff
		r.healthy(conn, p)
		return true, nil
	}
	if errors.Is(err, ErrPort) {
		return false, err
	}
	var st Status
	if errors.As(err, &st) {
		en, _ = st.Meaning()
	}
	r.setHealth(device.Down, "SAM: "+en+" (reset did not help)")
	if !sleep(ctx, p.resetWait) {
		return false, ctx.Err()
	}
	p.resetWait = min(2*p.resetWait, maxBackoff)
	return false, nil
}

// ok marks the reader healthy after a good exchange: back to what it was right after connecting
// (degraded when it answers at a rate other than the configured one).
func (r *Reader) ok() {
	r.hmu.Lock()
	steady := r.steady
	r.hmu.Unlock()
	r.setHealth(steady.State, steady.Reason)
}

// healthy marks the reader healthy after a good exchange, or degraded while the line needs repairs
// (noise, bad checksums, truncated frames): it still works, but a technician should look.
func (r *Reader) healthy(conn *Conn, p *poller) {
	st := conn.Stats
	if n := st.Noise + st.BadChecksum + st.BadLength + st.Truncated; n != p.repairs {
		p.repairs, p.repaired = n, time.Now()
	}
	if !p.repaired.IsZero() && time.Since(p.repaired) < noisyWindow {
		r.setHealth(device.Degraded, "noisy line: garbled replies repaired (check the cable, USB adapter, interference)")
		return
	}
	r.ok()
}

// readCard runs find → select → read and parses the text.
func (r *Reader) readCard(ctx context.Context, conn *Conn) (Text, BaseInfo, error) {
	if _, err := conn.FindCard(ctx); err != nil {
		return Text{}, BaseInfo{}, err
	}
	if _, err := conn.SelectCard(ctx); err != nil {
		return Text{}, BaseInfo{}, err
	}
	var (
		info BaseInfo
		err  error
	)
	if r.opts.Fingerprint {
		info, err = conn.ReadBaseFingerprint(ctx)
	} else {
		info, err = conn.ReadBase(ctx)
	}
	if err != nil {
		return Text{}, BaseInfo{}, err
	}
	t, err := ParseText(info.Text)
	return t, info, err
}

// deliver hands a card to Next; an unread older card is replaced by the newer one.
func (r *Reader) deliver(t Text, info BaseInfo) {
	now := time.Now()
	if err := t.Check(now); err != nil {
		// Delivered all the same: the kiosk answers an invalid card with "证件无效".
		r.log.Warn("card text fails its checks", "format", t.Format, "problems", err.Error())
	}
	c := t.Card(info.Text, info.Photo)
	c.ReadAt, c.Reader = now, r.name
	r.log.Debug("card read", "format", t.Format, "fingerprint_bytes", len(info.Fingerprint))
	for {
		select {
		case r.cards <- c:
			return
		default:
		}
		select {
		case <-r.cards:
		default:
		}
	}
}
