package mlxsim

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/physic"
)

// readWord reads a word the way the datasheet describes it, checking the PEC independently.
func readWord(t *testing.T, s *Sensor, addr uint16, cmd byte) (uint16, error) {
	t.Helper()
	r := make([]byte, 3)
	if err := s.Tx(addr, []byte{cmd}, r); err != nil {
		return 0, err
	}
	sa := byte(addr << 1)
	if pec(sa, cmd, sa|1, r[0], r[1]) != r[2] {
		t.Fatalf("read 0x%02x at 0x%02x: bad PEC", cmd, addr)
	}
	return uint16(r[0]) | uint16(r[1])<<8, nil
}

func writeWord(s *Sensor, addr uint16, cmd byte, v uint16) error {
	sa := byte(addr << 1)
	lo, hi := byte(v), byte(v>>8)
	return s.Tx(addr, []byte{cmd, lo, hi, pec(sa, cmd, lo, hi)}, nil)
}

func TestAddressing(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := New(Options{Clock: clock})
	if _, err := readWord(t, s, 0x5B, 0x06); !errors.Is(err, ErrNACK) {
		t.Errorf("another address answered: %v", err)
	}
	if v, err := readWord(t, s, 0x00, 0x2E); err != nil || v&0x7F != 0x5A {
		t.Errorf("SA 0 read of the address cell: 0x%04X, %v", v, err)
	}
	// A new address takes effect only after a power cycle.
	if err := writeWord(s, 0, 0x2E, 0); err != nil {
		t.Fatal(err)
	}
	clock.Advance(EEPROMWriteTime)
	if err := writeWord(s, 0, 0x2E, 0xBE5B); err != nil {
		t.Fatal(err)
	}
	clock.Advance(EEPROMWriteTime)
	if _, err := readWord(t, s, 0x5A, 0x06); err != nil {
		t.Errorf("old address before the power cycle: %v", err)
	}
	s.PowerCycle()
	if _, err := readWord(t, s, 0x5B, 0x06); err != nil {
		t.Errorf("new address after the power cycle: %v", err)
	}
}

