package idcard_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
)

// Every card type through the whole driver: find → select → read → parse → device.Card.
func TestReaderCardTypes(t *testing.T) {
	for _, fp := range []bool{false, true} {
		g := newRig(t, idcardsim.Options{}, idcard.Options{Fingerprint: fp})
		for _, want := range []device.Card{resident, residentPermanent, foreigner2017, foreigner2023, hkmotw} {
			chip := idcardsim.NewCard(want)
			if fp {
				chip.Fingerprint = bytes.Repeat([]byte{0x42}, 1024)
			}
			g.sim.Remove()
			g.sim.PlaceCard(chip)
			got := g.next()
			wantNation := want.Nation
			if want.Type == device.CardHKMOTW {
				wantNation = ""
			}
			if got.Type != want.Type || got.Name != want.Name || got.NameChinese != want.NameChinese || got.Sex != want.Sex ||
				got.Nation != wantNation || got.Birth != want.Birth || got.Address != want.Address || got.Number != want.Number ||
				got.Issuer != want.Issuer || got.ValidFrom != want.ValidFrom || got.ValidTo != want.ValidTo {
				t.Errorf("fingerprint=%v %s:\n got %#v\nwant %#v", fp, want.Type, got, want)
			}
			if !bytes.Equal(got.Raw, chip.Text[:]) || !bytes.Equal(got.Photo, chip.Photo[:]) || got.ReadAt.IsZero() ||
				!strings.HasPrefix(got.Reader, "ga467:") {
				t.Errorf("fingerprint=%v %s: raw/photo/read-at/reader not carried", fp, want.Type)
			}
		}
		if fp != (g.sim.Count(0x30, 0x10) > 0) || fp == (g.sim.Count(0x30, 0x01) > 0) {
			t.Errorf("fingerprint=%v: reads 30 01: %d, 30 10: %d", fp, g.sim.Count(0x30, 0x01), g.sim.Count(0x30, 0x10))
		}
		if strings.Contains(g.logs.String(), "fails its checks") {
			t.Errorf("a fixture card failed its checks:\n%s", g.logs)
		}
	}
}

// A card left on the reader is reported once; the probe watches it meanwhile. Put back, it is
// reported again.
func TestReaderSameCardOnce(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatalf("first card: %s", c.Name)
	}
	probes := g.sim.Count(0x30, 0x03)
	waitFor(t, "ten presence probes", func() bool { return g.sim.Count(0x30, 0x03) >= probes+10 })
	if n := g.sim.Count(0x30, 0x01); n != 1 {
		t.Errorf("the card on the reader was read %d times", n)
	}
	// Had the first card been reported twice, Next would now return it instead of the second.
	g.sim.Remove()
	g.sim.PlaceCard(idcardsim.NewCard(hkmotw))
	if c := g.next(); c.Number != hkmotw.Number {
		t.Fatalf("after swapping: %s, want the permit", c.Name)
	}
	// The same card again, placed without a visible removal (`onepassctl sim card` twice): the
	// simulator shows the reader the empty field in between, so it is a new presentation.
	g.sim.Place(hkmotw)
	if c := g.next(); c.Number != hkmotw.Number {
		t.Fatalf("put back: %s", c.Name)
	}
	// Taken away and put back.
	g.sim.Remove()
	waitFor(t, "the reader to see the empty field", func() bool { return g.sim.Count(0x20, 0x01) > 0 && !g.sim.HasCard() })
	finds := g.sim.Count(0x20, 0x01)
	waitFor(t, "a find on the empty field", func() bool { return g.sim.Count(0x20, 0x01) > finds })
	g.sim.Place(hkmotw)
	if c := g.next(); c.Number != hkmotw.Number {
		t.Fatalf("put back after removal: %s", c.Name)
	}
}

