// Package device holds the hardware contracts of the kiosk: the interfaces every driver implements,
// the event types they deliver, health and self-test types, and a registry through which drivers
// make themselves available by name. No hardware code lives here.
package device

import (
	"context"
	"time"
)

// Part is what every piece of hardware supports, whatever it does.
type Part interface {
	// Health reports the part's current condition without touching the hardware.
	Health() Health
	// SelfTest exercises the part (a SAM query, a sensor read, a frame grab) and reports what failed.
	SelfTest(ctx context.Context) error
	// Close releases the hardware; the part must return the physical world to a safe state
	// (a gate relay closed, LEDs off).
	Close() error
}

// CardReader reads identity cards.
type CardReader interface {
	Part
	// Next blocks until a card is read. A card that stays on the reader is reported once; it is
	// reported again only after it was taken away and put back.
	Next(ctx context.Context) (Card, error)
}

// Thermometer measures forehead temperature.
type Thermometer interface {
	Part
	// Read takes one reading. Presence and stability are judged by the caller from a series of
	// readings, so the driver reports what it measured and nothing more.
	Read(ctx context.Context) (TempReading, error)
}

// CodeScanner reports QR codes seen by the camera.
type CodeScanner interface {
	Part
	// Next blocks until a code is decoded. The same code held in front of the camera is reported
	// once per presentation.
	Next(ctx context.Context) (Scan, error)
}

// TicketPrinter prints queue tickets.
type TicketPrinter interface {
	Part
	Print(ctx context.Context, t Ticket) error
	Status(ctx context.Context) (PrinterStatus, error)
}

// Signal drives the lane's physical outputs: the gate relay, status LEDs and the buzzer.
type Signal interface {
	Part
	// OpenGate pulses the gate relay for d; the relay returns to closed by itself after d.
	OpenGate(ctx context.Context, d time.Duration) error
	// SetLED shows one colour (LEDOff to switch off).
	SetLED(c LEDColour) error
	// Buzz plays a pattern on the buzzer and returns without waiting for it to end.
	Buzz(p BuzzPattern) error
}

// CardType tells which kind of identity card was read.
type CardType string

// Card types of the GA 467 reader protocol.
const (
	CardResident    CardType = "resident"  // 居民身份证
	CardForeigner   CardType = "foreigner" // 外国人永久居留身份证
	CardHKMOTW      CardType = "hkmotw"    // 港澳台居民居住证
	CardTypeUnknown CardType = "unknown"   // a type flag the reader sent that we do not know
)

// Card is one identity card as read from the chip. It lives in memory only: the raw ID number and
// the photo must never be written to disk or logs (see ARCHITECTURE.md, data rules).
type Card struct {
	Type        CardType
	Name        string // as printed; foreign cards carry the English name here
	NameChinese string // foreign cards: the Chinese name, if any
	Sex         string // "男", "女", or the code when unknown
	Nation      string // nation (民族) name for resident cards, nationality code for foreigners
	Birth       string // YYYYMMDD
	Address     string
	Number      string // the certificate number, exactly as on the card
	Issuer      string
	ValidFrom   string // YYYYMMDD
	ValidTo     string // YYYYMMDD, or "长期" for cards without expiry
	Raw         []byte // the 256-byte text block
	Photo       []byte // WLT, 1024 bytes; never decoded, never stored
	ReadAt      time.Time
	Reader      string // which reader produced it
}

// String keeps the raw number, name and photo out of structured logs.
func (c Card) String() string { return "card(" + string(c.Type) + ")" }

// TempReading is one thermometer reading.
type TempReading struct {
	ObjectC  float64 // the object (forehead) temperature as measured, before any compensation
	AmbientC float64 // the sensor's own (ambient) temperature
	At       time.Time
	Sensor   string
}

// Scan is one decoded QR code.
type Scan struct {
	Text   string
	At     time.Time
	Source string
}

// Ticket is a queue ticket to print.
type Ticket struct {
	Number   string // the display number, e.g. A012
	Service  string // the service name, e.g. 社保
	Hall     string
	IssuedAt time.Time
	Waiting  int    // people ahead at issue time
	URL      string // check-in URL printed as a QR code; empty for none
	Priority bool
	Slot     time.Time // appointment check-in: the booked slot's start; zero for a walk-in
}

// PrinterStatus is what an ESC/POS printer reports about itself.
type PrinterStatus struct {
	Online    bool
	PaperOut  bool
	PaperLow  bool
	CoverOpen bool
}

// LEDColour is a status LED colour.
type LEDColour int

// LED colours.
const (
	LEDOff LEDColour = iota
	LEDGreen
	LEDRed
	LEDAmber
)

func (c LEDColour) String() string {
	switch c {
	case LEDGreen:
		return "green"
	case LEDRed:
		return "red"
	case LEDAmber:
		return "amber"
	}
	return "off"
}

// BuzzPattern is a buzzer pattern.
type BuzzPattern int

// Buzzer patterns: a short beep for a pass, three beeps for a deny.
const (
	BuzzNone BuzzPattern = iota
	BuzzShort
	BuzzTriple
)

func (p BuzzPattern) String() string {
	switch p {
	case BuzzShort:
		return "short"
	case BuzzTriple:
		return "triple"
	}
	return "none"
}
