package idcard_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
)

// Every command of the spec, over a real pseudo-terminal, against the simulator.
func TestCommandsOverPTY(t *testing.T) {
	s, p := startSim(t, idcardsim.Options{})
	c := openConn(t, p.Path())
	ctx := ctxT(t)

	if err := c.SAMStatus(ctx); err != nil {
		t.Fatalf("SAM status: %v", err)
	}
	id, err := c.ReadSAMID(ctx)
	if err != nil || id.String() != "05.01-20110511-0000012345-0000000042" {
		t.Fatalf("SAM ID: %q %v", id, err)
	}
	if err := c.ResetSAM(ctx); err != nil {
		t.Fatalf("reset: %v", err)
	}
	// No card: find 80, select 81, reads 41.
	if _, err := c.FindCard(ctx); !errors.Is(err, idcard.StatusNoCard) {
		t.Errorf("find without card: %v", err)
	}
	if _, err := c.SelectCard(ctx); !errors.Is(err, idcard.StatusSelectFailed) {
		t.Errorf("select without card: %v", err)
	}
	if _, err := c.ReadBase(ctx); !errors.Is(err, idcard.StatusReadFailed) {
		t.Errorf("read without card: %v", err)
	}
	if _, err := c.ReadAppendedAddress(ctx); !errors.Is(err, idcard.StatusReadFailed) {
		t.Errorf("address without card: %v", err)
	}
	if _, err := c.ReadManagementNumber(ctx); !errors.Is(err, idcard.StatusReadFailed) {
		t.Errorf("management number without card: %v", err)
	}

	card := idcardsim.NewCard(resident)
	card.Addresses = []string{"北京市海淀区中关村大街1号", "北京市西城区"}
	card.ManagementNumber = "AB123456789012"
	s.PlaceCard(card)
	// Read before find/select is refused.
	if _, err := c.ReadBase(ctx); !errors.Is(err, idcard.StatusReadFailed) {
		t.Errorf("read before select: %v", err)
	}
	if iin, err := c.FindCard(ctx); err != nil || iin != [4]byte{} {
		t.Fatalf("find: %v %v", iin, err)
	}
	if sn, err := c.SelectCard(ctx); err != nil || sn != [8]byte{} {
		t.Fatalf("select: %v %v", sn, err)
	}
	info, err := c.ReadBase(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(info.Text, card.Text[:]) || !bytes.Equal(info.Photo, card.Photo[:]) || info.Fingerprint != nil {
		t.Errorf("read base: %v", info)
	}
	addrs, err := c.ReadAppendedAddress(ctx)
	if err != nil || len(addrs) != 2 || addrs[0] != "北京市海淀区中关村大街1号" || addrs[1] != "北京市西城区" {
		t.Errorf("appended addresses: %q %v", addrs, err)
	}
	if mn, err := c.ReadManagementNumber(ctx); err != nil || mn != "AB123456789012" {
		t.Errorf("management number: %q %v", mn, err)
	}
	// After a read, the card stays in the field but find fails until it leaves (§6.4).
	if _, err := c.FindCard(ctx); !errors.Is(err, idcard.StatusNoCard) {
		t.Errorf("find after read: %v", err)
	}
	// Reset SAM starts the session afresh: find succeeds again.
	if err := c.ResetSAM(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FindCard(ctx); err != nil {
		t.Errorf("find after reset: %v", err)
	}
	if s.Count(0x10, 0xFF) != 2 {
		t.Errorf("resets counted: %d", s.Count(0x10, 0xFF))
	}

	// A card without appended address answers 91: no records, no error.
	s.Remove()
	s.PlaceCard(idcardsim.NewCard(resident))
	readAll(t, c)
	if addrs, err := c.ReadAppendedAddress(ctx); err != nil || addrs != nil {
		t.Errorf("no appended address: %q %v", addrs, err)
	}

	// Unconfirmed 30 02 and unknown commands: 21.
	for _, cmd := range [][2]byte{{0x30, 0x02}, {0x42, 0x42}} {
		r, err := c.Exchange(ctx, cmd[0], cmd[1], nil, time.Second)
		if err != nil || r.SW3 != idcard.StatusCommand {
			t.Errorf("%X: %+v %v", cmd, r, err)
		}
	}

	// Set max RF bytes: in range OK; out of range refused before sending; the SAM refuses 23.
	if err := c.SetMaxRFBytes(ctx, 0x50); err != nil {
		t.Errorf("max RF bytes: %v", err)
	}
	if err := c.SetMaxRFBytes(ctx, 23); err == nil {
		t.Error("max RF bytes 23 accepted")
	}
	if r, err := c.Exchange(ctx, 0x61, 0xFF, []byte{23}, time.Second); err != nil || r.SW3 != idcard.StatusCommand {
		t.Errorf("SAM took max RF bytes 23: %+v %v", r, err)
	}
}

// readAll runs find → select → read on the card on the reader.
func readAll(t *testing.T, c *idcard.Conn) idcard.BaseInfo {
	t.Helper()
	ctx := ctxT(t)
	if _, err := c.FindCard(ctx); err != nil {
		t.Fatalf("find: %v", err)
	}
	if _, err := c.SelectCard(ctx); err != nil {
		t.Fatalf("select: %v", err)
	}
	info, err := c.ReadBase(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return info
}

func TestReadWithFingerprints(t *testing.T) {
	s, p := startSim(t, idcardsim.Options{})
	c := openConn(t, p.Path())
	ctx := ctxT(t)
	for _, n := range []int{0, 512, 1024} {
		card := idcardsim.NewCard(foreigner2023)
		card.Fingerprint = bytes.Repeat([]byte{0x11, 0x13}, n/2) // XON/XOFF bytes must pass the line untouched
		s.Remove()
		s.PlaceCard(card)
		if _, err := c.FindCard(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SelectCard(ctx); err != nil {
			t.Fatal(err)
		}
		info, err := c.ReadBaseFingerprint(ctx)
		if err != nil {
			t.Fatalf("%d fingerprint bytes: %v", n, err)
		}
		if !bytes.Equal(info.Text, card.Text[:]) || !bytes.Equal(info.Photo, card.Photo[:]) || len(info.Fingerprint) != n ||
			n > 0 && !bytes.Equal(info.Fingerprint, card.Fingerprint) {
			t.Errorf("%d fingerprint bytes: got %v", n, info)
		}
	}
}

// SetBaud answers at the old rate, then both ends switch; the SAM keeps answering.
func TestSetBaud(t *testing.T) {
	s, p := startSim(t, idcardsim.Options{})
	c := openConn(t, p.Path())
	ctx := ctxT(t)
	for _, b := range []int{9600, 57600, 115200} {
		if err := c.SetBaud(ctx, b); err != nil {
			t.Fatalf("set %d: %v", b, err)
		}
		if err := c.SAMStatus(ctx); err != nil {
			t.Errorf("status after switching to %d: %v", b, err)
		}
		if s.Baud() != b {
			t.Errorf("SAM at %d, want %d", s.Baud(), b)
		}
	}
	if err := c.SetBaud(ctx, 12345); err == nil {
		t.Error("set baud 12345 accepted")
	}
}

func TestSilentReader(t *testing.T) {
	t.Parallel()
	s, p := startSim(t, idcardsim.Options{})
	c := openConn(t, p.Path())
	s.SetFaults(idcardsim.Faults{Silent: true})
	if err := c.SAMStatus(ctxT(t)); !errors.Is(err, idcard.ErrTimeout) {
		t.Errorf("status of a silent reader: %v", err)
	}
	s.SetFaults(idcardsim.Faults{})
	if err := c.SAMStatus(ctxT(t)); err != nil {
		t.Errorf("status once it answers again: %v", err)
	}
}

// A SAM set to another rate than the line hears garbage and answers nothing.
func TestWrongBaudIsSilent(t *testing.T) {
	t.Parallel()
	_, p := startSim(t, idcardsim.Options{Baud: 9600})
	c := openConn(t, p.Path())
	if err := c.SAMStatus(ctxT(t)); !errors.Is(err, idcard.ErrTimeout) {
		t.Errorf("status at the wrong rate: %v", err)
	}
}

// Every fault of the simulator against the framing layer.
func TestFaultsOverPTY(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults idcardsim.Faults
		// firstErr: what the first read gives (nil: it succeeds despite the fault)
		firstErr error
		stat     func(c *idcard.Conn) int
	}{
		{"noise before every reply", idcardsim.Faults{Noise: 17}, nil, func(c *idcard.Conn) int { return c.Stats.Noise }},
		{"split writes with delays", idcardsim.Faults{SplitChunk: 50, SplitDelay: 3 * time.Millisecond}, nil, nil},
		{"split byte by byte", idcardsim.Faults{SplitChunk: 1}, nil, nil},
		{"bad checksum", idcardsim.Faults{BadChecksum: 1}, idcard.ErrFrameChecksum, func(c *idcard.Conn) int { return c.Stats.BadChecksum }},
		{"truncated, then whole", idcardsim.Faults{Truncate: 1}, nil, func(c *idcard.Conn) int { return c.Stats.BadChecksum }},
		{"cut for good", idcardsim.Faults{Cut: 1}, idcard.ErrTruncated, func(c *idcard.Conn) int { return c.Stats.Truncated }},
		{"card removed mid-read", idcardsim.Faults{RemoveMidRead: true}, idcard.StatusReadFailed, nil},
		{"card moved mid-read", idcardsim.Faults{FailReads: 1}, idcard.StatusReadFailed, nil},
		{"SAM failure", idcardsim.Faults{SAMFailure: 0x60}, idcard.StatusSelfTest, nil},
		{"slow SAM", idcardsim.Faults{SlowSAM: true}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, p := startSim(t, idcardsim.Options{})
			c := openConn(t, p.Path())
			ctx := ctxT(t)
			card := idcardsim.NewCard(resident)
			s.PlaceCard(card)
			if _, err := c.FindCard(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SelectCard(ctx); err != nil {
				t.Fatal(err)
			}
			s.SetFaults(tc.faults)
			info, err := c.ReadBase(ctx)
			switch {
			case tc.firstErr == nil && err != nil:
				t.Fatalf("read: %v", err)
			case tc.firstErr == nil && !bytes.Equal(info.Text, card.Text[:]):
				t.Fatalf("read gave other bytes")
			case tc.firstErr != nil && !errors.Is(err, tc.firstErr):
				t.Fatalf("read: %v, want %v", err, tc.firstErr)
			}
			if tc.stat != nil && tc.stat(c) == 0 {
				t.Errorf("the repair was not counted: %+v", c.Stats)
			}
			if tc.faults.RemoveMidRead && s.HasCard() {
				t.Error("the card is still there")
			}
			// The framing layer is back in step: the next exchange gets its own reply.
			s.SetFaults(idcardsim.Faults{SAMFailure: tc.faults.SAMFailure})
			if tc.faults.SAMFailure != 0 {
				if err := c.SAMStatus(ctx); !errors.Is(err, idcard.StatusSelfTest) {
					t.Errorf("status of a failed SAM: %v", err)
				}
				if err := c.ResetSAM(ctx); err != nil {
					t.Errorf("reset: %v", err)
				}
			}
			if id, err := c.ReadSAMID(ctx); err != nil || id.String() != "05.01-20110511-0000012345-0000000042" {
				t.Errorf("after the fault: %q %v", id, err)
			}
		})
	}
}

func TestStickySAMFailure(t *testing.T) {
	s, p := startSim(t, idcardsim.Options{})
	c := openConn(t, p.Path())
	ctx := ctxT(t)
	s.SetFaults(idcardsim.Faults{SAMFailure: 0x60, SAMSticky: true})
	if err := c.ResetSAM(ctx); !errors.Is(err, idcard.StatusSelfTest) {
		t.Errorf("reset of a broken SAM: %v", err)
	}
	if err := c.SAMStatus(ctx); !errors.Is(err, idcard.StatusSelfTest) {
		t.Errorf("status of a broken SAM: %v", err)
	}
}
