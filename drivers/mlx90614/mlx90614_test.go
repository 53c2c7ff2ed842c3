package mlx90614

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"onepass/drivers/mlx90614/mlxsim"
)

// Test vectors from the datasheet and an independent logic-analyser capture (spec §1.4).
func TestPECVectors(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		want  byte
	}{
		{"read Tobj1 0x3AD2 (datasheet fig. 8)", []byte{0xB4, 0x07, 0xB5, 0xD2, 0x3A}, 0x30},
		{"read Ta 0x3ADF (capture)", []byte{0xB4, 0x06, 0xB5, 0xDF, 0x3A}, 0xCF},
		{"write EEPROM 0x02 = 0xC807 (fig. 9)", []byte{0xB4, 0x22, 0x07, 0xC8}, 0x48},
		{"enter sleep (fig. 11)", []byte{0xB4, 0xFF}, 0xE8},
		{"erase 0x0E via SA 0 (AN p19)", []byte{0x00, 0x2E, 0x00, 0x00}, 0x6F},
		{"write 0x0E = 0x005A via SA 0", []byte{0x00, 0x2E, 0x5A, 0x00}, 0xE1},
		{"empty", nil, 0x00},
	}
	for _, tt := range tests {
		if got := PEC(tt.bytes...); got != tt.want {
			t.Errorf("%s: PEC = 0x%02X, want 0x%02X", tt.name, got, tt.want)
		}
	}
}

func TestConversion(t *testing.T) {
	tests := []struct {
		raw  uint16
		want string
	}{
		{0x3AF7, "28.750°C"}, // datasheet §8.7.2 worked example
		{0x3AD2, "28.010°C"},
		{0x3ADF, "28.270°C"},
		{Raw(36.61), "36.610°C"},
	}
	for _, tt := range tests {
		if got := Temperature(tt.raw).String(); got != tt.want {
			t.Errorf("Temperature(0x%04X) = %s, want %s", tt.raw, got, tt.want)
		}
	}
}

// noSleep makes retries and EEPROM waits instant in tests that do not care about the time.
var noSleep = &Opts{Sleep: func(time.Duration) {}}