// A radio hiccup: the probe fails while the card stays, the re-read finds the same card, which
// never left — it is not reported again. For both kinds of reader: those whose find fails while a
// read card stays, and those whose find succeeds again (RefindAfterRead).
func TestReaderProbeHiccup(t *testing.T) {
	t.Parallel()
	for _, refind := range []bool{false, true} {
		g := newRig(t, idcardsim.Options{RefindAfterRead: refind}, idcard.Options{})
		g.sim.PlaceCard(idcardsim.NewCard(resident))
		g.next()
		reads := g.sim.Count(0x30, 0x01)
		// A probe reply with a bad checksum is a link error, not a removal.
		g.sim.SetFaults(idcardsim.Faults{BadChecksum: 1})
		waitFor(t, "the corrupted probe", func() bool { return g.sim.Faults().BadChecksum == 0 })
		g.sim.Hiccup()
		waitFor(t, "a re-read", func() bool { return g.sim.Count(0x30, 0x01) > reads })
		probes := g.sim.Count(0x30, 0x03)
		waitFor(t, "probing again", func() bool { return g.sim.Count(0x30, 0x03) > probes })
		g.sim.Remove()
		g.sim.PlaceCard(idcardsim.NewCard(foreigner2017))
		if c := g.next(); c.Number != foreigner2017.Number {
			t.Fatalf("refind=%v: got %s again after a hiccup, want the next card", refind, c.Name)
		}
	}
}

// The card removed mid-read: no half card; the next card is read cleanly.
func TestReaderCardRemovedMidRead(t *testing.T) {
	g := newRig(t, idcardsim.Options{ReadDelay: 5 * time.Millisecond}, idcard.Options{})
	g.sim.SetFaults(idcardsim.Faults{RemoveMidRead: true})
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	waitFor(t, "the interrupted read", func() bool { return g.sim.Count(0x30, 0x01) == 1 && !g.sim.HasCard() })
	g.sim.PlaceCard(idcardsim.NewCard(foreigner2023))
	if c := g.next(); c.Number != foreigner2023.Number {
		t.Fatalf("got %q, want the second card only", c.Name)
	}
}

// The card moved in the field: reads fail with 41 while it stays; the driver retries and reports
// it once.
func TestReaderRetriesFailedRead(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	g.sim.SetFaults(idcardsim.Faults{FailReads: 2})
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatal(c.Name)
	}
	if n := g.sim.Count(0x30, 0x01); n != 3 {
		t.Errorf("%d reads, want 2 failed + 1", n)
	}
	g.sim.Remove()
	g.sim.PlaceCard(idcardsim.NewCard(hkmotw))
	if c := g.next(); c.Number != hkmotw.Number {
		t.Fatalf("got %s, want the next card (the first one once only)", c.Name)
	}
}

// Line faults on every reply: the reader still delivers exactly the card placed.
func TestReaderLineFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		f    idcardsim.Faults
	}{
		{"noise", idcardsim.Faults{Noise: 9}},
		{"split writes with delays", idcardsim.Faults{SplitChunk: 100, SplitDelay: 2 * time.Millisecond}},
		{"bad checksum", idcardsim.Faults{BadChecksum: 4}},
		{"truncated then whole", idcardsim.Faults{Truncate: 4}},
		{"cut", idcardsim.Faults{Cut: 2}},
		{"slow SAM", idcardsim.Faults{SlowSAM: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, idcardsim.Options{}, idcard.Options{})
			waitFor(t, "the reader to connect", func() bool { return g.r.Health().State == device.OK })
			g.sim.SetFaults(tc.f)
			g.sim.PlaceCard(idcardsim.NewCard(foreigner2023))
			if c := g.next(); c.Number != foreigner2023.Number || c.Name != foreigner2023.Name {
				t.Fatalf("got %q", c.Name)
			}
			g.sim.Remove()
			g.sim.SetFaults(idcardsim.Faults{})
			g.sim.PlaceCard(idcardsim.NewCard(resident))
			if c := g.next(); c.Number != resident.Number {
				t.Fatalf("then got %q", c.Name)
			}
		})
	}
}

// A line that needs repairs works, and shows as degraded so a technician looks at it.
func TestReaderNoisyLineDegraded(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	waitFor(t, "the reader to connect", func() bool { return g.r.Health().State == device.OK })
	g.sim.SetFaults(idcardsim.Faults{Noise: 5})
	waitFor(t, "degraded: noisy line", func() bool {
		h := g.r.Health()
		return h.State == device.Degraded && strings.HasPrefix(h.Reason, "noisy line")
	})
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatal(c.Name)
	}
}