func TestProtocolEdges(t *testing.T) {
	s := New(Options{Clock: clockwork.NewFakeClock()})
	tests := []struct {
		name string
		w    []byte
		rlen int
	}{
		{"quick command", nil, 0},
		{"read byte", []byte{0x07}, 1},
		{"block read", []byte{0x07}, 8},
		{"read flags", []byte{0xF0}, 3},
		{"write to RAM", []byte{0x07, 0, 0, pec(0xB4, 0x07, 0, 0)}, 0},
		{"write to the ID", []byte{0x3C, 0, 0, pec(0xB4, 0x3C, 0, 0)}, 0},
		{"unknown command", []byte{0x42, pec(0xB4, 0x42)}, 0},
	}
	for _, tt := range tests {
		if err := s.Tx(0x5A, tt.w, make([]byte, tt.rlen)); !errors.Is(err, ErrNACK) {
			t.Errorf("%s: %v, want NACK", tt.name, err)
		}
	}
	if err := s.SetSpeed(400 * physic.KiloHertz); err == nil {
		t.Error("400 kHz accepted; the part is SMBus, 100 kHz at most")
	}
	if err := s.SetSpeed(100 * physic.KiloHertz); err != nil {
		t.Error(err)
	}
	// Sleep (0xFF with PEC 0xE8), then nothing answers until woken.
	if err := s.Tx(0x5A, []byte{0xFF, 0xE8}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := readWord(t, s, 0x5A, 0x06); !errors.Is(err, ErrNACK) {
		t.Errorf("asleep but answered: %v", err)
	}
	s.Wake()
	if _, err := readWord(t, s, 0x5A, 0x06); err != nil {
		t.Errorf("after wake: %v", err)
	}
}

func TestPersonModel(t *testing.T) {
	clock := clockwork.NewFakeClock()
	// A forehead 1.7 °C cooler than the body in a 25 °C room.
	s := New(Options{Clock: clock, Skin: func(body, amb float64) float64 { return body - 1.7 }})
	obj := func() float64 {
		clock.Advance(250 * time.Millisecond)
		v, err := readWord(t, s, 0x5A, 0x07)
		if err != nil {
			t.Fatal(err)
		}
		return float64(v)*0.02 - 273.15
	}
	s.Person(36.6)
	got := []float64{obj(), obj(), obj(), obj(), obj(), obj(), obj(), obj()}
	if got[0] > 25.1 || got[1] > 25.1 || got[2] < 30 || got[7] < 34.85 || got[7] > 34.92 {
		t.Errorf("stepping in: %.2f", got)
	}
	for i := 3; i < len(got); i++ {
		if got[i] < got[i-1]-0.02 {
			t.Errorf("the reading falls while the person settles: %.2f", got)
		}
	}
	s.Person(38.1) // the next person: the lane empties for two readings first
	if a, b := obj(), obj(); a > 25.1 || b > 25.1 {
		t.Errorf("no gap between people: %.2f %.2f", a, b)
	}
	for range 8 {
		obj()
	}
	if c := obj(); c < 36.35 || c > 36.45 {
		t.Errorf("second person: %.2f, want 36.4", c)
	}
}

// FuzzTx sends arbitrary transactions: the emulator never panics, and whatever it answers to a
// read word carries a correct PEC unless a fault was injected.
func FuzzTx(f *testing.F) {
	f.Add(uint16(0x5A), []byte{0x07}, 3)
	f.Add(uint16(0x5A), []byte{0x24, 0x00, 0x00, 0x9A}, 0)
	f.Add(uint16(0x00), []byte{0x60, 0x00}, 0)
	f.Add(uint16(0x5A), []byte{}, 2)
	f.Add(uint16(0x5A), []byte{0xFF, 0xE8}, 0)
	f.Fuzz(func(t *testing.T, addr uint16, w []byte, rlen int) {
		s := New(Options{Clock: clockwork.NewFakeClock(), NoiseC: 0.1})
		r := make([]byte, rlen&0x1F)
		err := s.Tx(addr, w, r)
		if err == nil && len(w) == 1 && len(r) == 3 {
			sa := byte(addr << 1)
			if pec(sa, w[0], sa|1, r[0], r[1]) != r[2] {
				t.Fatalf("answer %x to %x without a valid PEC", r, w)
			}
		}
	})
}

// obj0x07 reads Tobj1 in °C.
func obj0x07(t *testing.T, s *Sensor) float64 {
	t.Helper()
	v, err := readWord(t, s, 0x5A, 0x07)
	if err != nil {
		t.Fatal(err)
	}
	return float64(v)*0.02 - 273.15
}

// setConfig erases and writes ConfigRegister1, waiting out the EEPROM's write time.
func setConfig(t *testing.T, s *Sensor, clock *clockwork.FakeClock, v uint16) {
	t.Helper()
	for _, w := range []uint16{0, v} {
		if err := writeWord(s, 0x5A, 0x25, w); err != nil {
			t.Fatal(err)
		}
		clock.Advance(EEPROMWriteTime)
	}
}

// The filter model (Options.Filter): a new result every 145 ms at FIR 1024 (reads in between repeat
// it), the IIR of register 0x25 setting how fast a step settles and how much noise is left, and a
// written setting applying only at the next power-on.
func TestFilterModel(t *testing.T) {
	tests := []struct {
		name       string
		config     uint16  // written to 0x25 before the power cycle; 0: the factory word
		settleMax  int     // results until a 10 °C step is within 0.05 °C, at most
		noiseC     float64 // the rms of the results at rest
		firPeriodS float64
	}{
		// Factory DCH/DCI setting, IIR 50 %: 0.10 °C rms (NoiseC), ~0.65 s (4–5 results) to 95 %.
		{"factory IIR 50 %", 0, 9, 0.10, 0.145},
		{"IIR bypassed", 0x9FB4, 1, 0.173, 0.145},
		{"IIR 12.5 %", 0x9FB3, 40, 0.0378, 0.145},
		{"IIR bypassed, FIR 256: 4× the rate, 2× the noise", 0x9DB4, 1, 0.346, 0.03625},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clockwork.NewFakeClock()
			s := New(Options{Clock: clock, Filter: true, Tau: -1, NoiseC: 0.1, Seed: 5, GapReads: -1})
			if s.EEPROM(0x05) != FactoryConfigDCI {
				t.Fatalf("factory config 0x%04X", s.EEPROM(0x05))
			}
			if tt.config != 0 {
				setConfig(t, s, clock, tt.config)
				s.PowerCycle()
			}
			period := time.Duration(tt.firPeriodS * float64(time.Second))
			obj := func() float64 { return obj0x07(t, s) }
			// Between two results the register holds the same word.
			clock.Advance(period)
			a := obj()
			clock.Advance(period / 10)
			if b := obj(); a != b {
				t.Errorf("word changed between results: %.2f, %.2f", a, b)
			}
			// The step, without noise in the way: a quiet twin of the sensor.
			q := New(Options{Clock: clock, Filter: true, Tau: -1, GapReads: -1})
			if tt.config != 0 {
				setConfig(t, q, clock, tt.config)
				q.PowerCycle()
			}
			q.SetObject(35)
			n := 0
			for n = 1; n < 100; n++ {
				clock.Advance(period)
				if v := obj0x07(t, q); v > 34.95 {
					break
				}
			}
			if n > tt.settleMax {
				t.Errorf("a 10 °C step took %d results, want ≤ %d", n, tt.settleMax)
			}
			// Noise at rest: the rms over many results.
			s.SetObject(35)
			for range 100 {
				clock.Advance(period)
				obj()
			}
			var sum, sum2 float64
			const k = 4000
			for range k {
				clock.Advance(period)
				v := obj() - 35
				sum, sum2 = sum+v, sum2+v*v
			}
			rms := math.Sqrt(sum2/k - (sum/k)*(sum/k))
			if rms < 0.85*tt.noiseC || rms > 1.15*tt.noiseC {
				t.Errorf("noise %.3f °C rms, want %.3f", rms, tt.noiseC)
			}
		})
	}
}

// A filter written to the EEPROM applies only after a power-on reset, as on the part.
func TestFilterAppliesAtPowerOn(t *testing.T) {
	clock := clockwork.NewFakeClock()
	s := New(Options{Clock: clock, Filter: true, Tau: -1, GapReads: -1})
	setConfig(t, s, clock, 0x9FB4) // IIR bypassed
	s.SetObject(35)
	clock.Advance(ConversionPeriod)
	if v := obj0x07(t, s); v > 34 {
		t.Errorf("one result after the step reads %.2f: the new filter applied before a power cycle", v)
	}
	s.PowerCycle()
	clock.Advance(ConversionPeriod)
	if v := obj0x07(t, s); math.Abs(v-35) > 0.02 {
		t.Errorf("after a power cycle one result reads %.2f, want 35 (IIR bypassed)", v)
	}
}
