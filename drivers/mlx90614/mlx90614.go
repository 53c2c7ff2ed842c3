// Package mlx90614 drives the Melexis MLX90614 infrared thermometer over SMBus on periph.io:
// read-word transactions with PEC (CRC-8) verification, rejection of readings carrying the
// sensor's error flag, retries of transient bus errors, and the EEPROM erase-then-write cycle for
// the emissivity. Thermometer wraps a Dev as a device.Thermometer that reconnects by itself;
// the package registers it as thermometer driver "mlx90614".
//
// The protocol notes behind this code are in docs/thermometer.md.
package mlx90614

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
)

// DefaultAddr is the factory SMBus address of every MLX90614.
const DefaultAddr = 0x5A

// DefaultBus is the bus the daemon opens when the configuration names none.
const DefaultBus = "/dev/i2c-1"

// Commands. RAM is read with 000x xxxx, EEPROM with 001x xxxx (the low five bits are the cell).
const (
	RegRawIR1 = 0x04 // raw IR channel 1 (sign-magnitude)
	RegRawIR2 = 0x05 // raw IR channel 2
	RegTa     = 0x06 // die (ambient) temperature, 0.02 K/LSB
	RegTobj1  = 0x07 // object temperature, zone 1
	RegTobj2  = 0x08 // object temperature, zone 2 (dual-zone parts)

	EEToMax      = 0x20 // PWM range, object maximum
	EEToMin      = 0x21 // PWM range, object minimum
	EEPWMCtrl    = 0x22
	EETaRange    = 0x23
	EEEmissivity = 0x24 // round(65535·ε); 0xFFFF = 1.0
	EEConfig1    = 0x25 // filters, gain, dual zone (bit 6)
	EEAddress    = 0x2E // SMBus address in the low byte; effective after a power cycle
	EEEmisCal    = 0x2F // Melexis-reserved cell that Melexis rescales whenever the emissivity changes
	EEID0        = 0x3C // four words of unique ID, 0x3C…0x3F

	CmdUnlock = 0x60 // lets the emissivity calibration cell be written (Melexis driver)
	CmdLock   = 0x61 // locks it again
	CmdSleep  = 0xFF // never sent by this driver: a kiosk sensor stays awake
)

// Errors a reading can fail with, besides bus errors. Test with errors.Is.
var (
	ErrPEC    = errors.New("PEC mismatch")
	ErrFlag   = errors.New("error flag set")
	ErrRange  = errors.New("value outside the sensor's range")
	ErrVerify = errors.New("EEPROM read-back differs from what was written")
)

// Raw limits of the linearised temperatures (datasheet §8.7): Ta spans −38.2…125 °C, Tobj1
// −70.01…382.19 °C; anything outside, e.g. the zeros of a sensor that has not finished its first
// conversion, is not a temperature.
const (
	rawTaMin  = 0x2DE4
	rawTaMax  = 0x4DC4
	rawObjMin = 0x27AD
	flagBit   = 0x8000
)

// Opts tune a Dev. The zero value is what the kiosk uses.
type Opts struct {
	// Retries is how many more attempts follow a bus error (NACK) or a PEC mismatch; 0 means 2.
	// Negative means none.
	Retries int
	// RetryDelay is the pause before a retry; 0 means 2 ms.
	RetryDelay time.Duration
	// IgnorePEC accepts readings whose PEC does not match (counted, not rejected), for a batch of
	// sensors that sends bad PECs; the Linux kernel driver never checks it either.
	IgnorePEC bool
	// Sleep waits; nil means time.Sleep. Tests pass a fake clock's Advance.
	Sleep func(time.Duration)
}

// Stats counts what happened on the bus since the Dev was made.
type Stats struct {
	Transactions uint64 `json:"transactions"` // Tx calls, each one I2C_RDWR ioctl on Linux
	BusErrors    uint64 `json:"bus_errors"`   // NACKs and other errors from the bus
	PECErrors    uint64 `json:"pec_errors"`
	FlagErrors   uint64 `json:"flag_errors"`
	RangeErrors  uint64 `json:"range_errors"`
	Retries      uint64 `json:"retries"`
}

// Dev is one MLX90614 on a bus. It is safe for concurrent use.
type Dev struct {
	c  i2c.Dev
	o  Opts
	mu sync.Mutex
	st Stats
}