// Repeated SAM errors make the driver reset the SAM, after which it reads cards again.
func TestReaderResetsSAM(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	waitFor(t, "the reader to connect", func() bool { return g.r.Health().State == device.OK })
	g.sim.SetFaults(idcardsim.Faults{SAMFailure: 0x60})
	waitFor(t, "a SAM reset", func() bool { return g.sim.Count(0x10, 0xFF) > 0 })
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatal(c.Name)
	}
	if h := g.r.Health(); h.State != device.OK {
		t.Errorf("health after recovery: %v", h)
	}
	if !strings.Contains(g.logs.String(), "resetting the SAM") {
		t.Error("the reset is not logged")
	}
}

// `onepassctl selftest` opens the reader and tests it at once: SelfTest waits for the connection.
func TestReaderSelfTestRightAfterOpen(t *testing.T) {
	_, p := startSim(t, idcardsim.Options{})
	r, err := idcard.Open(context.Background(), idcard.Options{Port: p.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.SelfTest(ctxT(t)); err != nil {
		t.Errorf("self-test right after open: %v", err)
	}
	r2, _ := idcard.Open(context.Background(), idcard.Options{Port: filepath.Join(t.TempDir(), "ttyUSB0")})
	defer r2.Close()
	if err := r2.SelfTest(ctxT(t)); err == nil || !strings.Contains(err.Error(), "port gone") {
		t.Errorf("self-test without a port: %v", err)
	}
}

// A SAM that stays broken: the reader is down with the reason, and SelfTest says so.
func TestReaderBrokenSAM(t *testing.T) {
	t.Parallel()
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	waitFor(t, "the reader to connect", func() bool { return g.r.Health().State == device.OK })
	if err := g.r.SelfTest(ctxT(t)); err != nil {
		t.Fatalf("self-test: %v", err)
	}
	g.sim.SetFaults(idcardsim.Faults{SAMFailure: 0x60, SAMSticky: true})
	waitFor(t, "the reader to go down", func() bool {
		h := g.r.Health()
		return h.State == device.Down && strings.Contains(h.Reason, "SAM self-test failed")
	})
	if err := g.r.SelfTest(ctxT(t)); !errors.Is(err, idcard.StatusSelfTest) {
		t.Errorf("self-test of a broken SAM: %v", err)
	}
	g.sim.SetFaults(idcardsim.Faults{})
	waitFor(t, "the reader to recover", func() bool { return g.r.Health().State == device.OK })
}

// A SAM not authorised at start: down with the reason; SAM ID is never reached.
func TestReaderUnauthorisedSAM(t *testing.T) {
	s, p := startSim(t, idcardsim.Options{})
	s.SetFaults(idcardsim.Faults{SAMFailure: 0x66, SAMSticky: true})
	r, err := idcard.Open(context.Background(), idcard.Options{Port: p.Path(), PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "down: SAM not authorised", func() bool { return r.Health().String() == "down: SAM: SAM not authorised" })
}

// The USB reader unplugged and plugged back: down "port gone" meanwhile, then cards again. The
// port is a symlink, as a udev rule makes one, so the new pseudo-terminal appears at the same path.
func TestReaderReconnects(t *testing.T) {
	link := filepath.Join(t.TempDir(), "onepass-reader")
	s, p := startSim(t, idcardsim.Options{})
	if err := os.Symlink(p.Path(), link); err != nil {
		t.Fatal(err)
	}
	g := newRig(t, idcardsim.Options{}, idcard.Options{Port: link})
	g.sim, g.pty = s, p
	s.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatal(c.Name)
	}

	p.Close() // unplug
	os.Remove(link)
	waitFor(t, "down: port gone", func() bool { return g.r.Health().String() == "down: port gone" })
	if err := g.r.SelfTest(ctxT(t)); err == nil || !strings.Contains(err.Error(), "port gone") {
		t.Errorf("self-test while unplugged: %v", err)
	}

	s2, p2 := startSim(t, idcardsim.Options{}) // plug back in
	if err := os.Symlink(p2.Path(), link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reader back", func() bool { return g.r.Health().State == device.OK })
	s2.PlaceCard(idcardsim.NewCard(hkmotw))
	if c := g.next(); c.Number != hkmotw.Number {
		t.Fatal(c.Name)
	}
}

// A port that is not there at start is not a configuration error: the reader waits for it.
func TestReaderMissingPort(t *testing.T) {
	r, err := idcard.Open(context.Background(), idcard.Options{Port: filepath.Join(t.TempDir(), "ttyUSB9")})
	if err != nil {
		t.Fatalf("open with a missing port: %v", err)
	}
	defer r.Close()
	waitFor(t, "down: port gone", func() bool { return r.Health().String() == "down: port gone" })
}

// A SAM left at another rate: found by probing, cards read, and the health says what to fix.
func TestReaderFindsBaud(t *testing.T) {
	t.Parallel()
	g := newRig(t, idcardsim.Options{Baud: 9600}, idcard.Options{})
	waitFor(t, "degraded: wrong baud", func() bool {
		h := g.r.Health()
		return h.State == device.Degraded && strings.Contains(h.Reason, "answers at 9600 baud")
	})
	g.sim.PlaceCard(idcardsim.NewCard(resident))
	if c := g.next(); c.Number != resident.Number {
		t.Fatal(c.Name)
	}
	if h := g.r.Health(); h.State != device.Degraded {
		t.Errorf("health after a read: %v (the rate mismatch must stay visible)", h)
	}
}

// Not a port the reader answers on: down with a reason naming the port.
func TestReaderSilent(t *testing.T) {
	t.Parallel()
	s, p := startSim(t, idcardsim.Options{})
	s.SetFaults(idcardsim.Faults{Silent: true})
	r, err := idcard.Open(context.Background(), idcard.Options{Port: p.Path()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "down: no answer", func() bool {
		h := r.Health()
		return h.State == device.Down && strings.Contains(h.Reason, "no answer from the reader on "+p.Path())
	})
}

// Neither the number, the name nor the photo reaches the log, even at debug level.
func TestReaderLogsNoPersonalData(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	bad := resident
	bad.Number = "110101199003074478" // fails the check digit: logged as a problem, without the number
	for _, c := range []device.Card{resident, bad, foreigner2023} {
		g.sim.Remove()
		g.sim.Place(c)
		g.next()
	}
	logs := g.logs.String()
	if !strings.Contains(logs, "check digit") {
		t.Errorf("the bad check digit is not logged:\n%s", logs)
	}
	for _, secret := range []string{resident.Number, bad.Number, foreigner2023.Number, resident.Name, foreigner2023.Name, "19900307"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
}

func TestReaderClose(t *testing.T) {
	g := newRig(t, idcardsim.Options{}, idcard.Options{})
	done := make(chan error)
	go func() {
		_, err := g.r.Next(context.Background())
		done <- err
	}()
	g.r.Close()
	if err := <-done; err == nil {
		t.Error("Next after Close returned no error")
	}
	g.r.Close() // twice is fine
}

// Through the registry, as onepassd opens it from [reader].
func TestRegistry(t *testing.T) {
	_, p := startSim(t, idcardsim.Options{})
	ctx := ctxT(t)
	r, err := device.OpenCardReader(ctx, "ga467", device.Params{"port": p.Path(), "baud": int64(115200), "poll_interval": "20ms", "fingerprint": false})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "ok", func() bool { return r.Health().State == device.OK })
	for _, tc := range []struct {
		params device.Params
		want   string
	}{
		{device.Params{"prot": "/dev/ttyUSB0"}, "unknown key \"prot\""},
		{device.Params{}, "port: missing"},
		{device.Params{"port": "/dev/x", "baud": int64(12345)}, "baud: 12345"},
		{device.Params{"port": "/dev/x", "poll_interval": "fast"}, `key "poll_interval": "fast" is not a duration`},
		{device.Params{"port": "/dev/x", "poll_interval": "1h"}, "poll_interval"},
	} {
		r, err := device.OpenCardReader(ctx, "ga467", tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.params, err, tc.want)
		}
		if r != nil {
			t.Errorf("%v: a part came back with the error", tc.params)
		}
	}
}
