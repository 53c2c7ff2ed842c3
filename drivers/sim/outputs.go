package sim

import (
	"context"
	"errors"
	"time"

	"onepass/device"
)

// Signal records what the kiosk asked of the gate, LEDs and buzzer.
type Signal struct {
	part
	gatePulses int
	lastPulse  time.Duration
	led        device.LEDColour
	buzz       device.BuzzPattern
}

// NewSignal returns a closed gate with LEDs off.
func NewSignal() *Signal { return &Signal{part: newPart()} }

// OpenGate records a gate pulse.
func (s *Signal) OpenGate(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gatePulses++
	s.lastPulse = d
	return nil
}

// SetLED records the LED colour.
func (s *Signal) SetLED(c device.LEDColour) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.led = c
	return nil
}

// Buzz records the buzzer pattern.
func (s *Signal) Buzz(p device.BuzzPattern) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buzz = p
	return nil
}

// SignalState is what the signal outputs did, for tests and `onepassctl status`.
type SignalState struct {
	GatePulses int    `json:"gate_pulses"`
	LED        string `json:"led"`
	Buzz       string `json:"buzz"`
}

// State reports the outputs.
func (s *Signal) State() SignalState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SignalState{GatePulses: s.gatePulses, LED: s.led.String(), Buzz: s.buzz.String()}
}

// Printer keeps printed tickets in memory.
type Printer struct {
	part
	printed  []device.Ticket
	paperOut bool
}

// NewPrinter returns a printer with paper.
func NewPrinter() *Printer { return &Printer{part: newPart()} }

// ErrPaperOut is what a printer without paper answers.
var ErrPaperOut = errors.New("sim printer: paper out")

// Print records the ticket.
func (p *Printer) Print(ctx context.Context, t device.Ticket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paperOut {
		return ErrPaperOut
	}
	p.printed = append(p.printed, t)
	return nil
}

// Status reports paper state.
func (p *Printer) Status(ctx context.Context) (device.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return device.PrinterStatus{Online: true, PaperOut: p.paperOut}, nil
}

// Printed returns the tickets printed so far.
func (p *Printer) Printed() []device.Ticket {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]device.Ticket(nil), p.printed...)
}

// SetPaperOut empties or refills the paper.
func (p *Printer) SetPaperOut(out bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paperOut = out
}
