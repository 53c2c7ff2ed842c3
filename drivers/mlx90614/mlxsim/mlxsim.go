// Package mlxsim emulates an MLX90614 behind periph's i2c.Bus: the far end of the SMBus protocol,
// so tests and `onepassd --sim` run the real mlx90614 driver down to the bus call. It keeps the RAM
// and EEPROM words, answers read words with a correct PEC, checks the PEC of writes (NACK when it
// is wrong), enforces the erase-before-write rule of the EEPROM and its write time, and models a
// forehead in front of the lens: a person steps in (Person), the reading approaches the skin
// temperature as the optics and the sensor's filter settle, with thermopile noise, and falls back
// to the room when the person leaves (Leave). Faults are injected per transaction: NACK, bad PEC,
// the error flag, and a frozen ("stuck") register file.
//
// It is a second implementation of the protocol written from the datasheet, not a copy of the
// driver: a driver bug in PEC or byte order makes the two disagree.
package mlxsim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
)

// ErrNACK is what the emulated bus returns when the sensor does not acknowledge, standing in for
// the kernel's EREMOTEIO / ENXIO.
var ErrNACK = errors.New("mlxsim: NACK (remote I/O error)")

// Fault is an injected failure.
type Fault int

// Faults, each affecting the next n transactions addressed to the sensor.
const (
	NACK      Fault = iota + 1 // the sensor does not answer
	BadPEC                     // a read answers with a corrupted PEC byte
	ErrorFlag                  // a temperature read answers with bit 15 set
)