func newDev(t *testing.T, bus i2c.Bus, o *Opts) *Dev {
	t.Helper()
	if p, ok := bus.(*i2ctest.Playback); ok {
		// Every scripted transaction must have happened.
		t.Cleanup(func() {
			if err := p.Close(); err != nil {
				t.Errorf("playback: %v", err)
			}
		})
	}
	d, err := New(bus, DefaultAddr, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Byte-exact transcripts: what the driver puts on the bus and how it reads the answers.
func TestPlayback(t *testing.T) {
	ta := i2ctest.IO{Addr: 0x5A, W: []byte{0x06}, R: []byte{0xDF, 0x3A, 0xCF}}     // 28.27 °C
	obj := i2ctest.IO{Addr: 0x5A, W: []byte{0x07}, R: []byte{0xD2, 0x3A, 0x30}}    // 28.01 °C
	badPEC := i2ctest.IO{Addr: 0x5A, W: []byte{0x07}, R: []byte{0xD2, 0x3A, 0x31}} // one bit off
	flagged := i2ctest.IO{Addr: 0x5A, W: []byte{0x07}, R: []byte{0xD2, 0xBA, PEC(0xB4, 0x07, 0xB5, 0xD2, 0xBA)}}
	zero := i2ctest.IO{Addr: 0x5A, W: []byte{0x06}, R: []byte{0x00, 0x00, PEC(0xB4, 0x06, 0xB5, 0, 0)}}

	tests := []struct {
		name    string
		ops     []i2ctest.IO
		wantErr error
		wantTa  string
		wantObj string
		stats   Stats
	}{
		{"clean", []i2ctest.IO{ta, obj}, nil, "28.270°C", "28.010°C", Stats{Transactions: 2}},
		{"bad PEC retried", []i2ctest.IO{ta, badPEC, obj}, nil, "28.270°C", "28.010°C", Stats{Transactions: 3, PECErrors: 1, Retries: 1}},
		{"bad PEC three times", []i2ctest.IO{ta, badPEC, badPEC, badPEC}, ErrPEC, "", "", Stats{Transactions: 4, PECErrors: 3, Retries: 2}},
		{"error flag rejected, not retried", []i2ctest.IO{ta, flagged}, ErrFlag, "", "", Stats{Transactions: 2, FlagErrors: 1}},
		{"no conversion yet", []i2ctest.IO{zero}, ErrRange, "", "", Stats{Transactions: 1, RangeErrors: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDev(t, &i2ctest.Playback{Ops: tt.ops}, noSleep)
			s, err := d.Sense()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sense: %v, want %v", err, tt.wantErr)
			}
			if err == nil && (s.Ambient.String() != tt.wantTa || s.Object.String() != tt.wantObj) {
				t.Errorf("Sense = Ta %s, Tobj %s; want %s, %s", s.Ambient, s.Object, tt.wantTa, tt.wantObj)
			}
			if got := d.Stats(); got != tt.stats {
				t.Errorf("stats %+v, want %+v", got, tt.stats)
			}
		})
	}
}

func TestPlaybackWrites(t *testing.T) {
	// Datasheet fig. 9: write 0xC807 to EEPROM 0x02 → B4 22 07 C8 48.
	d := newDev(t, &i2ctest.Playback{Ops: []i2ctest.IO{{Addr: 0x5A, W: []byte{0x22, 0x07, 0xC8, 0x48}}}}, noSleep)
	if err := d.WriteWord(0x22, 0xC807); err != nil {
		t.Fatal(err)
	}

	// The emissivity procedure, byte by byte: ε 1.0 → 0.98 rescales 0x2F by 65535/64224.
	newE := EmissivityWord(0.98)
	cal := uint16(0x1D6B)
	newCal := uint16(float64(0xFFFF)*float64(cal)/float64(newE) + 0.5)
	rd := func(cmd byte, v uint16) i2ctest.IO {
		lo, hi := byte(v), byte(v>>8)
		return i2ctest.IO{Addr: 0x5A, W: []byte{cmd}, R: []byte{lo, hi, PEC(0xB4, cmd, 0xB5, lo, hi)}}
	}
	wr := func(cmd byte, v uint16) i2ctest.IO {
		lo, hi := byte(v), byte(v>>8)
		return i2ctest.IO{Addr: 0x5A, W: []byte{cmd, lo, hi, PEC(0xB4, cmd, lo, hi)}}
	}
	cmd := func(c byte) i2ctest.IO { return i2ctest.IO{Addr: 0x5A, W: []byte{c, PEC(0xB4, c)}} }
	var slept []time.Duration
	d = newDev(t, &i2ctest.Playback{Ops: []i2ctest.IO{
		rd(0x24, 0xFFFF), rd(0x2F, cal), cmd(0x60),
		wr(0x24, 0), wr(0x24, newE), rd(0x24, newE),
		wr(0x2F, 0), wr(0x2F, newCal), rd(0x2F, newCal),
		cmd(0x61),
	}}, &Opts{Sleep: func(d time.Duration) { slept = append(slept, d) }})
	if err := d.SetEmissivity(0.98); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 4 || slept[0] < 5*time.Millisecond {
		t.Errorf("EEPROM waits %v: want four of at least 5 ms (after each erase and write)", slept)
	}
}

func TestRecordMatchesCapture(t *testing.T) {
	// The emulator, recorded through i2ctest.Record, answers Ta 28.27 °C with exactly the bytes
	// of the independent hardware capture.
	clock := clockwork.NewFakeClock()
	sim := mlxsim.New(mlxsim.Options{AmbientC: 28.27, Clock: clock})
	rec := &i2ctest.Record{Bus: sim}
	d, _ := New(rec, DefaultAddr, noSleep)
	if _, err := d.Ambient(); err != nil {
		t.Fatal(err)
	}
	want := []i2ctest.IO{{Addr: 0x5A, W: []byte{0x06}, R: []byte{0xDF, 0x3A, 0xCF}}}
	if fmt.Sprint(rec.Ops) != fmt.Sprint(want) {
		t.Errorf("recorded %#v, want %#v", rec.Ops, want)
	}
}

func TestEmulatedFaults(t *testing.T) {
	tests := []struct {
		name    string
		fault   mlxsim.Fault
		n       int
		wantErr error // nil: recovered by retries
		stats   Stats
	}{
		{"one NACK", mlxsim.NACK, 1, nil, Stats{Transactions: 3, BusErrors: 1, Retries: 1}},
		{"two NACKs", mlxsim.NACK, 2, nil, Stats{Transactions: 4, BusErrors: 2, Retries: 2}},
		{"NACKs outlast the retries", mlxsim.NACK, 3, mlxsim.ErrNACK, Stats{Transactions: 3, BusErrors: 3, Retries: 2}},
		{"one bad PEC", mlxsim.BadPEC, 1, nil, Stats{Transactions: 3, PECErrors: 1, Retries: 1}},
		{"bad PECs outlast the retries", mlxsim.BadPEC, 5, ErrPEC, Stats{Transactions: 3, PECErrors: 3, Retries: 2}},
		{"error flag", mlxsim.ErrorFlag, 1, ErrFlag, Stats{Transactions: 1, FlagErrors: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := mlxsim.New(mlxsim.Options{Clock: clockwork.NewFakeClock()})
			d := newDev(t, sim, noSleep)
			sim.Inject(tt.fault, tt.n)
			s, err := d.Sense()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sense: %v, want %v", err, tt.wantErr)
			}
			if c := s.Ambient.Celsius(); err == nil && (c < 24.99 || c > 25.01) { // 25 °C on the 0.02 K grid
				t.Errorf("ambient %v", s.Ambient)
			}
			if got := d.Stats(); got != tt.stats {
				t.Errorf("stats %+v, want %+v", got, tt.stats)
			}
		})
	}
}

