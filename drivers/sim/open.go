package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/i2c/i2creg"

	"onepass/device"
	_ "onepass/drivers/escpos" // the real drivers behind the simulators, opened by name
	"onepass/drivers/escpos/escpossim"
	_ "onepass/drivers/gpio"
	_ "onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
	"onepass/drivers/mlx90614"
	"onepass/drivers/mlx90614/mlxsim"
)

// Config says which parts Open simulates (the daemon opens the others with the drivers its
// configuration names) and how.
type Config struct {
	Reader, Thermometer, Camera, Printer, Signal bool

	// Skin maps a person's body temperature to the forehead the emulated thermometer shows at
	// the given ambient: the inverse of the lane's skin-to-body compensation, so `onepassctl sim
	// temp C` reads back as C. Nil: the sensor sees the body temperature itself.
	Skin func(bodyC, ambientC float64) float64
}

// All simulates every part.
func All(skin func(bodyC, ambientC float64) float64) Config {
	return Config{Reader: true, Thermometer: true, Camera: true, Printer: true, Signal: true, Skin: skin}
}

// Parts are the simulated parts: each one a real driver talking to a protocol simulator on its
// far end. A part Config did not ask for is nil.
type Parts struct {
	Reader      device.CardReader
	Thermometer device.Thermometer
	Scanner     device.CodeScanner
	Printer     device.TicketPrinter
	Signal      device.Signal
}

// Close closes every part that is open, the signal first (the gate closes before anything else
// goes); each closes its driver before its simulator.
func (p Parts) Close() error {
	var errs []error
	for _, x := range []device.Part{p.Signal, p.Reader, p.Thermometer, p.Scanner, p.Printer} {
		if x != nil {
			errs = append(errs, x.Close())
		}
	}
	return errors.Join(errs...)
}

