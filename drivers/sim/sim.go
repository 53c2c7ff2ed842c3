// Package sim provides the simulated lane for `onepassd --sim` and tests. Open puts each part's
// real driver in front of a protocol simulator (the reader and the printer on pseudo-terminals,
// an emulated I2C thermometer, the camera reading a folder, gpio test pins); the Rig's commands
// (Go calls or the HTTP handler behind `onepassctl sim …`) drive their far ends, and its faults
// are pushed to them. The in-memory parts (a card reader, a thermometer with a person stepping in
// and out, a code scanner, a ticket printer and the gate signals) serve tests and selftest.
package sim

import (
	"context"
	"errors"
	"sync"
	"time"

	"onepass/device"
)

// ErrClosed is returned by a blocked Next after Close.
var ErrClosed = errors.New("sim: part closed")

// part holds what every simulated part shares: a health that tests and `onepassctl sim fault` set.
type part struct {
	mu     sync.Mutex
	health device.Health
	closed chan struct{}
	once   sync.Once
}

func newPart() part { return part{health: device.Healthy(time.Now()), closed: make(chan struct{})} }

func (p *part) Health() device.Health {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.health
}

func (p *part) setHealth(h device.Health) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if h.Since.IsZero() {
		h.Since = time.Now()
	}
	p.health = h
}

func (p *part) SelfTest(ctx context.Context) error {
	if h := p.Health(); h.State != device.OK {
		return errors.New(h.String())
	}
	return nil
}

func (p *part) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// mailbox hands one value from a command to a blocked Next; a newer value replaces an unread one.
type mailbox[T any] struct {
	mu      sync.Mutex
	val     T
	pending bool
	notify  chan struct{} // closed and replaced whenever a value arrives
}

func newMailbox[T any]() *mailbox[T] { return &mailbox[T]{notify: make(chan struct{})} }

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.val, m.pending = v, true
	close(m.notify)
	m.notify = make(chan struct{})
}

func (m *mailbox[T]) clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	var zero T
	m.val, m.pending = zero, false
}

func (m *mailbox[T]) take(ctx context.Context, closed <-chan struct{}) (T, error) {
	for {
		m.mu.Lock()
		if m.pending {
			v := m.val
			m.pending = false
			m.mu.Unlock()
			return v, nil
		}
		wait := m.notify
		m.mu.Unlock()
		select {
		case <-wait:
		case <-closed:
			var zero T
			return zero, ErrClosed
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// CardReader is a reader with at most one card on it.
type CardReader struct {
	part
	box *mailbox[device.Card]
}

// NewCardReader returns an empty reader.
func NewCardReader() *CardReader { return &CardReader{part: newPart(), box: newMailbox[device.Card]()} }

// Place puts a card on the reader; Next reports it once.
func (r *CardReader) Place(c device.Card) {
	c.Reader = "sim"
	if c.Type == "" {
		c.Type = device.CardResident
	}
	r.box.put(c)
}

// Remove takes the card away (an unread card is never reported).
func (r *CardReader) Remove() { r.box.clear() }

// Next blocks until a card is placed.
func (r *CardReader) Next(ctx context.Context) (device.Card, error) {
	c, err := r.box.take(ctx, r.closed)
	if err == nil {
		c.ReadAt = time.Now()
	}
	return c, err
}

// CodeScanner reports codes shown to it.
type CodeScanner struct {
	part
	box *mailbox[string]
}

// NewCodeScanner returns a scanner with nothing in view.
func NewCodeScanner() *CodeScanner { return &CodeScanner{part: newPart(), box: newMailbox[string]()} }

// Show holds a code in front of the camera; Next reports it once.
func (s *CodeScanner) Show(text string) { s.box.put(text) }

// Next blocks until a code is shown.
func (s *CodeScanner) Next(ctx context.Context) (device.Scan, error) {
	t, err := s.box.take(ctx, s.closed)
	return device.Scan{Text: t, At: time.Now(), Source: "sim"}, err
}
