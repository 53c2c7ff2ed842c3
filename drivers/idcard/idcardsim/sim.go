// Package idcardsim plays a GA 467 (SAM_V) ID card reader on the far end of a byte stream —
// normally a pseudo-terminal, so a driver under test opens a real tty path and takes its real
// serial code path. It holds a card or none, answers every command of specs/idcard-ga467.md with
// the status a reader gives, and injects faults on request: noise, split and delayed writes, bad
// checksums, truncated frames, a card leaving mid-read, a failed SAM, a slow SAM, a silent reader.
//
// It implements the protocol on its own (framing, text layout, nation codes) rather than borrowing
// the driver's code, so the two can disagree in a test when one of them is wrong.
package idcardsim

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"onepass/device"
)

// SW3 codes the simulator sends.
const (
	swOK           = 0x90
	swNoContent    = 0x91
	swFound        = 0x9F
	swChecksum     = 0x10
	swLength       = 0x11
	swCommand      = 0x21
	swReadFailed   = 0x41
	swSelfTest     = 0x60
	swNoCard       = 0x80
	swSelectFailed = 0x81
)

// Rates the SAM can be set to, by set-baud parameter.
var rates = [5]int{115200, 57600, 38400, 19200, 9600}

// Options are the reader's fixed properties.
type Options struct {
	// SAMID is what 12 FF answers; the default reads 05.01-20110511-0000012345-0000000042.
	SAMID [16]byte
	// How long the SAM works before it answers find, select and the reads (zero: at once).
	FindDelay, SelectDelay, ReadDelay time.Duration
	// Baud is the rate the SAM is set to (default 115200). On a pseudo-terminal whose line the
	// host set to another rate, the SAM hears garbage and stays silent, as a real one does.
	Baud int
	// Paced sends replies at the line rate (10 bit times per byte), as a real UART does.
	Paced bool
	// RefindAfterRead makes find answer 9F again while a card that was read stays on the reader;
	// most readers answer 80 until the card has left the field.
	RefindAfterRead bool
	// RequestTimeout: a command whose bytes stop coming for this long is answered with 11.
	// Default 200 ms.
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// Faults are injected on request (SetFaults). Counters count down as they are used.
type Faults struct {
	Noise         int           // this many noise bytes before every reply
	SplitChunk    int           // write replies in pieces of this many bytes …
	SplitDelay    time.Duration // … with this pause between the pieces
	BadChecksum   int           // the next N replies carry a wrong checksum
	Truncate      int           // the next N replies stop half way, then come again whole
	Cut           int           // the next N replies stop half way for good
	RemoveMidRead bool          // the card leaves during the next read: 41, and no card
	FailReads     int           // the next N reads fail with 41 while the card stays (it moved)
	SAMFailure    byte          // non-zero: every command but reset is answered with this status …
	SAMSticky     bool          // … and a reset does not cure it
	SlowSAM       bool          // reads take 0.4–0.8 s, find and select 20–60 ms
	Silent        bool          // the reader answers nothing at all
}

// Card is what a chip holds.
type Card struct {
	Text             [256]byte
	Photo            [1024]byte
	Fingerprint      []byte   // 0, 512 or 1024 bytes
	Addresses        []string // appended addresses, newest first (up to 4, 35 characters each)
	ManagementNumber string   // 14 characters
}

// NewCard lays out a device.Card as a chip would hold it, with a made-up photo.
func NewCard(c device.Card) Card {
	return Card{Text: EncodeText(c), Photo: photoFor(c.Number + c.Name), ManagementNumber: "00000000000000"}
}

// Sim is one simulated reader.
type Sim struct {
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	card   *Card
	gen    int   // bumped whenever the card changes, so a read in progress notices
	absent int   // finds that must still see an empty field before a placed card appears
	next   *Card // the card that appears then
	found  bool
	sel    bool
	read   bool
	faults Faults
	baud   int
	counts map[[2]byte]int
	rnd    *rand.Rand
}

// New returns a reader with no card on it.
func New(opts Options) *Sim {
	if opts.SAMID == [16]byte{} {
		le := binary.LittleEndian
		le.PutUint16(opts.SAMID[0:], 5)
		le.PutUint16(opts.SAMID[2:], 1)
		le.PutUint32(opts.SAMID[4:], 20110511)
		le.PutUint32(opts.SAMID[8:], 12345)
		le.PutUint32(opts.SAMID[12:], 42)
	}
	if opts.Baud == 0 {
		opts.Baud = 115200
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 200 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sim{opts: opts, log: opts.Logger, baud: opts.Baud, counts: map[[2]byte]int{},
		rnd: rand.New(rand.NewPCG(1, 2))}
}

// Place puts a device.Card on the reader (sim.CardHolder). A card already there is taken away
// first, and the reader sees the empty field once in between, as it does when a person swaps cards.
func (s *Sim) Place(c device.Card) { s.PlaceCard(NewCard(c)) }

// PlaceCard puts a chip on the reader.
func (s *Sim) PlaceCard(c Card) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.card != nil || s.next != nil {
		s.card, s.next, s.absent = nil, &c, 1
	} else {
		s.card = &c
	}
	s.gen++
	s.found, s.sel, s.read = false, false, false
}

// Remove takes the card away (sim.CardHolder).
func (s *Sim) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card, s.next, s.absent = nil, nil, 0
	s.gen++
	s.found, s.sel, s.read = false, false, false
}