// Open opens the parts cfg asks for behind the real drivers, the rig's commands pointed at their
// far ends: rig.Cards at the reader simulator, rig.People at the emulated sensor, rig.Codes at the
// camera's folder; `onepassctl sim fault` reaches each through the rig's fault sinks. Everything
// Open made is closed again when it fails.
func Open(ctx context.Context, rig *Rig, cfg Config) (Parts, error) {
	var (
		p    Parts
		errs []error
		err  error
	)
	if cfg.Reader {
		if p.Reader, err = openReader(ctx, rig); err != nil {
			errs = append(errs, fmt.Errorf("simulated reader: %w", err))
		}
	}
	if cfg.Thermometer {
		if p.Thermometer, err = openThermometer(ctx, rig, cfg.Skin); err != nil {
			errs = append(errs, fmt.Errorf("simulated thermometer: %w", err))
		}
	}
	if cfg.Camera {
		if p.Scanner, err = openCamera(rig); err != nil {
			errs = append(errs, fmt.Errorf("simulated camera: %w", err))
		}
	}
	if cfg.Printer {
		if p.Printer, err = openPrinter(ctx, rig); err != nil {
			errs = append(errs, fmt.Errorf("simulated printer: %w", err))
		}
	}
	if cfg.Signal {
		if p.Signal, err = openSignal(ctx, rig); err != nil {
			errs = append(errs, fmt.Errorf("simulated signal: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		p.Close()
		return Parts{}, err
	}
	return p, nil
}

// ReaderOptions is the reader simulator of Open: a SAM that answers at once, every byte at 115200
// baud as on a real line (a read is 118 ms of wire), polled every ReaderPoll. Quick on purpose:
// the lane re-measures a person still standing in front when the next card comes, so a slow read
// would let the previous person's temperature decide again (see the daemon's end-to-end test of
// a card after a fever).
var ReaderOptions = idcardsim.Options{Paced: true}

// ReaderPoll is how often the driver polls the simulated reader.
const ReaderPoll = "50ms"

// openReader is the real ga467 driver, opened by name through the registry on the tty of a
// reader simulator (idcardsim) on the far end of a pseudo-terminal. `onepassctl sim card …` lays
// the card out as a chip's 256-byte UCS-2 text block there and the driver reads it back over the
// serial path.
func openReader(ctx context.Context, rig *Rig) (device.CardReader, error) {
	s := idcardsim.New(ReaderOptions)
	p, err := s.OpenPTY()
	if err != nil {
		return nil, err
	}
	r, err := device.OpenCardReader(ctx, "ga467", device.Params{"port": p.Path(), "baud": 115200, "poll_interval": ReaderPoll})
	if err != nil {
		p.Close()
		return nil, err
	}
	rig.Cards = s
	rig.OnFault("reader", FaultFunc(func(st device.HealthState) { readerFault(s, st) }))
	return &ptyReader{CardReader: r, pty: p}, nil
}

// readerFault: down is a broken SAM (self-test failed, a reset does not help: the driver resets it,
// then reports it down); degraded is a noisy line (junk before every reply: cards are still read,
// the driver reports the line degraded).
func readerFault(s *idcardsim.Sim, st device.HealthState) {
	var f idcardsim.Faults
	switch st {
	case device.Down:
		f.SAMFailure, f.SAMSticky = 0x60, true
	case device.Degraded:
		f.Noise = 8
	}
	if s.Faults() != f {
		s.SetFaults(f)
	}
}

// ptyReader closes the simulator with the driver: the driver first, so it never sees the line vanish.
type ptyReader struct {
	device.CardReader
	pty *idcardsim.PTY
}

func (r *ptyReader) Close() error {
	err := r.CardReader.Close()
	r.pty.Close()
	return err
}

// I2CBus is the periph bus name the emulated sensor is registered under; a real board's buses
// are "/dev/i2c-N", so the names never meet.
const I2CBus = "sim-i2c"

// ripple is the emulated sensor's noise: deterministic, ±0.04 °C on the forehead reading, so the
// stability check sees jitter and the screen still shows exactly the temperature `onepassctl sim
// temp` asked for (the window's median cancels it).
var ripple = []float64{0, 0.04, -0.04, 0.02, -0.02}

// noisyEvery is how often a degraded thermometer's line corrupts one answer.
const noisyEvery = 250 * time.Millisecond

// openThermometer is the real mlx90614 driver, opened by name through i2creg like a kiosk's
// /dev/i2c-1, talking to an emulated MLX90614. `onepassctl sim temp C` puts a person of body
// temperature C in front of it.
func openThermometer(ctx context.Context, rig *Rig, skin func(bodyC, ambientC float64) float64) (device.Thermometer, error) {
	sensor := mlxsim.New(mlxsim.Options{Skin: skin, Ripple: ripple})
	i2creg.Unregister(I2CBus) // from an earlier Open in the same process (tests)
	unregister, err := sensor.Register(I2CBus)
	if err != nil {
		return nil, fmt.Errorf("emulated I2C bus: %w", err)
	}
	th, err := device.OpenThermometer(ctx, "mlx90614", device.Params{"bus": I2CBus, "address": mlx90614.DefaultAddr})
	if err != nil {
		unregister()
		return nil, err
	}
	rig.People = sensor
	t := &i2cThermometer{Thermometer: th, sensor: sensor, unregister: unregister}
	rig.OnFault("thermometer", t)
	return t, nil
}

// i2cThermometer is the driver with its emulated sensor; faults become what a failing sensor
// does on the bus.
type i2cThermometer struct {
	device.Thermometer
	sensor     *mlxsim.Sensor
	unregister func()

	mu    sync.Mutex
	noisy context.CancelFunc // a degraded line's corruption, while it lasts
}

// Fault implements FaultSink: down is an unplugged sensor (NACK); degraded a noisy line, one
// corrupted answer (bad PEC, retried) every noisyEvery; ok clears both.
func (t *i2cThermometer) Fault(st device.HealthState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.noisy != nil {
		t.noisy()
		t.noisy = nil
	}
	switch st {
	case device.Down:
		t.sensor.Inject(mlxsim.NACK, -1)
	case device.Degraded:
		t.sensor.Clear()
		ctx, cancel := context.WithCancel(context.Background())
		t.noisy = cancel
		go func() {
			tick := time.NewTicker(noisyEvery)
			defer tick.Stop()
			for {
				t.sensor.Inject(mlxsim.BadPEC, 1)
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	default:
		t.sensor.Clear()
	}
}

func (t *i2cThermometer) Close() error {
	t.Fault(device.OK) // stops a noisy line
	err := t.Thermometer.Close()
	t.unregister()
	return err
}

// openPrinter is the real escpos driver, opened by name through the registry on the tty of a
// printer simulator (escpossim) that parses the ESC/POS on the far end of a pseudo-terminal,
// answers the status requests and renders each ticket. `onepassctl sim fault printer down` runs it
// out of paper (degraded: paper near end, ok: a new roll).
func openPrinter(ctx context.Context, rig *Rig) (device.TicketPrinter, error) {
	s := escpossim.New()
	p, err := s.OpenPTY()
	if err != nil {
		return nil, err
	}
	pr, err := device.OpenTicketPrinter(ctx, "escpos", device.Params{"port": p.Path(), "baud": 115200, "poll": "2s"})
	if err != nil {
		p.Close()
		return nil, err
	}
	r, _ := escpossim.NewRenderer("") // without a CJK font it draws boxes: still a picture
	pp := &PTYPrinter{TicketPrinter: pr, pty: p, sim: s, render: r, last: rig.Printer.Health().State}
	rig.OnFault("printer", pp)
	return pp, nil
}

// PTYPrinter is the simulated printer: the real driver and the printer simulator behind it.
type PTYPrinter struct {
	device.TicketPrinter
	pty    *escpossim.PTY
	sim    *escpossim.Sim
	render *escpossim.Renderer

	mu   sync.Mutex
	last device.HealthState
}

// Fault implements FaultSink. Only a change of the fault sets the paper: `onepassctl sim printer
// paper …` sets it directly and a repeated fault must not undo that.
func (p *PTYPrinter) Fault(st device.HealthState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st == p.last {
		return
	}
	p.last = st
	switch st {
	case device.Down:
		p.sim.SetPaper(escpossim.PaperOut)
	case device.Degraded:
		p.sim.SetPaper(escpossim.PaperNearEnd)
	default:
		p.sim.SetPaper(escpossim.PaperOK)
	}
}

// Simulator is the printer simulator on the far end of the pty (what it printed, paper and cover).
func (p *PTYPrinter) Simulator() *escpossim.Sim { return p.sim }

// Renderer draws the simulator's tickets as pictures.
func (p *PTYPrinter) Renderer() *escpossim.Renderer { return p.render }

// Close closes the driver, then the simulator.
func (p *PTYPrinter) Close() error {
	err := p.TicketPrinter.Close()
	p.pty.Close()
	return err
}
