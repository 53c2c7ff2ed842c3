package idcard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf16"

	"go.bug.st/serial"
)

// Port is the byte stream to the reader: a go.bug.st/serial port in the daemon and the tests
// (the tests open a pseudo-terminal through it, so they take the real code path).
type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	// SetReadTimeout bounds the next Read; a Read that times out returns 0, nil.
	SetReadTimeout(t time.Duration) error
	// ResetInputBuffer drops bytes received but not read.
	ResetInputBuffer() error
	Close() error
}

// modePort is a Port whose line rate can be changed (baud probing, set-baud).
type modePort interface {
	Port
	SetMode(m *serial.Mode) error
}

// Command deadlines (specs/idcard-ga467.md §6.2): quick commands, base info, base info with
// fingerprints, and the two card-data commands used as a presence probe.
const (
	quickTimeout = 500 * time.Millisecond
	readTimeout  = 3 * time.Second
	fpTimeout    = 4 * time.Second
	probeTimeout = 1500 * time.Millisecond
	// defaultGap is how long a started frame may pause before it counts as truncated; USB-serial
	// bridges deliver in chunks, so it is generous.
	defaultGap = 200 * time.Millisecond
)

// Conn speaks the SAM_V protocol over an open port, one command at a time. It is not safe for
// concurrent use; the Reader serialises access.
type Conn struct {
	port Port
	gap  time.Duration
	buf  []byte
	rbuf []byte

	// Stats counts what the framing layer had to repair; the Reader reports it in its log.
	Stats struct {
		Noise, BadChecksum, BadLength, Truncated int
	}
}

// NewConn wraps an open port.
func NewConn(p Port) *Conn {
	return &Conn{port: p, gap: defaultGap, rbuf: make([]byte, 4096)}
}

// Close closes the port.
func (c *Conn) Close() error { return c.port.Close() }

// Exchange sends one command and returns the reader's reply. Stale bytes are dropped before the
// command goes out; noise, bad frames and truncated frames in the reply are skipped. A reply whose
// status is not a success is returned with a nil error: use Response.Err.
func (c *Conn) Exchange(ctx context.Context, cmd, para byte, data []byte, timeout time.Duration) (Response, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.port.ResetInputBuffer(); err != nil {
		return Response{}, fmt.Errorf("%w: flush: %v", ErrPort, err)
	}
	c.buf = c.buf[:0]
	frame := Encode(cmd, para, data)
	for len(frame) > 0 {
		n, err := c.port.Write(frame)
		if err != nil {
			return Response{}, fmt.Errorf("%w: write: %v", ErrPort, err)
		}
		frame = frame[n:]
	}
	// dropped remembers why a frame was thrown away: a reply that never comes is then reported
	// as "bad checksum" rather than a bare timeout, and silence after it ends the wait early.
	var dropped error
	lastByte := time.Now()
	for {
		n, payload, err := Split(c.buf)
		if n > 0 {
			c.buf = c.buf[n:]
			if err != nil {
				c.count(err)
				if !errors.Is(err, ErrNoise) && !errors.Is(err, ErrFrameLength) {
					dropped = err
				}
				continue
			}
			resp, err := ParseResponse(payload)
			if err != nil {
				continue // a command frame (an echo) or garbage that happens to check out
			}
			resp.Data = clone(resp.Data) // the buffer is reused by the next command
			return resp, nil
		}
		if err := ctx.Err(); err != nil {
			return Response{}, err
		}
		now := time.Now()
		if !now.Before(deadline) {
			if dropped != nil {
				return Response{}, fmt.Errorf("%w: %w", ErrTimeout, dropped)
			}
			return Response{}, ErrTimeout
		}
		partial := frameStarted(c.buf)
		if (partial || dropped != nil) && now.Sub(lastByte) >= c.gap {
			if partial {
				// The frame in progress stopped: give it up and rescan for another preamble.
				c.Stats.Truncated++
				c.buf = c.buf[1:]
				dropped = ErrTruncated
				continue
			}
			// A reply came and was bad, and nothing follows: the caller may retry at once
			// instead of waiting out the deadline.
			return Response{}, fmt.Errorf("%w: %w", ErrTimeout, dropped)
		}
		wait := min(deadline.Sub(now), 100*time.Millisecond) // wake up for ctx
		if partial || dropped != nil {
			wait = min(wait, c.gap-now.Sub(lastByte))
		}
		if err := c.port.SetReadTimeout(max(wait, time.Millisecond)); err != nil {
			return Response{}, fmt.Errorf("%w: %v", ErrPort, err)
		}
		r, err := c.port.Read(c.rbuf)
		if err != nil {
			return Response{}, fmt.Errorf("%w: read: %v", ErrPort, err)
		}
		if r > 0 {
			c.buf = append(c.buf, c.rbuf[:r]...)
			lastByte = time.Now()
		}
	}
}