func TestIgnorePEC(t *testing.T) {
	sim := mlxsim.New(mlxsim.Options{Clock: clockwork.NewFakeClock()})
	d := newDev(t, sim, &Opts{IgnorePEC: true, Sleep: func(time.Duration) {}})
	sim.Inject(mlxsim.BadPEC, 2)
	if _, err := d.Sense(); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.PECErrors != 2 || st.Transactions != 2 {
		t.Errorf("stats %+v: bad PECs are counted, not retried", st)
	}
}

func TestEmissivityOnTheEmulator(t *testing.T) {
	clock := clockwork.NewFakeClock()
	sim := mlxsim.New(mlxsim.Options{Clock: clock})
	// The driver's waits advance the emulator's clock: a driver that did not wait would meet a
	// busy EEPROM (NACK) and the counters below would show it.
	d := newDev(t, sim, &Opts{Sleep: clock.Advance})
	oldCal := sim.EEPROM(0x0F)
	if err := d.SetEmissivity(0.95); err != nil {
		t.Fatal(err)
	}
	e, w, err := d.Emissivity()
	if err != nil || w != 0xF332 || fmt.Sprintf("%.3f", e) != "0.950" {
		t.Fatalf("emissivity %v (0x%04X), %v", e, w, err)
	}
	if want := uint16(float64(0xFFFF)*float64(oldCal)/float64(w) + 0.5); sim.EEPROM(0x0F) != want {
		t.Errorf("0x2F = 0x%04X, want 0x%04X", sim.EEPROM(0x0F), want)
	}
	if st := d.Stats(); st.BusErrors != 0 || st.Retries != 0 {
		t.Errorf("stats %+v: the driver did not wait for the EEPROM", st)
	}
	// The same value again writes nothing.
	before := sim.Transactions()
	if err := d.SetEmissivity(0.95); err != nil || sim.Transactions() != before+1 {
		t.Errorf("rewriting the same emissivity: %v, %d transactions", err, sim.Transactions()-before)
	}
	for _, bad := range []float64{0, 0.05, 1.01} {
		if err := d.SetEmissivity(bad); err == nil {
			t.Errorf("emissivity %g accepted", bad)
		}
	}
}

