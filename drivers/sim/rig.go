package sim

import (
	"fmt"
	"time"

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

// CardRequest describes a card to place on a simulated reader; only ID and Name are needed, Card
// gives the rest plausible values. The local API's body (ui/api.CardRequest) has the same fields
// and converts to it.
type CardRequest struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type,omitempty"` // resident (default), foreigner, hkmotw
	Sex       string `json:"sex,omitempty"`
	Nation    string `json:"nation,omitempty"`
	Birth     string `json:"birth,omitempty"`
	Address   string `json:"address,omitempty"`
	Issuer    string `json:"issuer,omitempty"`
	ValidFrom string `json:"valid_from,omitempty"`
	ValidTo   string `json:"valid_to,omitempty"` // YYYYMMDD or 长期
}

// Card builds the card the reader would deliver.
func (r CardRequest) Card(now time.Time) device.Card {
	c := device.Card{
		Type: device.CardType(r.Type), Name: r.Name, Sex: r.Sex, Nation: r.Nation, Birth: r.Birth,
		Address: r.Address, Number: r.ID, Issuer: r.Issuer, ValidFrom: r.ValidFrom, ValidTo: r.ValidTo,
	}
	if c.Type == "" {
		c.Type = device.CardResident
	}
	if c.Birth == "" && len(r.ID) == 18 {
		c.Birth = r.ID[6:14]
	}
	if c.Nation == "" {
		c.Nation = "汉"
	}
	if c.ValidFrom == "" {
		c.ValidFrom = now.AddDate(-5, 0, 0).Format("20060102")
	}
	if c.ValidTo == "" {
		c.ValidTo = now.AddDate(5, 0, 0).Format("20060102")
	}
	return c
}

// Fault sets a part's health, as a technician would see it when the part fails.
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