// New returns the sensor at addr (7-bit; 0x00 reaches any single MLX90614 on the bus) on bus.
// Nothing is sent until the first read.
func New(bus i2c.Bus, addr uint16, o *Opts) (*Dev, error) {
	if addr > 0x7F {
		return nil, fmt.Errorf("mlx90614: address 0x%02X is not a 7-bit address", addr)
	}
	d := &Dev{c: i2c.Dev{Bus: bus, Addr: addr}}
	if o != nil {
		d.o = *o
	}
	if d.o.Retries == 0 {
		d.o.Retries = 2
	}
	if d.o.Retries < 0 {
		d.o.Retries = 0
	}
	if d.o.RetryDelay == 0 {
		d.o.RetryDelay = 2 * time.Millisecond
	}
	if d.o.Sleep == nil {
		d.o.Sleep = time.Sleep
	}
	return d, nil
}

func (d *Dev) String() string { return fmt.Sprintf("mlx90614@%s:0x%02x", d.c.Bus, d.c.Addr) }

// Stats returns the bus counters.
func (d *Dev) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

// ReadWord reads one RAM or EEPROM word: command written, repeated start, LSB, MSB and PEC read,
// all in one transaction. A bus error or a PEC mismatch is retried.
func (d *Dev) ReadWord(cmd byte) (uint16, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readWord(cmd)
}

func (d *Dev) readWord(cmd byte) (uint16, error) {
	var last error
	for attempt := 0; attempt <= d.o.Retries; attempt++ {
		if attempt > 0 {
			d.st.Retries++
			d.o.Sleep(d.o.RetryDelay)
		}
		var r [3]byte
		d.st.Transactions++
		if err := d.c.Tx([]byte{cmd}, r[:]); err != nil {
			d.st.BusErrors++
			last = err
			continue
		}
		v, err := decodeRead(d.c.Addr, cmd, r)
		if errors.Is(err, ErrPEC) {
			d.st.PECErrors++
			if !d.o.IgnorePEC {
				last = err
				continue
			}
		}
		return v, nil
	}
	return 0, fmt.Errorf("%s: read 0x%02x: %w (after %d attempts)", d, cmd, last, d.o.Retries+1)
}

// decodeRead checks the three bytes of a read word (LSB, MSB, PEC) and returns the value.
// The PEC covers the whole message as it was on the wire: SA_W, command, SA_R, LSB, MSB.
func decodeRead(addr uint16, cmd byte, r [3]byte) (uint16, error) {
	v := uint16(r[0]) | uint16(r[1])<<8
	sa := byte(addr << 1)
	if want := PEC(sa, cmd, sa|1, r[0], r[1]); r[2] != want {
		return v, fmt.Errorf("%w: got 0x%02x, want 0x%02x", ErrPEC, r[2], want)
	}
	return v, nil
}

// WriteWord writes one word with its PEC. The sensor NACKs a message whose PEC is wrong; the
// write is repeated on a bus error.
func (d *Dev) WriteWord(cmd byte, v uint16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writeWord(cmd, v)
}

func (d *Dev) writeWord(cmd byte, v uint16) error {
	sa := byte(d.c.Addr << 1)
	lo, hi := byte(v), byte(v>>8)
	return d.send(fmt.Sprintf("write 0x%02x", cmd), cmd, lo, hi, PEC(sa, cmd, lo, hi))
}

// Command sends a data-less command with its PEC (CmdUnlock, CmdLock).
func (d *Dev) Command(cmd byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.command(cmd)
}

func (d *Dev) command(cmd byte) error {
	return d.send(fmt.Sprintf("command 0x%02x", cmd), cmd, PEC(byte(d.c.Addr<<1), cmd))
}

func (d *Dev) send(what string, w ...byte) error {
	var last error
	for attempt := 0; attempt <= d.o.Retries; attempt++ {
		if attempt > 0 {
			d.st.Retries++
			d.o.Sleep(d.o.RetryDelay)
		}
		d.st.Transactions++
		if err := d.c.Tx(w, nil); err != nil {
			d.st.BusErrors++
			last = err
			continue
		}
		return nil
	}
	return fmt.Errorf("%s: %s: %w (after %d attempts)", d, what, last, d.o.Retries+1)
}

// Sample is one pair of readings.
type Sample struct {
	Ambient, Object physic.Temperature
	RawTa, RawObj   uint16
}

