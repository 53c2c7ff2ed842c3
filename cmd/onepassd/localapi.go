package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"onepass/device"
	"onepass/drivers/camera"
	"onepass/drivers/escpos/escpossim"
	"onepass/drivers/sim"
	"onepass/sync/client"
	"onepass/sync/store"
	"onepass/ui"
	"onepass/ui/api"
)

// The daemon's side of the local API: small adapters from its parts to the interfaces ui serves
// (ui/localapi.go registers every route; ui/api holds the bodies).

// simRig drives drivers/sim's rig for ui's /api/sim routes. printer is the daemon's ticket
// printer: tickets_printed counts what it printed.
type simRig struct {
	rig     *sim.Rig
	printer device.TicketPrinter
}

func (s simRig) PlaceCard(r api.CardRequest) {
	s.rig.Cards.Place(r.Card(time.Now()))
}
func (s simRig) RemoveCard()          { s.rig.Cards.Remove() }
func (s simRig) Person(c float64)     { s.rig.People.Person(c) }
func (s simRig) Leave()               { s.rig.People.Leave() }
func (s simRig) ShowCode(text string) { s.rig.Codes.Show(text) }

// ShowImage puts a picture in front of the simulated camera (POST /api/sim/code/image).
func (s simRig) ShowImage(b []byte) error {
	shower, ok := s.rig.Codes.(interface{ ShowImage([]byte) error })
	if !ok {
		return ui.WithStatus(http.StatusConflict, errors.New("the simulated camera takes no pictures (a [camera] driver is configured)"))
	}
	err := shower.ShowImage(b)
	if errors.Is(err, camera.ErrImageTooLarge) {
		return ui.WithStatus(http.StatusRequestEntityTooLarge, err)
	}
	return err
}

func (s simRig) Fault(part string, h device.Health) error { return s.rig.Fault(part, h) }

func (s simRig) State() api.SimState {
	return api.SimState{Signal: api.SignalState(s.rig.Signal.State()), Tickets: s.ticketsPrinted()}
}

// ticketsPrinted counts the tickets that came out of the simulated printer, as its simulator on
// the serial line saw them cut (a print refused for want of paper never gets there). A real
// [printer] in --sim is not counted: nothing here sees its paper.
func (s simRig) ticketsPrinted() int {
	if p, ok := s.printer.(*sim.PTYPrinter); ok {
		return p.Simulator().Snapshot().Printed
	}
	return 0
}

// simPrinter is the printer simulator for ui's /api/sim/printer routes.
type simPrinter struct{ p *sim.PTYPrinter }

// PrinterState is GET /api/sim/printer.
func (p simPrinter) PrinterState() api.PrinterState {
	st := p.p.Simulator().Snapshot()
	out := api.PrinterState{Paper: string(st.Paper), Cover: st.Cover, Mute: st.Mute, Printed: st.Printed,
		BytesIn: st.BytesIn, LastText: st.LastText, At: st.At}
	if st.Last != nil {
		r := &api.Receipt{Partial: st.Last.Partial, Elements: make([]api.PrintElement, len(st.Last.Elements))}
		for i, e := range st.Last.Elements {
			r.Elements[i] = api.PrintElement(e)
		}
		out.Last = r
	}
	return out
}

// ControlPrinter is POST /api/sim/printer.
func (p simPrinter) ControlPrinter(c api.PrinterControl) error {
	return p.p.Simulator().Apply(escpossim.Control{Paper: escpossim.Paper(c.Paper), Cover: c.Cover, Mute: c.Mute})
}

// LastTicketPNG is GET /api/sim/printer/last.png.
func (p simPrinter) LastTicketPNG() ([]byte, error) {
	rs := p.p.Simulator().Receipts()
	if len(rs) == 0 {
		return nil, ui.WithStatus(http.StatusNotFound, errors.New("printer: nothing printed yet"))
	}
	png, err := p.p.Renderer().PNG(rs[len(rs)-1])
	if err != nil {
		return nil, fmt.Errorf("printer: render: %w", err)
	}
	return png, nil
}

// storeVisits lists the store's recent visits for the staff console, without keys.
type storeVisits struct{ db *store.Store }

func (v storeVisits) Recent(ctx context.Context, n int) ([]ui.Visit, error) {
	vs, err := v.db.Recent(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]ui.Visit, len(vs))
	for i, x := range vs {
		out[i] = ui.Visit{ID: x.ID, At: x.At, Method: x.Method, MaskedName: x.MaskedName, Outcome: x.Outcome, Reason: x.Reason,
			StaffID: x.StaffID, Overrides: x.Overrides}
	}
	return out, nil
}

// syncAPI is the syncer as ui's /api/sync routes see it.
type syncAPI struct{ s *syncer }

func (a syncAPI) Status(ctx context.Context) api.SyncStatus { return a.s.status(ctx) }

func (a syncAPI) SyncNow(ctx context.Context) error {
	c := a.s.client()
	if c == nil {
		return ui.ErrNotEnrolled
	}
	return c.SyncNow(ctx)
}

func (a syncAPI) Enroll(ctx context.Context, r api.EnrollRequest) error { return a.s.enroll(ctx, r) }

// apiSyncClient is the sync client's status in the local API's terms. It goes through JSON, the
// form the API has always answered with, so no field can be left behind (ui's TestMirrors
// checks that api.SyncClient has exactly client.Status's fields).
func apiSyncClient(s client.Status) (*api.SyncClient, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("sync status: %w", err)
	}
	var out api.SyncClient
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("sync status: %w", err)
	}
	return &out, nil
}