func TestEEPROMRules(t *testing.T) {
	clock := clockwork.NewFakeClock()
	sim := mlxsim.New(mlxsim.Options{Clock: clock})
	impatient := newDev(t, sim, &Opts{Retries: -1, Sleep: func(time.Duration) {}})
	// Erase, then write at once: the EEPROM is still busy and does not acknowledge.
	if err := impatient.WriteWord(EEEmissivity, 0); err != nil {
		t.Fatal(err)
	}
	if err := impatient.WriteWord(EEEmissivity, 0xF332); !errors.Is(err, mlxsim.ErrNACK) {
		t.Fatalf("write during the EEPROM's busy time: %v", err)
	}
	clock.Advance(EEPROMWait)
	// Writing over a cell that was not erased does not take; the read-back shows it.
	d := newDev(t, sim, &Opts{Sleep: clock.Advance})
	if err := d.WriteWord(EEConfig1, 0x1234); err != nil {
		t.Fatal(err)
	}
	clock.Advance(EEPROMWait)
	if v, _ := d.ReadWord(EEConfig1); v != 0x9FB4 {
		t.Errorf("config register 0x%04X after a write without erase", v)
	}
	// The emissivity calibration cell is locked outside the unlock/lock commands.
	if err := d.WriteWord(EEEmisCal, 0); !errors.Is(err, mlxsim.ErrNACK) {
		t.Errorf("locked cell written: %v", err)
	}
	// A wrong PEC on a write is refused.
	if err := sim.Tx(0x5A, []byte{0x24, 0x00, 0x00, 0x00}, nil); !errors.Is(err, mlxsim.ErrNACK) {
		t.Errorf("bad write PEC accepted: %v", err)
	}
	if err := d.WriteEEPROM(RegTa, 1); err == nil || !strings.Contains(err.Error(), "not an EEPROM command") {
		t.Errorf("WriteEEPROM to RAM: %v", err)
	}
}

func TestID(t *testing.T) {
	sim := mlxsim.New(mlxsim.Options{Clock: clockwork.NewFakeClock(), ID: [4]uint16{1, 2, 3, 4}})
	d := newDev(t, sim, noSleep)
	if id, err := d.ID(); err != nil || id != 0x0001000200030004 {
		t.Errorf("ID %016x, %v", id, err)
	}
	if _, err := New(sim, 0x80, nil); err == nil {
		t.Error("10-bit address accepted")
	}
}

// FuzzDecodeRead feeds arbitrary answers to the read-word decoder: it never panics, accepts an
// answer exactly when its PEC matches, and the temperature check accepts exactly the words a
// sensor can report.
func FuzzDecodeRead(f *testing.F) {
	f.Add(uint8(0x5A), uint8(0x07), uint8(0xD2), uint8(0x3A), uint8(0x30))
	f.Add(uint8(0x5A), uint8(0x06), uint8(0xDF), uint8(0x3A), uint8(0xCF))
	f.Add(uint8(0x5A), uint8(0x07), uint8(0xFF), uint8(0xFF), uint8(0x00))
	f.Add(uint8(0x00), uint8(0x24), uint8(0x00), uint8(0x00), uint8(0x00))
	f.Fuzz(func(t *testing.T, addr, cmd, lo, hi, p uint8) {
		a := uint16(addr & 0x7F)
		v, err := decodeRead(a, cmd, [3]byte{lo, hi, p})
		ok := p == PEC(byte(a<<1), cmd, byte(a<<1)|1, lo, hi)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrPEC)) {
			t.Fatalf("decodeRead: %v, PEC ok %v", err, ok)
		}
		if v != uint16(lo)|uint16(hi)<<8 {
			t.Fatalf("value 0x%04X from %02X %02X", v, lo, hi)
		}
		terr := checkTemp(cmd, v)
		switch {
		case v&0x8000 != 0:
			if !errors.Is(terr, ErrFlag) {
				t.Fatalf("flagged 0x%04X: %v", v, terr)
			}
		case terr == nil:
			c := Temperature(v).Celsius()
			if c < -70.02 || c > 382.2 || (cmd == RegTa && (c < -38.3 || c > 125.1)) {
				t.Fatalf("0x%04X (%.2f °C) accepted for 0x%02X", v, c, cmd)
			}
		case !errors.Is(terr, ErrRange):
			t.Fatalf("0x%04X: %v", v, terr)
		}
	})
}