// Sense reads Ta then Tobj1: two transactions when the bus is clean.
func (d *Dev) Sense() (Sample, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ta, err := d.readTemp(RegTa)
	if err != nil {
		return Sample{}, err
	}
	to, err := d.readTemp(RegTobj1)
	if err != nil {
		return Sample{}, err
	}
	return Sample{Ambient: Temperature(ta), Object: Temperature(to), RawTa: ta, RawObj: to}, nil
}

// Ambient reads the die temperature.
func (d *Dev) Ambient() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.readTemp(RegTa)
	return Temperature(v), err
}

// Object reads the object temperature of zone 1.
func (d *Dev) Object() (physic.Temperature, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.readTemp(RegTobj1)
	return Temperature(v), err
}

func (d *Dev) readTemp(cmd byte) (uint16, error) {
	v, err := d.readWord(cmd)
	if err != nil {
		return 0, err
	}
	if err := checkTemp(cmd, v); err != nil {
		if errors.Is(err, ErrFlag) {
			d.st.FlagErrors++
		} else {
			d.st.RangeErrors++
		}
		return 0, fmt.Errorf("%s: read 0x%02x: %w", d, cmd, err)
	}
	return v, nil
}

// checkTemp rejects a linearised temperature word carrying the error flag (bit 15) or lying
// outside the range the sensor can report.
func checkTemp(cmd byte, v uint16) error {
	if v&flagBit != 0 {
		return fmt.Errorf("%w (0x%04x)", ErrFlag, v)
	}
	lo, hi := uint16(rawObjMin), uint16(0x7FFF)
	if cmd == RegTa {
		lo, hi = rawTaMin, rawTaMax
	}
	if v < lo || v > hi {
		return fmt.Errorf("%w (0x%04x)", ErrRange, v)
	}
	return nil
}

// Temperature converts a linearised word (0.02 K per LSB) exactly.
func Temperature(raw uint16) physic.Temperature {
	return physic.Temperature(raw) * 20 * physic.MilliKelvin
}

// Raw is the word the sensor reports for temperature c (°C), rounded to the nearest 0.02 K.
func Raw(c float64) uint16 {
	r := math.Round((c + 273.15) / 0.02)
	return uint16(max(0, min(r, 0x7FFF)))
}

// ID reads the four ID words.
func (d *Dev) ID() (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var id uint64
	for i := range 4 {
		w, err := d.readWord(EEID0 + byte(i))
		if err != nil {
			return 0, err
		}
		id = id<<16 | uint64(w)
	}
	return id, nil
}

// EEPROMWait is how long a cell needs after an erase or a write. The datasheet asks for at
// least 5 ms; Melexis's own driver waits 10 ms, and so do we.
const EEPROMWait = 10 * time.Millisecond

// WriteEEPROM writes one EEPROM cell the only way the sensor accepts: erase (write 0x0000), wait,
// write the value, wait, and read it back.
func (d *Dev) WriteEEPROM(cmd byte, v uint16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.writeEEPROM(cmd, v)
}

func (d *Dev) writeEEPROM(cmd byte, v uint16) error {
	if cmd&0xE0 != 0x20 {
		return fmt.Errorf("%s: 0x%02x is not an EEPROM command", d, cmd)
	}
	if err := d.writeWord(cmd, 0); err != nil {
		return fmt.Errorf("erase: %w", err)
	}
	d.o.Sleep(EEPROMWait)
	if v != 0 {
		if err := d.writeWord(cmd, v); err != nil {
			return err
		}
		d.o.Sleep(EEPROMWait)
	}
	got, err := d.readWord(cmd)
	if err != nil {
		return fmt.Errorf("read back: %w", err)
	}
	if got != v {
		return fmt.Errorf("%s: cell 0x%02x: %w: wrote 0x%04x, read 0x%04x", d, cmd, ErrVerify, v, got)
	}
	return nil
}

// Emissivity reads the emissivity setting (1.0 from the factory) and its raw word.
func (d *Dev) Emissivity() (float64, uint16, error) {
	v, err := d.ReadWord(EEEmissivity)
	return float64(v) / 0xFFFF, v, err
}

// EmissivityWord is the EEPROM word for emissivity e.
func EmissivityWord(e float64) uint16 { return uint16(math.Round(e * 0xFFFF)) }

