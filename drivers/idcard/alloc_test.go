package idcard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"onepass/drivers/idcard"
)

// noCardPort answers every command with "no card" (SW3 80) at once, in memory.
type noCardPort struct{ pending []byte }

var noCardReply = idcard.Encode(0x00, 0x00, []byte{0x80}) // SW1 SW2 = 00 00, SW3 = 80

func (p *noCardPort) Write(b []byte) (int, error) { p.pending = noCardReply; return len(b), nil }
func (p *noCardPort) Read(b []byte) (int, error) {
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}
func (p *noCardPort) SetReadTimeout(time.Duration) error { return nil }
func (p *noCardPort) ResetInputBuffer() error            { return nil }
func (p *noCardPort) Close() error                       { return nil }

// The idle poll runs 25 times a second for the life of the kiosk: its exchange (frame the find,
// read and parse the "no card") must not allocate, so it costs no garbage collection either.
func TestIdleFindAllocatesNothing(t *testing.T) {
	c := idcard.NewConn(&noCardPort{})
	ctx := context.Background()
	if _, err := c.FindCard(ctx); !errors.Is(err, idcard.StatusNoCard) {
		t.Fatalf("find: %v, want no card", err)
	}
	var st idcard.Status
	if _, err := c.FindCard(ctx); !errors.As(err, &st) || st != idcard.StatusNoCard || err.Error() != "command 20 01: "+idcard.StatusNoCard.Error() {
		t.Fatalf("find: %v, want %q", err, "command 20 01: "+idcard.StatusNoCard.Error())
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = c.FindCard(ctx) }); n != 0 {
		t.Errorf("an idle find allocates %.0f times, want 0", n)
	}
}
