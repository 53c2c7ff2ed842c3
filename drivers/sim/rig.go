package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
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

// CardRequest is the body of POST /api/sim/card: a card to place on the reader. Only id and name
// are needed; the rest get plausible values.
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

// TempRequest is the body of POST /api/sim/temp.
type TempRequest struct {
	C float64 `json:"c"`
}

// CodeRequest is the body of POST /api/sim/code.
type CodeRequest struct {
	Text string `json:"text"`
}

// FaultRequest is the body of POST /api/sim/fault: set a part's health, e.g. to show a degraded kiosk.
type FaultRequest struct {
	Part   string             `json:"part"` // reader, thermometer, camera, printer, signal
	State  device.HealthState `json:"state"`
	Reason string             `json:"reason,omitempty"`
}

// State is the answer of GET /api/sim.
type State struct {
	Signal  SignalState `json:"signal"`
	Tickets int         `json:"tickets_printed"`
}

// Handler serves the simulator's commands under /api/sim/ (the daemon mounts it in --sim only).
func (rig *Rig) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/sim/card", func(w http.ResponseWriter, r *http.Request) {
		var req CardRequest
		if !decode(w, r, &req) {
			return
		}
		if req.ID == "" {
			http.Error(w, "card: id is required", http.StatusBadRequest)
			return
		}
		// The number is deliberately not checked here: an invalid number is a case the kiosk handles.
		rig.Cards.Place(req.Card(time.Now()))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/sim/remove", func(w http.ResponseWriter, r *http.Request) {
		rig.Cards.Remove()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/sim/temp", func(w http.ResponseWriter, r *http.Request) {
		var req TempRequest
		if !decode(w, r, &req) {
			return
		}
		if req.C < -20 || req.C > 100 {
			http.Error(w, fmt.Sprintf("temp: %.1f °C is not a temperature an IR sensor reports", req.C), http.StatusBadRequest)
			return
		}
		rig.People.Person(req.C)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/sim/leave", func(w http.ResponseWriter, r *http.Request) {
		rig.People.Leave()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/sim/code", func(w http.ResponseWriter, r *http.Request) {
		var req CodeRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Text == "" {
			http.Error(w, "code: text is required", http.StatusBadRequest)
			return
		}
		rig.Codes.Show(req.Text)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /api/sim/fault", func(w http.ResponseWriter, r *http.Request) {
		var req FaultRequest
		if !decode(w, r, &req) {
			return
		}
		if err := rig.Fault(req.Part, device.Health{State: req.State, Reason: req.Reason}); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /api/sim", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(State{Signal: rig.Signal.State(), Tickets: len(rig.Printer.Printed())})
	})
	return mux
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

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}