func (c *Conn) count(err error) {
	switch {
	case errors.Is(err, ErrNoise):
		c.Stats.Noise++
	case errors.Is(err, ErrFrameChecksum):
		c.Stats.BadChecksum++
	case errors.Is(err, ErrFrameLength):
		c.Stats.BadLength++
	}
}

// do runs a command and turns a non-success status into an error.
func (c *Conn) do(ctx context.Context, cmd, para byte, data []byte, timeout time.Duration) (Response, error) {
	r, err := c.Exchange(ctx, cmd, para, data, timeout)
	if err != nil {
		return r, fmt.Errorf("command %02X %02X: %w", cmd, para, err)
	}
	if r.SW3 == StatusOK || r.SW3 == StatusFound || r.SW3 == StatusNoContent {
		return r, nil
	}
	return r, fmt.Errorf("command %02X %02X: %w", cmd, para, r.SW3)
}

// expect runs a command whose only success status is want and whose data must be exactly n bytes
// (n < 0: any length).
func (c *Conn) expect(ctx context.Context, cmd, para byte, data []byte, timeout time.Duration, want Status, n int) ([]byte, error) {
	r, err := c.do(ctx, cmd, para, data, timeout)
	if err != nil {
		return nil, err
	}
	if r.SW3 != want {
		return nil, fmt.Errorf("command %02X %02X: %w", cmd, para, r.SW3)
	}
	if n >= 0 && len(r.Data) != n {
		return nil, fmt.Errorf("command %02X %02X: %w: %d data bytes, want %d", cmd, para, ErrBadReply, len(r.Data), n)
	}
	return r.Data, nil
}

// ResetSAM (10 FF) resets the security module; the card session starts afresh.
func (c *Conn) ResetSAM(ctx context.Context) error {
	_, err := c.expect(ctx, 0x10, 0xFF, nil, quickTimeout, StatusOK, 0)
	return err
}

// SAMStatus (11 FF) checks the SAM; StatusSelfTest (60) means it is broken.
func (c *Conn) SAMStatus(ctx context.Context) error {
	_, err := c.expect(ctx, 0x11, 0xFF, nil, quickTimeout, StatusOK, 0)
	return err
}

// SAMID is the 16-byte SAM identification (command 12 FF).
type SAMID [16]byte

// String formats the SAM ID as vendor tools print it: AA.BB-CCCCCCCC-DDDDDDDDDD-EEEEEEEEEE.
func (id SAMID) String() string {
	le := binary.LittleEndian
	return fmt.Sprintf("%02d.%02d-%08d-%010d-%010d", le.Uint16(id[0:]), le.Uint16(id[2:]),
		le.Uint32(id[4:]), le.Uint32(id[8:]), le.Uint32(id[12:]))
}

// ReadSAMID (12 FF) reads the SAM's identification.
func (c *Conn) ReadSAMID(ctx context.Context) (SAMID, error) {
	d, err := c.expect(ctx, 0x12, 0xFF, nil, quickTimeout, StatusOK, 16)
	var id SAMID
	copy(id[:], d)
	return id, err
}

// FindCard (20 01) looks for a card in the field; StatusNoCard (80) is the normal "none". The
// returned chip management number is all zeros on many readers: never key on it.
func (c *Conn) FindCard(ctx context.Context) ([4]byte, error) {
	d, err := c.expect(ctx, 0x20, 0x01, nil, quickTimeout, StatusFound, 4)
	return [4]byte(pad(d, 4)), err
}

// SelectCard (20 02) selects the card found; StatusSelectFailed (81) when it is gone.
func (c *Conn) SelectCard(ctx context.Context) ([8]byte, error) {
	d, err := c.expect(ctx, 0x20, 0x02, nil, quickTimeout, StatusOK, 8)
	return [8]byte(pad(d, 8)), err
}

func pad(b []byte, n int) []byte {
	if len(b) >= n {
		return b[:n]
	}
	return append(b, make([]byte, n-len(b))...)
}

// BaseInfo is the card's fixed information: the 256-byte text block, the 1024-byte WLT photo, and
// (read with fingerprints) 0, 512 or 1024 bytes of fingerprint templates. It lives in memory only.
type BaseInfo struct {
	Text        []byte
	Photo       []byte
	Fingerprint []byte
}

// String keeps the contents out of logs.
func (b BaseInfo) String() string {
	return fmt.Sprintf("baseinfo(text %d, photo %d, fingerprint %d bytes)", len(b.Text), len(b.Photo), len(b.Fingerprint))
}

// ReadBase (30 01) reads the text and the photo of the selected card. StatusReadFailed (41) when
// the card left.
func (c *Conn) ReadBase(ctx context.Context) (BaseInfo, error) {
	d, err := c.expect(ctx, 0x30, 0x01, nil, readTimeout, StatusOK, -1)
	if err != nil {
		return BaseInfo{}, err
	}
	return splitBase(d, false)
}