// SetEmissivity changes the emissivity following Melexis's procedure: the reserved cell 0x2F is
// rescaled by old/new emissivity, both cells are written between the unlock and lock commands,
// each with the erase-then-write cycle and a read-back. Writing 0x24 alone makes many parts report
// nonsense (see docs/thermometer.md). The sensor needs a power cycle before it measures with the
// new value.
func (d *Dev) SetEmissivity(e float64) error {
	if math.IsNaN(e) || e < 0.1 || e > 1 {
		return fmt.Errorf("mlx90614: emissivity %g: want 0.1…1.0", e)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	newE := EmissivityWord(e)
	curE, err := d.readWord(EEEmissivity)
	if err != nil {
		return err
	}
	if curE == newE {
		return nil
	}
	if curE == 0 {
		return fmt.Errorf("%s: the emissivity cell reads 0x0000; refusing to rescale 0x2F from it", d)
	}
	cal, err := d.readWord(EEEmisCal)
	if err != nil {
		return err
	}
	newCal := math.Round(float64(curE) * float64(cal) / float64(newE))
	if newCal > 0x7FFF {
		return fmt.Errorf("%s: emissivity %g is too low for this part (cell 0x2F would be 0x%X)", d, e, int(newCal))
	}
	if err := d.command(CmdUnlock); err != nil {
		return err
	}
	err = d.writeEEPROM(EEEmissivity, newE)
	if err == nil {
		err = d.writeEEPROM(EEEmisCal, uint16(newCal))
	}
	// Lock again whatever happened, so a failed write leaves the part as protected as it was.
	return errors.Join(err, d.command(CmdLock))
}

// ConfigRegister1 fields the driver may change (datasheet table 7): the IIR coefficient (bits 2:0)
// and the FIR length (bits 10:8). Every other bit (gain, sensor test, Kt2 sign, …) is Melexis's
// and kept as read.
const (
	configIIRMask = 0x0007
	configFIRMask = 0x0700
)

// iirCodes are the a1 coefficients by their bits 2:0 code.
var iirCodes = [8]float64{0.5, 0.25, 1.0 / 6, 0.125, 1, 0.8, 2.0 / 3, 4.0 / 7}

// FilterBits returns the IIR and FIR fields for coefficient iir (1, 0.8, 0.67, 0.57, 0.5, 0.25,
// 0.17, 0.125; within 0.01) and FIR length fir (128…1024; 8–64 are "not recommended" by the
// datasheet, and Melexis's driver refuses them).
func FilterBits(iir float64, fir int) (uint16, error) {
	code := -1
	for i, a := range iirCodes {
		if math.Abs(a-iir) < 0.01 {
			code = i
		}
	}
	if code < 0 {
		return 0, fmt.Errorf("mlx90614: IIR %g: want 1, 0.8, 0.67, 0.57, 0.5, 0.25, 0.17 or 0.125", iir)
	}
	f := -1
	for i := 4; i < 8; i++ {
		if fir == 8<<i {
			f = i
		}
	}
	if f < 0 {
		return 0, fmt.Errorf("mlx90614: FIR %d: want 128, 256, 512 or 1024", fir)
	}
	return uint16(code) | uint16(f)<<8, nil
}

// Filter decodes the IIR coefficient and the FIR length of a ConfigRegister1 word.
func Filter(config uint16) (iir float64, fir int) {
	return iirCodes[config&configIIRMask], 8 << (config & configFIRMask >> 8)
}

// SetFilter sets the IIR and FIR fields of ConfigRegister1 (0x25), keeping every other bit. The
// EEPROM is written only when the fields differ (a write takes two 10 ms cycles and the cell
// wears), with the erase-then-write cycle and a read-back. It reports whether it wrote. The part
// filters with the new setting after its next power-on reset.
func (d *Dev) SetFilter(iir float64, fir int) (wrote bool, err error) {
	bits, err := FilterBits(iir, fir)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur, err := d.readWord(EEConfig1)
	if err != nil {
		return false, err
	}
	want := cur&^(configIIRMask|configFIRMask) | bits
	if want == cur {
		return false, nil
	}
	if err := d.writeEEPROM(EEConfig1, want); err != nil {
		return true, fmt.Errorf("%s: config register 0x%04x → 0x%04x: %w", d, cur, want, err)
	}
	return true, nil
}
