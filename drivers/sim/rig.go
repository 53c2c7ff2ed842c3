package sim

import (
	"fmt"
	"sync"

	"onepass/device"
)

// Rig is one simulated lane: every part, and the commands that drive them.
//
// The commands act on the far end of each part through the Cards, People and Codes fields. They
// start as the in-memory parts; when the daemon puts a protocol-level simulator behind a real
// driver instead (a reader simulator on a pseudo-terminal, an emulated I2C sensor), it points
// these fields at that simulator, and `onepassctl sim …` drives the real code path.
type Rig struct {
	Reader      *CardReader
	Thermometer *Thermometer
	Scanner     *CodeScanner
	Printer     *Printer
	Signal      *Signal

	Cards  CardHolder
	People PersonMover
	Codes  CodeShower

	mu    sync.Mutex
	sinks map[string][]FaultSink
}

// FaultSink is the far end of a part that `onepassctl sim fault` acts on: a protocol simulator
// behind a real driver turns the health it is told into what a failing device does on its line,
// so the driver's own health reporting is what the kiosk shows.
type FaultSink interface {
	Fault(device.HealthState)
}

// FaultFunc is a FaultSink as a function.
type FaultFunc func(device.HealthState)

// Fault implements FaultSink.
func (f FaultFunc) Fault(st device.HealthState) { f(st) }

// OnFault has every later fault set on part pushed to sink.
func (rig *Rig) OnFault(part string, sink FaultSink) {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	if rig.sinks == nil {
		rig.sinks = map[string][]FaultSink{}
	}
	rig.sinks[part] = append(rig.sinks[part], sink)
}

// CardHolder is whatever holds the simulated card: the in-memory reader or a reader simulator.
type CardHolder interface {
	Place(device.Card)
	Remove()
}

// PersonMover moves the simulated person in front of the thermometer.
type PersonMover interface {
	Person(c float64)
	Leave()
}

// CodeShower shows a code to the simulated camera.
type CodeShower interface {
	Show(text string)
}

// NewRig returns a lane with nobody at it.
func NewRig() *Rig {
	r := &Rig{
		Reader:      NewCardReader(),
		Thermometer: NewThermometer(),
		Scanner:     NewCodeScanner(),
		Printer:     NewPrinter(),
		Signal:      NewSignal(),
	}
	r.Cards, r.People, r.Codes = r.Reader, r.Thermometer, r.Scanner
	return r
}

// Fault sets a part's health, as a technician would see it when the part fails, and pushes it to
// the part's fault sinks (OnFault).
func (rig *Rig) Fault(part string, h device.Health) error {
	p := rig.part(part)
	if p == nil {
		return fmt.Errorf("fault: unknown part %q (reader, thermometer, camera, printer, signal)", part)
	}
	switch h.State {
	case device.OK, device.Degraded, device.Down:
	default:
		return fmt.Errorf("fault: state %q: want ok, degraded or down", h.State)
	}
	p.setHealth(h)
	rig.mu.Lock()
	sinks := rig.sinks[part]
	rig.mu.Unlock()
	for _, s := range sinks {
		s.Fault(h.State)
	}
	return nil
}

func (rig *Rig) part(name string) *part {
	switch name {
	case "reader":
		return &rig.Reader.part
	case "thermometer":
		return &rig.Thermometer.part
	case "camera":
		return &rig.Scanner.part
	case "printer":
		return &rig.Printer.part
	case "signal":
		return &rig.Signal.part
	}
	return nil
}