// ReadBaseFingerprint (30 10) reads text, photo and fingerprint templates.
func (c *Conn) ReadBaseFingerprint(ctx context.Context) (BaseInfo, error) {
	d, err := c.expect(ctx, 0x30, 0x10, nil, fpTimeout, StatusOK, -1)
	if err != nil {
		return BaseInfo{}, err
	}
	return splitBase(d, true)
}

// splitBase cuts the base-info data by its big-endian length words (not by fixed offsets).
func splitBase(d []byte, fp bool) (BaseInfo, error) {
	words := 2
	if fp {
		words = 3
	}
	if len(d) < 2*words {
		return BaseInfo{}, fmt.Errorf("%w: base info of %d bytes", ErrBadReply, len(d))
	}
	tl, pl := int(binary.BigEndian.Uint16(d)), int(binary.BigEndian.Uint16(d[2:]))
	fl := 0
	if fp {
		fl = int(binary.BigEndian.Uint16(d[4:]))
	}
	body := d[2*words:]
	if tl != TextLen || pl != PhotoLen || (fl != 0 && fl != 512 && fl != 1024) || len(body) != tl+pl+fl {
		return BaseInfo{}, fmt.Errorf("%w: base info lengths text %d photo %d fingerprint %d in %d bytes", ErrBadReply, tl, pl, fl, len(body))
	}
	b := BaseInfo{Text: clone(body[:tl]), Photo: clone(body[tl : tl+pl])}
	if fl > 0 {
		b.Fingerprint = clone(body[tl+pl:])
	}
	return b, nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// ReadAppendedAddress (30 03) reads the newest appended address records (70 bytes each). A card
// without one answers 91: no records, no error. Used as the presence probe after a read.
func (c *Conn) ReadAppendedAddress(ctx context.Context) ([]string, error) {
	r, err := c.do(ctx, 0x30, 0x03, nil, probeTimeout)
	if err != nil {
		return nil, err
	}
	if r.SW3 == StatusNoContent {
		return nil, nil
	}
	if r.SW3 != StatusOK || len(r.Data)%70 != 0 || len(r.Data) > 280 {
		return nil, fmt.Errorf("command 30 03: %w: status %02X with %d bytes", ErrBadReply, byte(r.SW3), len(r.Data))
	}
	var out []string
	for i := 0; i < len(r.Data); i += 70 {
		out = append(out, ucs2(r.Data[i:i+70]))
	}
	return out, nil
}

// ReadManagementNumber (30 05) reads the 28-byte card-body management number (14 UCS-2 chars).
func (c *Conn) ReadManagementNumber(ctx context.Context) (string, error) {
	d, err := c.expect(ctx, 0x30, 0x05, nil, probeTimeout, StatusOK, 28)
	if err != nil {
		return "", err
	}
	return ucs2(d), nil
}

// Baud rates a SAM can be set to, in the order of the set-baud parameter (§3.6).
var Bauds = []int{115200, 57600, 38400, 19200, 9600}

// SetBaud (60 pp) changes the SAM's line rate. The reply comes at the old rate; then, after the
// 5 ms the module needs, the port is switched to the new rate if it can be. The setting persists
// in the SAM across power cycles.
func (c *Conn) SetBaud(ctx context.Context, baud int) error {
	para := slices.Index(Bauds, baud)
	if para < 0 {
		return fmt.Errorf("set baud: %d is not one of %v", baud, Bauds)
	}
	if _, err := c.expect(ctx, 0x60, byte(para), nil, quickTimeout, StatusOK, 0); err != nil {
		return err
	}
	time.Sleep(5 * time.Millisecond)
	if m, ok := c.port.(interface{ SetMode(*serial.Mode) error }); ok {
		if err := m.SetMode(serialMode(baud)); err != nil {
			return fmt.Errorf("%w: switch port to %d baud: %v", ErrPort, baud, err)
		}
	}
	return nil
}

// SetMaxRFBytes (61 FF nn) sets the most bytes per radio frame (24–255).
func (c *Conn) SetMaxRFBytes(ctx context.Context, n int) error {
	if n < 24 || n > 255 {
		return fmt.Errorf("set max RF bytes: %d is outside 24–255", n)
	}
	_, err := c.expect(ctx, 0x61, 0xFF, []byte{byte(n)}, quickTimeout, StatusOK, 0)
	return err
}

func serialMode(baud int) *serial.Mode {
	return &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
}

// ucs2 decodes little-endian UCS-2 and trims the trailing padding (spaces and NULs) only: an
// English name on a foreigner card has spaces inside.
func ucs2(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	for len(u) > 0 && (u[len(u)-1] == ' ' || u[len(u)-1] == 0) {
		u = u[:len(u)-1]
	}
	r := utf16.Decode(u)
	for i, c := range r {
		if c < 0x20 || c == 0x7F { // control characters have no place on a card or a screen
			r[i] = '\uFFFD'
		}
	}
	return string(r)
}