// Hiccup drops the card's radio session while the card stays (it moved within the field): the
// SAM forgets it, a presence probe fails with 41, and a find sees the card afresh.
func (s *Sim) Hiccup() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.found, s.sel, s.read = false, false, false
}

// HasCard reports whether a card is on the reader.
func (s *Sim) HasCard() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.card != nil || s.next != nil
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the faults still in force (counters count down as they are used).
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Baud returns the rate the SAM is set to now (set-baud changes it).
func (s *Sim) Baud() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baud
}

// Count returns how many times the command (CMD, PARA) was received intact.
func (s *Sim) Count(cmd, para byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[[2]byte{cmd, para}]
}

// Serve answers the commands read from rw until ctx ends or rw fails. A read in progress ends
// only when rw is closed: close it after cancelling ctx.
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error { return s.serve(ctx, rw, nil) }

// serve is Serve; hostBaud, when set, tells the rate the host set its end of the line to.
func (s *Sim) serve(ctx context.Context, rw io.ReadWriter, hostBaud func() int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	in := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		b := make([]byte, 512)
		for {
			n, err := rw.Read(b)
			if n > 0 {
				select {
				case in <- append([]byte(nil), b[:n]...):
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	var (
		buf   []byte
		timer = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		for {
			out, n, req := parseRequest(buf)
			if out == needMore {
				break
			}
			buf = buf[n:]
			if hostBaud != nil && hostBaud() != s.Baud() {
				continue // at the wrong rate the SAM hears garbage: no answer
			}
			if s.opts.Paced && out != noise {
				// The SAM has the command once its last byte is in: the pty delivered it at once.
				s.wait(ctx, time.Duration(n)*10*time.Second/time.Duration(s.Baud()), false, 0, 0)
			}
			var err error
			switch out {
			case gotRequest:
				err = s.handle(ctx, rw, req)
			case badSum:
				err = s.send(ctx, rw, swChecksum, nil)
			case badLength:
				err = s.send(ctx, rw, swLength, nil)
			}
			if err != nil {
				return err
			}
		}
		if len(buf) > 0 {
			timer.Reset(s.opts.RequestTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case b := <-in:
			buf = append(buf, b...)
		case <-timer.C:
			if len(buf) >= 5 && [5]byte(buf[:5]) == preamble {
				// The command's bytes stopped coming: SW3 11.
				buf = buf[:0]
				if err := s.send(ctx, rw, swLength, nil); err != nil {
					return err
				}
			}
		}
	}
}

// handle answers one command.
func (s *Sim) handle(ctx context.Context, w io.Writer, r request) error {
	s.mu.Lock()
	s.counts[[2]byte{r.cmd, r.para}]++
	f := &s.faults
	if f.Silent {
		s.mu.Unlock()
		return nil
	}
	if f.SAMFailure != 0 && !(r.cmd == 0x10 && r.para == 0xFF) {
		st := f.SAMFailure
		s.mu.Unlock()
		return s.send(ctx, w, st, nil)
	}
	slow := f.SlowSAM
	s.mu.Unlock()

	switch [2]byte{r.cmd, r.para} {
	case [2]byte{0x10, 0xFF}: // reset SAM: the card session starts afresh
		s.mu.Lock()
		if !s.faults.SAMSticky {
			s.faults.SAMFailure = 0
		}
		s.found, s.sel, s.read = false, false, false
		st := byte(swOK)
		if s.faults.SAMFailure != 0 {
			st = s.faults.SAMFailure
		}
		s.mu.Unlock()
		return s.send(ctx, w, st, nil)
	case [2]byte{0x11, 0xFF}: // SAM status
		return s.send(ctx, w, swOK, nil)
	case [2]byte{0x12, 0xFF}: // SAM ID
		return s.send(ctx, w, swOK, s.opts.SAMID[:])
	case [2]byte{0x20, 0x01}: // find
		s.wait(ctx, s.opts.FindDelay, slow, 20, 60)
		s.mu.Lock()
		if s.absent > 0 {
			s.absent--
			if s.absent == 0 {
				s.card, s.next = s.next, nil
			}
			s.mu.Unlock()
			return s.send(ctx, w, swNoCard, nil)
		}
		if s.card == nil || s.read && !s.opts.RefindAfterRead {
			s.mu.Unlock()
			return s.send(ctx, w, swNoCard, nil)
		}
		s.found, s.sel, s.read = true, false, false
		s.mu.Unlock()
		return s.send(ctx, w, swFound, make([]byte, 4))
	case [2]byte{0x20, 0x02}: // select
		s.wait(ctx, s.opts.SelectDelay, slow, 20, 60)
		s.mu.Lock()
		if s.card == nil || !s.found {
			s.mu.Unlock()
			return s.send(ctx, w, swSelectFailed, nil)
		}
		s.sel = true
		s.mu.Unlock()
		return s.send(ctx, w, swOK, make([]byte, 8))
	case [2]byte{0x30, 0x01}, [2]byte{0x30, 0x10}: // read base info (+ fingerprints)
		return s.readBase(ctx, w, r.para == 0x10, slow)
	case [2]byte{0x30, 0x03}: // newest appended address; also how hosts probe presence
		s.mu.Lock()
		c := s.card
		ok := c != nil && (s.sel || s.read)
		s.mu.Unlock()
		switch {
		case !ok:
			return s.send(ctx, w, swReadFailed, nil)
		case len(c.Addresses) == 0:
			return s.send(ctx, w, swNoContent, nil)
		}
		var d []byte
		for _, a := range c.Addresses[:min(4, len(c.Addresses))] {
			d = append(d, utf16le(a, 35)...)
		}
		return s.send(ctx, w, swOK, d)
	case [2]byte{0x30, 0x05}: // card-body management number
		s.mu.Lock()
		c := s.card
		ok := c != nil && (s.sel || s.read)
		s.mu.Unlock()
		if !ok {
			return s.send(ctx, w, swReadFailed, nil)
		}
		return s.send(ctx, w, swOK, utf16le(c.ManagementNumber, 14))
	case [2]byte{0x61, 0xFF}: // max bytes per radio frame, 24–255
		if len(r.data) != 1 || r.data[0] < 24 {
			return s.send(ctx, w, swCommand, nil)
		}
		return s.send(ctx, w, swOK, nil)
	}
	if r.cmd == 0x60 && int(r.para) < len(rates) && len(r.data) == 0 { // set baud
		if err := s.send(ctx, w, swOK, nil); err != nil { // answered at the old rate
			return err
		}
		time.Sleep(5 * time.Millisecond)
		s.mu.Lock()
		s.baud = rates[r.para]
		s.mu.Unlock()
		return nil
	}
	// Unknown commands, including 30 02 (one source's "read appended info", unconfirmed).
	return s.send(ctx, w, swCommand, nil)
}

// readBase answers 30 01 / 30 10: the SAM works (ReadDelay), then sends the whole block, or 41
// when the card left meanwhile or was never selected.
func (s *Sim) readBase(ctx context.Context, w io.Writer, fp, slow bool) error {
	s.mu.Lock()
	c, gen, sel := s.card, s.gen, s.sel
	removeMid := s.faults.RemoveMidRead
	failRead := s.faults.FailReads > 0
	if c != nil && sel {
		s.faults.RemoveMidRead = false
		if !removeMid && failRead {
			s.faults.FailReads--
		}
	}
	s.mu.Unlock()
	if c == nil || !sel {
		return s.send(ctx, w, swReadFailed, nil)
	}
	if removeMid {
		s.wait(ctx, s.opts.ReadDelay/2, slow, 200, 400)
		s.Remove()
		return s.send(ctx, w, swReadFailed, nil)
	}
	s.wait(ctx, s.opts.ReadDelay, slow, 400, 800)
	s.mu.Lock()
	gone := s.gen != gen
	if !gone && !failRead {
		s.read = true
	}
	s.mu.Unlock()
	if gone || failRead {
		return s.send(ctx, w, swReadFailed, nil)
	}
	var d []byte
	d = binary.BigEndian.AppendUint16(d, 256)
	d = binary.BigEndian.AppendUint16(d, 1024)
	if fp {
		d = binary.BigEndian.AppendUint16(d, uint16(len(c.Fingerprint)))
	}
	d = append(d, c.Text[:]...)
	d = append(d, c.Photo[:]...)
	if fp {
		d = append(d, c.Fingerprint...)
	}
	return s.send(ctx, w, swOK, d)
}

// wait is the SAM at work: d, or a random 0.4–0.8 s-style time when the SAM is slow.
func (s *Sim) wait(ctx context.Context, d time.Duration, slow bool, minMS, maxMS int) {
	if slow {
		s.mu.Lock()
		d = time.Duration(minMS+s.rnd.IntN(maxMS-minMS+1)) * time.Millisecond
		s.mu.Unlock()
	}
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// send frames a reply and writes it with the faults in force.
func (s *Sim) send(ctx context.Context, w io.Writer, sw3 byte, data []byte) error {
	frame := reply(sw3, data)
	s.mu.Lock()
	f := &s.faults
	var noise []byte
	for range f.Noise {
		noise = append(noise, s.noiseByte(noise))
	}
	if f.BadChecksum > 0 {
		f.BadChecksum--
		frame[len(frame)-1] ^= 0x5A
	}
	truncate := f.Truncate > 0
	if truncate {
		f.Truncate--
	}
	cut := f.Cut > 0
	if cut {
		f.Cut--
	}
	chunk, pause := f.SplitChunk, f.SplitDelay
	baud, paced := s.baud, s.opts.Paced
	s.mu.Unlock()

	s.log.Debug("reply", "sw3", fmt.Sprintf("%02X", sw3), "bytes", len(frame))
	out := append(noise, frame...)
	if cut {
		out = out[:len(noise)+len(frame)/2]
	} else if truncate {
		// Half a frame, a pause, then the frame again whole: the host must drop the half.
		half := append(append([]byte(nil), noise...), frame[:len(frame)/2]...)
		if err := s.write(ctx, w, half, chunk, pause, baud, paced); err != nil {
			return err
		}
		s.wait(ctx, 20*time.Millisecond, false, 0, 0)
		out = frame
	}
	return s.write(ctx, w, out, chunk, pause, baud, paced)
}

// noiseByte draws a noise byte, never completing a preamble: the noise must be junk, not a frame.
func (s *Sim) noiseByte(prev []byte) byte {
	for {
		b := byte(s.rnd.IntN(256))
		if b == 0x96 && len(prev) >= 3 && prev[len(prev)-1] == 0xAA {
			continue
		}
		if s.rnd.IntN(4) == 0 {
			b = 0xAA // runs of preamble bytes make the resync work for its living
		}
		return b
	}
}

// write sends out in pieces: chunk bytes with pause between (fault), and at the line rate when paced.
func (s *Sim) write(ctx context.Context, w io.Writer, out []byte, chunk int, pause time.Duration, baud int, paced bool) error {
	if chunk <= 0 {
		chunk = len(out)
	}
	if paced {
		chunk = min(chunk, 32)
	}
	byteTime := 10 * time.Second / time.Duration(baud) // 8N1: ten bit times a byte
	start, sent := time.Now(), 0
	for len(out) > 0 {
		n := min(chunk, len(out))
		if paced {
			// A piece is there once its last bit is; keep an absolute schedule so sleeps do not add up.
			s.wait(ctx, time.Until(start.Add(time.Duration(sent+n)*byteTime)), false, 0, 0)
		}
		if _, err := w.Write(out[:n]); err != nil {
			return err
		}
		out, sent = out[n:], sent+n
		if len(out) > 0 && pause > 0 {
			s.wait(ctx, pause, false, 0, 0)
			start = time.Now().Add(-time.Duration(sent) * byteTime)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}
