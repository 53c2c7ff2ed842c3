package mlx90614

import (
	"testing"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"

	"onepass/drivers/mlx90614/mlxsim"
)

// writeCounter counts the write-word transactions (EEPROM erase or write) reaching the sensor.
type writeCounter struct {
	*mlxsim.Sensor
	writes int
}

func (w *writeCounter) Tx(addr uint16, wb, r []byte) error {
	if len(wb) == 4 {
		w.writes++
	}
	return w.Sensor.Tx(addr, wb, r)
}

func TestSetFilter(t *testing.T) {
	tests := []struct {
		name   string
		iir    float64
		fir    int
		want   uint16 // ConfigRegister1 afterwards; the factory word is 0x9FB4
		writes int    // erase + write, or nothing
		err    bool
	}{
		{"already so: not written", 1, 1024, 0x9FB4, 0, false},
		{"IIR 50 %", 0.5, 1024, 0x9FB0, 2, false},
		{"IIR 0.125, FIR 128: other bits kept", 0.125, 128, 0x9CB3, 2, false},
		{"IIR 0.67 given as 0.667", 0.667, 512, 0x9EB6, 2, false},
		{"no such IIR", 0.3, 1024, 0x9FB4, 0, true},
		{"FIR 64 is not recommended", 1, 64, 0x9FB4, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := clockwork.NewFakeClock()
			bus := &writeCounter{Sensor: mlxsim.New(mlxsim.Options{Clock: clock})}
			d, _ := New(bus, DefaultAddr, &Opts{Sleep: clock.Advance})
			wrote, err := d.SetFilter(tt.iir, tt.fir)
			if (err != nil) != tt.err || wrote != (tt.writes > 0) {
				t.Fatalf("SetFilter(%g, %d) = %v, %v", tt.iir, tt.fir, wrote, err)
			}
			if got := bus.EEPROM(0x05); got != tt.want || bus.writes != tt.writes {
				t.Errorf("config 0x%04X after %d writes; want 0x%04X after %d", got, bus.writes, tt.want, tt.writes)
			}
			if iir, fir := Filter(bus.EEPROM(0x05)); !tt.err && tt.writes > 0 && (fir != tt.fir || iir-tt.iir > 0.01 || tt.iir-iir > 0.01) {
				t.Errorf("decoded back as IIR %g FIR %d", iir, fir)
			}
		})
	}
}

// The Thermometer writes the configured filter at its first open, once: not again on a reconnect,
// and not at all when the part already has it.
func TestThermometerWritesTheFilterOnce(t *testing.T) {
	clock := clockwork.NewFakeClock()
	bus := &writeCounter{Sensor: mlxsim.New(mlxsim.Options{Clock: clock})}
	opts := ThermometerOptions{Clock: clock, Dev: Opts{Sleep: clock.Advance},
		Open: func(string) (i2c.BusCloser, error) { return bus, nil }}
	cfg := Config{Bus: "sim", Address: DefaultAddr, IIR: 0.5, FIR: 1024}
	th := NewThermometer(cfg, opts)
	if bus.EEPROM(0x05) != 0x9FB0 || bus.writes != 2 {
		t.Fatalf("after open: config 0x%04X, %d writes", bus.EEPROM(0x05), bus.writes)
	}
	// Five failed reads close the bus; the next read reopens it.
	bus.Inject(mlxsim.NACK, 15)
	for range 5 {
		clock.Advance(poll)
		if _, err := th.Read(t.Context()); err == nil {
			t.Fatal("read through NACKs")
		}
	}
	bus.Clear()
	clock.Advance(maxBackoff)
	if _, err := th.Read(t.Context()); err != nil {
		t.Fatal(err)
	}
	th.Close()
	th = NewThermometer(cfg, opts) // a daemon restart: the part has the setting already
	defer th.Close()
	if bus.writes != 2 {
		t.Errorf("%d writes after a reconnect and a restart, want the first 2 only", bus.writes)
	}
	// Zero leaves the part alone; an invalid setting is a configuration error.
	if err := (Config{Bus: "x", Address: DefaultAddr, IIR: 0.3, FIR: 1024}).Validate(); err == nil {
		t.Error("IIR 0.3 validated")
	}
	if err := (Config{Bus: "x", Address: DefaultAddr}).Validate(); err != nil {
		t.Error(err)
	}
}

// A bus that fails while the register is read writes nothing; the next attempt works.
func TestSetFilterBusError(t *testing.T) {
	clock := clockwork.NewFakeClock()
	sim := mlxsim.New(mlxsim.Options{Clock: clock})
	d, _ := New(sim, DefaultAddr, &Opts{Sleep: clock.Advance})
	sim.Inject(mlxsim.NACK, 3) // the read of 0x25 fails three times: no write at all
	if _, err := d.SetFilter(0.5, 1024); err == nil || sim.EEPROM(0x05) != 0x9FB4 {
		t.Fatalf("err %v, config 0x%04X", err, sim.EEPROM(0x05))
	}
	if wrote, err := d.SetFilter(0.5, 1024); err != nil || !wrote || sim.EEPROM(0x05) != 0x9FB0 {
		t.Fatalf("second attempt: %v, %v", wrote, err)
	}
}