func (f Fault) String() string {
	switch f {
	case NACK:
		return "nack"
	case BadPEC:
		return "bad-pec"
	case ErrorFlag:
		return "error-flag"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Options shape the emulated sensor and its surroundings. The zero value is a sensor at 0x5A in a
// 25 °C room, without noise, whose Person(c) puts an object of c °C in front of it.
type Options struct {
	Addr     uint16  // 0 means 0x5A
	AmbientC float64 // room (and die) temperature; 0 means 25 °C
	// Skin maps a person's body temperature to the forehead temperature the sensor sees at the
	// given ambient; nil means the sensor sees the body temperature itself. The daemon passes the
	// inverse of its skin-to-body compensation, so `onepassctl sim temp C` shows C.
	Skin func(bodyC, ambientC float64) float64
	// NoiseC is the rms thermopile noise on the object reading (datasheet table 8: 0.10 °C for
	// the DCH/DCI medical parts); Seed makes it repeatable. Ripple, if set and NoiseC is 0, is a
	// deterministic repeating noise pattern instead.
	NoiseC float64
	Seed   uint64
	Ripple []float64
	// Tau is the time constant of the reading approaching a new object temperature (a head moving
	// into the field of view plus the sensor's IIR/FIR filter); 0 means 150 ms, which settles to
	// 95 % in 0.45 s and to 0.05 °C of a 10 °C step in 0.8 s. Negative means instant.
	Tau time.Duration
	// Filter models the part's signal chain instead of a fresh sample per read (docs/thermometer.md
	// §4, "Filter model"): an object result every ConversionPeriod·N/1024 (N the FIR length,
	// ConfigRegister1 bits 10:8), the scene averaged over half of that (the IR half of a cycle
	// that also converts Ta), noise NoiseC·√3·√(1024/N) per result, then the IIR
	// y = a1·x + (1−a1)·y (bits 2:0). NoiseC is then the rms of the reading at the factory
	// setting of the DCH/DCI parts, IIR 50 % and FIR 1024 (0.10 °C, 0.65 s settling, datasheet
	// table 8), which this mode starts with; a new setting written to 0x25 applies at the next
	// PowerCycle, as on the part. Tau is then the scene alone (the head entering the field of
	// view); 0 means 50 ms: a 5° spot is 1.3 cm wide at 15 cm and a head crosses it at
	// 0.2–0.3 m/s.
	Filter bool
	// GapReads is how many object reads show an empty lane between one person and the next, so
	// a reader sees the previous person leave; 0 means 2, negative means none.
	GapReads int
	Clock    clockwork.Clock // nil: the real clock
	ID       [4]uint16       // the four ID words; zero means a fixed made-up ID
}

// Sensor is the emulated MLX90614. Its methods are safe for concurrent use.
type Sensor struct {
	mu     sync.Mutex
	o      Options
	addr   uint16
	ram    [32]uint16
	ee     [32]uint16
	rng    *rand.Rand
	ripple int
	clock  clockwork.Clock

	ambient float64
	// The object temperature follows target from start, beginning at t0 (first-order response).
	start, target float64
	t0            time.Time
	present       bool
	bodyC         float64
	gap           int // empty reads still to show before the person appears

	// The filter model (Options.Filter): the settings in force, the next result's time and the
	// IIR output.
	a1       float64
	firN     int
	period   time.Duration
	nextConv time.Time
	y        float64

	faults   map[Fault]int // remaining count; -1 = until cleared
	stuck    bool
	unlocked bool
	asleep   bool
	busyTill time.Time

	tx uint64
}

// New returns an emulated sensor with plausible EEPROM contents (ε = 1.0).
func New(o Options) *Sensor {
	if o.Addr == 0 {
		o.Addr = 0x5A
	}
	if o.AmbientC == 0 {
		o.AmbientC = 25
	}
	switch {
	case o.Tau == 0 && o.Filter:
		o.Tau = 50 * time.Millisecond
	case o.Tau == 0:
		o.Tau = 150 * time.Millisecond
	}
	if o.GapReads == 0 {
		o.GapReads = 2
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
	if o.ID == [4]uint16{} {
		o.ID = [4]uint16{0x1A2B, 0x3C4D, 0x5E6F, 0x0718}
	}
	s := &Sensor{o: o, addr: o.Addr, clock: o.Clock, ambient: o.AmbientC, faults: map[Fault]int{}}
	s.rng = rand.New(rand.NewPCG(o.Seed, o.Seed^0x9E3779B97F4A7C15))
	s.start, s.target, s.t0 = o.AmbientC, o.AmbientC, o.Clock.Now()
	// Plausible factory contents; the driver reads only 0x24, 0x25, 0x2F and the ID.
	s.ee[0x00] = 0x9993
	s.ee[0x01] = 0x62E3
	s.ee[0x02] = 0x0201
	s.ee[0x03] = 0xF71C
	s.ee[0x04] = 0xFFFF // emissivity 1.0
	s.ee[0x05] = 0x9FB4 // ConfigRegister1: single zone, factory filters
	s.ee[0x0E] = 0xBE00 | o.Addr
	s.ee[0x0F] = 0x1D6B // rescaled by Melexis's emissivity procedure
	copy(s.ee[0x1C:0x20], o.ID[:])
	s.ram[0x06] = raw(o.AmbientC)
	s.ram[0x07] = raw(o.AmbientC)
	s.ram[0x08] = raw(o.AmbientC)
	if o.Filter {
		s.ee[0x05] = FactoryConfigDCI
		s.applyConfig()
	}
	return s
}

// Filter model constants. ConversionPeriod is the time between object results at FIR = 1024:
// the IIR −3 dB bandwidths Melexis gives for FIR 1024 (Linux mlx90614 driver: 0.15, 0.20, 0.31,
// 0.77 Hz at a1 = 0.125, 0.167, 0.25, 0.5) all fit a one-pole filter updated every
// 0.142–0.149 s. FactoryConfigDCI is 0x9FB4 (the factory word of the standard parts: single zone,
// IIR bypassed, FIR 1024) with IIR 50 %, the setting whose 4.5 results match the 0.65 s settling
// time table 8 gives the DCH/DCI parts (an assumption: the table's per-part IIR is not quoted
// in specs/thermometer.md).
const (
	ConversionPeriod = 145 * time.Millisecond
	FactoryConfigDCI = 0x9FB0
)

// IIR returns the IIR coefficient a1 that ConfigRegister1 bits 2:0 select (datasheet table 7):
// 100 = 1 (bypassed), 101 = 0.8, 110 = 0.667, 111 = 0.571, 000 = 0.5, 001 = 0.25, 010 = 0.167,
// 011 = 0.125.
func IIR(config uint16) float64 {
	return [8]float64{0.5, 0.25, 1.0 / 6, 0.125, 1, 0.8, 2.0 / 3, 4.0 / 7}[config&7]
}

// FIR returns the FIR length that bits 10:8 select: 8 << bits (8…1024).
func FIR(config uint16) int { return 8 << (config >> 8 & 7) }

// applyConfig takes the filter settings from ConfigRegister1 and restarts the filter settled on
// the scene, as after a power-on; s.mu is held.
func (s *Sensor) applyConfig() {
	c := s.ee[0x05]
	s.a1, s.firN = IIR(c), FIR(c)
	s.period = ConversionPeriod * time.Duration(s.firN) / 1024
	now := s.clock.Now()
	s.nextConv, s.y = now.Add(s.period), s.objectAt(now)
}

// convert runs the filter model up to now: every result due since the last one; s.mu is held.
func (s *Sensor) convert(now time.Time) {
	if !s.o.Filter {
		return
	}
	if behind := now.Sub(s.nextConv); behind > 200*s.period {
		s.nextConv = now.Add(-200 * s.period) // the IIR has long forgotten anything older
	}
	sigma := s.o.NoiseC * math.Sqrt(3) * math.Sqrt(1024/float64(s.firN))
	for !s.nextConv.After(now) {
		// The IR half of the cycle: the scene averaged over it.
		w := s.period / 2
		var x float64
		for i := range 8 {
			x += s.objectAt(s.nextConv.Add(-w + w*time.Duration(2*i+1)/16))
		}
		x /= 8
		if s.present && s.gap > 0 {
			x = s.ambient
		}
		switch {
		case sigma > 0:
			x += s.rng.NormFloat64() * sigma
		case len(s.o.Ripple) > 0:
			x += s.noise()
		}
		s.y = s.a1*x + (1-s.a1)*s.y
		s.nextConv = s.nextConv.Add(s.period)
	}
}

func raw(c float64) uint16 {
	r := math.Round((c + 273.15) / 0.02)
	return uint16(max(0, min(r, 0x7FFF)))
}

// pec is the SMBus CRC-8 (x⁸+x²+x+1), written here again so the emulator does not trust the
// driver's version.
func pec(b ...byte) byte {
	var crc byte
	for _, x := range b {
		crc ^= x
		for range 8 {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ 0x07
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// String implements i2c.Bus.
func (s *Sensor) String() string { return fmt.Sprintf("mlxsim(0x%02x)", s.o.Addr) }

// SetSpeed accepts the SMBus clock range of the part, 10–100 kHz.
func (s *Sensor) SetSpeed(f physic.Frequency) error {
	if f < 10*physic.KiloHertz || f > 100*physic.KiloHertz {
		return fmt.Errorf("mlxsim: %s is outside the MLX90614's SMBus range 10–100kHz", f)
	}
	return nil
}

// Close implements io.Closer; the emulated sensor keeps its state (a bus can be reopened).
func (s *Sensor) Close() error { return nil }

// Tx implements i2c.Bus: one transaction, as one I2C_RDWR ioctl would do it.
func (s *Sensor) Tx(addr uint16, w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if addr != s.addr && addr != 0 {
		return ErrNACK // nobody at that address
	}
	s.tx++
	if s.asleep || s.take(NACK) || s.clock.Now().Before(s.busyTill) {
		return ErrNACK
	}
	sa := byte(addr << 1)
	switch {
	case len(w) == 1 && len(r) == 3:
		return s.read(sa, w[0], r)
	case len(w) == 4 && len(r) == 0:
		return s.write(sa, w)
	case len(w) == 2 && len(r) == 0:
		return s.command(sa, w)
	}
	// Quick, byte and block commands: the part supports none of them (datasheet §8.4.2).
	return ErrNACK
}

func (s *Sensor) read(sa, cmd byte, r []byte) error {
	var v uint16
	switch {
	case cmd < 0x20:
		if cmd == 0x07 || cmd == 0x08 {
			s.sampleObject(cmd)
		}
		v = s.ram[cmd]
		if (cmd == 0x06 || cmd == 0x07 || cmd == 0x08) && s.take(ErrorFlag) {
			v |= 0x8000
		}
	case cmd < 0x40:
		v = s.ee[cmd-0x20]
	default:
		return ErrNACK // 0xF0 (flags) needs a transaction without repeated start; not emulated
	}
	r[0], r[1] = byte(v), byte(v>>8)
	r[2] = pec(sa, cmd, sa|1, r[0], r[1])
	if s.take(BadPEC) {
		r[2] ^= 0x5A
	}
	return nil
}

// EEPROMWriteTime is how long the emulated EEPROM is busy (NACKing) after an erase or a write;
// the datasheet's minimum wait is 5 ms.
const EEPROMWriteTime = 5 * time.Millisecond

// writable lists the EEPROM cells a host may change in application mode.
func writable(cell byte, unlocked bool) bool {
	switch cell {
	case 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0E:
		return true
	case 0x0F:
		return unlocked
	}
	return false
}

func (s *Sensor) write(sa byte, w []byte) error {
	cmd, lo, hi := w[0], w[1], w[2]
	if pec(sa, cmd, lo, hi) != w[3] {
		return ErrNACK // the part rejects a message with a wrong PEC
	}
	if cmd&0xE0 != 0x20 || !writable(cmd-0x20, s.unlocked) {
		return ErrNACK
	}
	cell, v := cmd-0x20, uint16(lo)|uint16(hi)<<8
	switch {
	case v == 0:
		s.ee[cell] = 0
	case s.ee[cell] == 0:
		s.ee[cell] = v
	default:
		// Written without erasing first: real parts store an undefined mix of old and new;
		// here the cell keeps its old value, so a read-back shows the mistake.
	}
	s.busyTill = s.clock.Now().Add(EEPROMWriteTime)
	return nil
}

func (s *Sensor) command(sa byte, w []byte) error {
	if pec(sa, w[0]) != w[1] {
		return ErrNACK
	}
	switch w[0] {
	case 0x60:
		s.unlocked = true
	case 0x61:
		s.unlocked = false
	case 0xFF:
		s.asleep = true
	default:
		return ErrNACK
	}
	return nil
}

// take consumes one occurrence of fault f; s.mu is held.
func (s *Sensor) take(f Fault) bool {
	n := s.faults[f]
	switch {
	case n == 0:
		return false
	case n > 0:
		s.faults[f] = n - 1
	}
	return true
}

// sampleObject updates the object registers for a read now; s.mu is held.
func (s *Sensor) sampleObject(cmd byte) {
	if s.stuck {
		return
	}
	if s.o.Filter {
		s.convert(s.clock.Now())
		s.ram[cmd] = raw(s.y)
		if cmd == 0x07 && s.present && s.gap > 0 {
			if s.gap--; s.gap == 0 {
				s.approach(s.skin()) // the next person steps in now
			}
		}
		return
	}
	if cmd == 0x07 && s.present && s.gap > 0 {
		s.gap--
		s.ram[0x07] = raw(s.ambient + s.noise())
		if s.gap == 0 {
			s.approach(s.skin()) // the next person steps in now
		}
		return
	}
	c := s.objectAt(s.clock.Now()) + s.noise()
	s.ram[cmd] = raw(c)
}

func (s *Sensor) objectAt(t time.Time) float64 {
	if s.o.Tau < 0 {
		return s.target
	}
	dt := t.Sub(s.t0).Seconds()
	if dt <= 0 {
		return s.start
	}
	return s.target + (s.start-s.target)*math.Exp(-dt/s.o.Tau.Seconds())
}

// approach starts the object reading moving from where it is now towards c; s.mu is held.
func (s *Sensor) approach(c float64) {
	now := s.clock.Now()
	s.convert(now) // the results due so far saw the old scene
	s.start, s.target, s.t0 = s.objectAt(now), c, now
}

func (s *Sensor) skin() float64 {
	if s.o.Skin == nil {
		return s.bodyC
	}
	return s.o.Skin(s.bodyC, s.ambient)
}

func (s *Sensor) noise() float64 {
	switch {
	case s.o.NoiseC > 0:
		return s.rng.NormFloat64() * s.o.NoiseC
	case len(s.o.Ripple) > 0:
		v := s.o.Ripple[s.ripple%len(s.o.Ripple)]
		s.ripple++
		return v
	}
	return 0
}

// Person makes a person whose body temperature is bodyC step in front of the sensor. The lane
// shows empty for GapReads object readings first (whoever stood there has left), then the
// reading rises towards the person's forehead.
func (s *Sensor) Person(bodyC float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bodyC = bodyC
	if s.present && s.o.GapReads > 0 {
		s.convert(s.clock.Now())
		s.gap = s.o.GapReads
		s.start, s.target, s.t0 = s.ambient, s.ambient, s.clock.Now()
		return
	}
	s.convert(s.clock.Now())
	s.present, s.gap = true, max(s.o.GapReads, 0)
	if s.gap == 0 {
		s.approach(s.skin())
	} else {
		s.start, s.target, s.t0 = s.ambient, s.ambient, s.clock.Now()
	}
}

// Leave empties the lane: the reading falls back to the room temperature.
func (s *Sensor) Leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.present, s.gap = false, 0
	s.approach(s.ambient)
}

// SetAmbient changes the room (and die) temperature.
func (s *Sensor) SetAmbient(c float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ambient = c
	if !s.stuck {
		s.ram[0x06] = raw(c)
	}
	if s.present && s.gap == 0 {
		s.approach(s.skin())
	} else {
		s.approach(c)
	}
}

// SetObject puts an object of c °C in front of the sensor (a blackbody for calibration, a hot
// cup), replacing any person.
func (s *Sensor) SetObject(c float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.present, s.gap = false, 0
	s.approach(c)
}

// Inject makes the next n transactions fail with f (n < 0: until Clear).
func (s *Sensor) Inject(f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[f] = n
}

// Clear removes every injected fault and unfreezes the registers.
func (s *Sensor) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	s.stuck = false
}

// Stick freezes the temperature registers at their current words (a hung signal processor).
func (s *Sensor) Stick(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stuck = on
}

// Wake ends sleep mode (on hardware: SDA held low for 33 ms).
func (s *Sensor) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asleep = false
}

// PowerCycle applies a changed SMBus address and (Options.Filter) changed filter settings, as a
// power-on reset does.
func (s *Sensor) PowerCycle() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr, s.asleep, s.unlocked, s.busyTill = s.ee[0x0E]&0x7F, false, false, time.Time{}
	if s.o.Filter {
		s.applyConfig()
	}
}

// EEPROM returns one EEPROM cell (0x00…0x1F).
func (s *Sensor) EEPROM(cell byte) uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ee[cell&0x1F]
}

// Transactions is how many transactions were addressed to the sensor.
func (s *Sensor) Transactions() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tx
}

// Register makes the sensor available to i2creg.Open under name, as host.Init does for
// /dev/i2c-N, so the driver's normal open path reaches it. The returned func unregisters it.
func (s *Sensor) Register(name string) (unregister func(), err error) {
	if err := i2creg.Register(name, nil, -1, func() (i2c.BusCloser, error) { return s, nil }); err != nil {
		return nil, err
	}
	return func() { i2creg.Unregister(name) }, nil
}

var (
	_ i2c.BusCloser = (*Sensor)(nil)
	_ interface {
		Person(float64)
		Leave()
	} = (*Sensor)(nil)
)
