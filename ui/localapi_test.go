package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/escpos/escpossim"
	"onepass/drivers/sim"
	"onepass/kiosk"
	"onepass/kiosk/queue"
	syncclient "onepass/sync/client"
	"onepass/ui/api"
)

// calls records what the fakes were asked, one line per call.
type calls struct {
	mu  sync.Mutex
	log []string
}

func (c *calls) add(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf(format, a...))
}

func (c *calls) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.log, "; ")
	c.log = nil
	return s
}

type fakeRig struct {
	calls
	noPictures bool
}

func (f *fakeRig) PlaceCard(r api.CardRequest) { f.add("card %s %s %s", r.ID, r.Name, r.ValidTo) }
func (f *fakeRig) RemoveCard()                 { f.add("remove") }
func (f *fakeRig) Person(c float64)            { f.add("person %.1f", c) }
func (f *fakeRig) Leave()                      { f.add("leave") }
func (f *fakeRig) ShowCode(text string)        { f.add("code %s", text) }
func (f *fakeRig) ShowImage(b []byte) error {
	if f.noPictures {
		return WithStatus(http.StatusConflict, errors.New("the simulated camera takes no pictures"))
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG")) {
		return errors.New("not an image OpenCV can read")
	}
	f.add("image %d bytes", len(b))
	return nil
}
func (f *fakeRig) Fault(part string, h device.Health) error {
	if part == "toaster" {
		return fmt.Errorf("fault: unknown part %q", part)
	}
	f.add("fault %s %s %s", part, h.State, h.Reason)
	return nil
}
func (f *fakeRig) State() api.SimState {
	return api.SimState{Signal: api.SignalState{GatePulses: 2, LED: "green"}, Tickets: 3}
}

type fakePrinter struct {
	calls
	printed bool
}

func (f *fakePrinter) PrinterState() api.PrinterState {
	return api.PrinterState{Paper: "ok", Cover: "closed", Printed: 1, LastText: []string{"A001"}}
}
func (f *fakePrinter) ControlPrinter(c api.PrinterControl) error {
	if c.Paper == "soggy" {
		return fmt.Errorf("printer: paper %q: want ok, near_end or out", c.Paper)
	}
	f.add("printer paper=%s cover=%s mute=%v", c.Paper, c.Cover, c.Mute != nil && *c.Mute)
	return nil
}
func (f *fakePrinter) LastTicketPNG() ([]byte, error) {
	if !f.printed {
		return nil, WithStatus(http.StatusNotFound, errors.New("printer: nothing printed yet"))
	}
	return []byte("\x89PNG fake"), nil
}

type fakePlatform struct{ calls }

func (f *fakePlatform) SetStatus(_ context.Context, r api.SimStatusRequest) error {
	switch r.Status {
	case "purple":
		return fmt.Errorf("status %q: want green, yellow, red or unknown", r.Status)
	case "unpulled":
		return WithStatus(http.StatusBadGateway, errors.New("the hub has the status but the kiosk could not pull it"))
	}
	f.add("status %s %d %s", r.ID, r.Type, r.Status)
	return nil
}

type fakeBooking struct{ calls }

func (f *fakeBooking) Appointment(_ context.Context, r api.AppointmentRequest) (api.Appointment, error) {
	if r.In == "soon" {
		return api.Appointment{}, fmt.Errorf("appointment: in %q: want a duration like 10m", r.In)
	}
	f.add("appointment %s %s %s", r.Service, r.Ref, r.In)
	return api.Appointment{Code: "APPT1:" + r.Service}, nil
}

type fakeSync struct {
	calls
	enrolled bool
}

func (f *fakeSync) Status(context.Context) api.SyncStatus {
	if !f.enrolled {
		return api.SyncStatus{}
	}
	return api.SyncStatus{Enrolled: true, Status: &api.SyncClient{Hub: "https://hub", Device: "K1", Hall: "H1", ReplicaAge: -1}}
}
func (f *fakeSync) SyncNow(context.Context) error {
	if !f.enrolled {
		return ErrNotEnrolled
	}
	f.add("sync now")
	return nil
}
func (f *fakeSync) Enroll(_ context.Context, r api.EnrollRequest) error {
	if r.Token == "spent" {
		return errors.New("hub: token already used")
	}
	f.add("enroll %s %s", r.Hub, r.Token)
	f.enrolled = true
	return nil
}

func newAPIClient(t *testing.T, url string) *api.Client {
	t.Helper()
	c, err := api.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClientSim drives every simulator route through the typed client against the real server.
func TestClientSim(t *testing.T) {
	rig, pr, pl, bk := &fakeRig{}, &fakePrinter{}, &fakePlatform{}, &fakeBooking{}
	ts := newTestServer(t, newFake(idleView()), Options{Sim: SimOptions{Rig: rig, Printer: pr, Platform: pl, Booking: bk}})
	c := newAPIClient(t, ts.URL)
	ctx := context.Background()
	mute := true
	tests := []struct {
		name    string
		call    func() error
		rec     *calls
		want    string // what the fake saw
		wantErr string // in the error, "" for none
	}{
		{"card", func() error {
			return c.SimCard(ctx, api.CardRequest{ID: "110101199003074477", Name: "张三", ValidTo: "长期"})
		}, &rig.calls, "card 110101199003074477 张三 长期", ""},
		{"card without id", func() error { return c.SimCard(ctx, api.CardRequest{Name: "张三"}) }, &rig.calls, "", "400 Bad Request: card: id is required"},
		{"remove", func() error { return c.SimRemove(ctx) }, &rig.calls, "remove", ""},
		{"temp", func() error { return c.SimTemp(ctx, 36.6) }, &rig.calls, "person 36.6", ""},
		{"temp out of range", func() error { return c.SimTemp(ctx, 500) }, &rig.calls, "", "500.0 °C is not a temperature"},
		{"leave", func() error { return c.SimLeave(ctx) }, &rig.calls, "leave", ""},
		{"code", func() error { return c.SimCode(ctx, "JKM1:ABC") }, &rig.calls, "code JKM1:ABC", ""},
		{"empty code", func() error { return c.SimCode(ctx, "") }, &rig.calls, "", "code: text is required"},
		{"image", func() error { return c.SimCodeImage(ctx, []byte("\x89PNG....")) }, &rig.calls, "image 8 bytes", ""},
		{"not an image", func() error { return c.SimCodeImage(ctx, []byte("GIF89a")) }, &rig.calls, "", "400 Bad Request: not an image"},
		{"fault", func() error {
			return c.SimFault(ctx, api.FaultRequest{Part: "reader", State: device.Down, Reason: "port gone"})
		}, &rig.calls, "fault reader down port gone", ""},
		{"unknown part", func() error { return c.SimFault(ctx, api.FaultRequest{Part: "toaster", State: device.Down}) }, &rig.calls, "", `unknown part "toaster"`},
		{"printer", func() error { return c.SimPrinterControl(ctx, api.PrinterControl{Cover: "open", Mute: &mute}) }, &pr.calls, "printer paper= cover=open mute=true", ""},
		{"bad paper", func() error { return c.SimPrinterControl(ctx, api.PrinterControl{Paper: "soggy"}) }, &pr.calls, "", `paper "soggy"`},
		{"set status", func() error { return c.SimSetStatus(ctx, api.SimStatusRequest{ID: "X", Status: "red"}) }, &pl.calls, "status X 0 red", ""},
		{"bad status", func() error { return c.SimSetStatus(ctx, api.SimStatusRequest{ID: "X", Status: "purple"}) }, &pl.calls, "", "400 Bad Request"},
		{"not pulled", func() error { return c.SimSetStatus(ctx, api.SimStatusRequest{ID: "X", Status: "unpulled"}) }, &pl.calls, "", "502 Bad Gateway: the hub has the status"},
		{"appointment", func() error {
			a, err := c.SimAppointment(ctx, api.AppointmentRequest{Service: "A", Ref: "BK-1", In: "10m"})
			if err == nil && a.Code != "APPT1:A" {
				err = fmt.Errorf("code %q", a.Code)
			}
			return err
		}, &bk.calls, "appointment A BK-1 10m", ""},
		{"bad appointment", func() error {
			_, err := c.SimAppointment(ctx, api.AppointmentRequest{Service: "A", In: "soon"})
			return err
		}, &bk.calls, "", "want a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			if got := tt.rec.take(); got != tt.want {
				t.Errorf("the simulator saw %q, want %q", got, tt.want)
			}
		})
	}

	st, err := c.SimState(ctx)
	if err != nil || st.Tickets != 3 || st.Signal.GatePulses != 2 || st.Signal.LED != "green" {
		t.Errorf("sim state: %+v %v", st, err)
	}
	ps, err := c.SimPrinter(ctx)
	if err != nil || ps.Cover != "closed" || len(ps.LastText) != 1 {
		t.Errorf("printer state: %+v %v", ps, err)
	}
	var he *api.HTTPError
	if _, err := c.SimPrinterLastPNG(ctx); !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		t.Errorf("last.png before a print: %v, want 404", err)
	}
	pr.printed = true
	if b, err := c.SimPrinterLastPNG(ctx); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("last.png: %q %v", b, err)
	}
	rig.noPictures = true
	if err := c.SimCodeImage(ctx, []byte("\x89PNG")); !errors.As(err, &he) || he.StatusCode != http.StatusConflict {
		t.Errorf("image without a picture camera: %v, want 409", err)
	}
}

// TestClientNotSim: without --sim the simulator's routes are absent, and the client says so.
func TestClientNotSim(t *testing.T) {
	ts := newTestServer(t, newFake(idleView()), Options{})
	c := newAPIClient(t, ts.URL)
	ctx := context.Background()
	for name, err := range map[string]error{
		"temp":        c.SimTemp(ctx, 36.6),
		"status":      c.SimSetStatus(ctx, api.SimStatusRequest{ID: "X", Status: "red"}),
		"printer":     c.SimPrinterControl(ctx, api.PrinterControl{Paper: "out"}),
		"appointment": func() error { _, err := c.SimAppointment(ctx, api.AppointmentRequest{Service: "A"}); return err }(),
		"state":       func() error { _, err := c.SimState(ctx); return err }(),
	} {
		if !errors.Is(err, api.ErrNotSim) {
			t.Errorf("%s: %v, want ErrNotSim", name, err)
		}
	}
	if _, err := c.Sync(ctx); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("sync without Options.Sync: %v, want ErrNotFound", err)
	}
}

func TestClientSync(t *testing.T) {
	sy := &fakeSync{}
	ts := newTestServer(t, newFake(idleView()), Options{Sync: sy})
	c := newAPIClient(t, ts.URL)
	ctx := context.Background()
	if st, err := c.Sync(ctx); err != nil || st.Enrolled || st.Status != nil {
		t.Fatalf("sync before enrollment: %+v %v", st, err)
	}
	var he *api.HTTPError
	if _, err := c.SyncNow(ctx); !errors.As(err, &he) || he.StatusCode != http.StatusConflict || !strings.Contains(he.Body, "onepassctl enroll") {
		t.Errorf("sync now before enrollment: %v, want 409", err)
	}
	if _, err := c.Enroll(ctx, api.EnrollRequest{Hub: "https://hub"}); !errors.As(err, &he) || he.StatusCode != http.StatusBadRequest {
		t.Errorf("enroll without a token: %v, want 400", err)
	}
	if _, err := c.Enroll(ctx, api.EnrollRequest{Hub: "https://hub", Token: "spent"}); !errors.As(err, &he) || he.StatusCode != http.StatusBadGateway || he.Body != "hub: token already used" {
		t.Errorf("enroll with a spent token: %v, want 502", err)
	}
	st, err := c.Enroll(ctx, api.EnrollRequest{Hub: "https://hub", Token: "T1"})
	if err != nil || !st.Enrolled || st.Status.Device != "K1" {
		t.Fatalf("enroll: %+v %v", st, err)
	}
	if st, err := c.SyncNow(ctx); err != nil || !st.Enrolled {
		t.Errorf("sync now: %+v %v", st, err)
	}
	if got := sy.take(); got != "enroll https://hub T1; sync now" {
		t.Errorf("sync saw %q", got)
	}
}

// TestClientQueue: the ticket routes through the client against the real queue.
func TestClientQueue(t *testing.T) {
	e := newQueueEnv(t)
	c := newAPIClient(t, e.ts.URL)
	ctx := context.Background()
	is, err := c.IssueTicket(ctx, api.IssueRequest{Service: "B", Priority: "elderly"})
	if err != nil || is.Ticket.Number != "B001" || is.Ticket.Priority != "elderly" {
		t.Fatalf("issue: %+v %v", is, err)
	}
	tk, err := c.Counter(ctx, "call", api.CounterRequest{Counter: "3"})
	if err != nil || tk.Number != "B001" || tk.Counter != "3" {
		t.Fatalf("call: %+v %v", tk, err)
	}
	b, err := c.Queue(ctx)
	if err != nil || len(b.Services) == 0 || len(b.Calls) != 1 || b.Calls[0].Number != "B001" {
		t.Fatalf("board: %+v %v", b, err)
	}
	var qe *api.QueueError
	if _, err := c.IssueTicket(ctx, api.IssueRequest{Service: "Z"}); !errors.As(err, &qe) || qe.Code != "unknown_service" ||
		!strings.HasPrefix(err.Error(), "onepassd refused: 没有这项业务") {
		t.Errorf("unknown service: %v", err)
	}
	if _, err := c.Counter(ctx, "dance", api.CounterRequest{Counter: "3"}); err == nil {
		t.Error("an unknown counter operation was sent")
	}
}

// TestClientStatusOverUnixSocket: the same client reaches a daemon on a Unix socket.
func TestClientStatusOverUnixSocket(t *testing.T) {
	v := idleView()
	v.Health = allHealthy()
	srv := New(newFake(v), Options{Logger: quiet(), Status: func(context.Context) Status { return Status{Version: "1.2.3"} }})
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); <-done })
	c := newAPIClient(t, "unix:"+sock)
	st, err := c.Status(ctx)
	if err != nil || st.Version != "1.2.3" || st.State != string(kiosk.PhaseIdle) || st.Health != "ok" || len(st.Parts) != 6 {
		t.Fatalf("status: %+v %v", st, err)
	}
	if view, err := c.State(ctx); err != nil || view.State != "idle" {
		t.Fatalf("state: %+v %v", view, err)
	}
	for _, bad := range []string{"unix:", "127.0.0.1:8080", "ftp://x"} {
		if _, err := api.New(bad); err == nil {
			t.Errorf("api.New(%q) accepted", bad)
		}
	}
}

// TestMirrors: every ui/api type that mirrors a daemon type has exactly its JSON fields, both
// ways, so the CLI never silently loses or invents a field.
func TestMirrors(t *testing.T) {
	tests := []struct {
		name           string
		daemon, mirror any // pointers to zero values
	}{
		{"kiosk.View", new(kiosk.View), new(api.View)},
		{"queue.Board", new(queue.Board), new(api.Board)},
		{"queue.Issued", new(queue.Issued), new(api.Issued)},
		{"queue.Ticket", new(queue.Ticket), new(api.Ticket)},
		{"queue.Error", new(queue.Error), new(api.QueueError)},
		{"kiosk.OverrideNote", new(kiosk.OverrideNote), new(api.OverrideNote)},
		{"client.Status", new(syncclient.Status), new(api.SyncClient)},
		{"sim.SignalState", new(sim.SignalState), new(api.SignalState)},
		{"escpossim.State", new(escpossim.State), new(api.PrinterState)},
		{"escpossim.Control", new(escpossim.Control), new(api.PrinterControl)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sameJSON(t, tt.daemon, tt.mirror)
			sameJSON(t, tt.mirror, tt.daemon)
		})
	}
}

// sameJSON fills from with a value in every exported field, and checks that its JSON decodes
// strictly into to and encodes back to the same JSON.
func sameJSON(t *testing.T, from, to any) {
	t.Helper()
	fill(reflect.ValueOf(from).Elem())
	want, err := json.Marshal(from)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(to); err != nil {
		t.Fatalf("%T does not take %T's JSON: %v\n%s", to, from, err, want)
	}
	got, err := json.Marshal(to)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal(want, &a)
	json.Unmarshal(got, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%T → %T changes the JSON:\n%s\n%s", from, to, want, got)
	}
}

// fill gives every settable exported field a non-zero value, recursively.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	}
}

// TestSimCommand: the simulator routes' one shape, answer by answer: a strict body (an unknown
// field or one over the limit is 400 with the route's prefix), the command's error as 400 or its
// own status, 204 when done.
func TestSimCommand(t *testing.T) {
	type req struct {
		N int `json:"n"`
	}
	h := simCommand(32, "thing: ", func(_ context.Context, r req) error {
		switch r.N {
		case 1:
			return errors.New("thing: one is not allowed")
		case 2:
			return WithStatus(http.StatusConflict, errors.New("thing: busy"))
		}
		return nil
	})
	tests := []struct {
		name, body string
		code       int
		text       string
	}{
		{"done", `{"n": 3}`, http.StatusNoContent, ""},
		{"unknown field", `{"m": 3}`, http.StatusBadRequest, "thing: bad request body: json: unknown field"},
		{"over the limit", `{"n": 3` + strings.Repeat(" ", 40) + `}`, http.StatusBadRequest, "thing: bad request body"},
		{"refused", `{"n": 1}`, http.StatusBadRequest, "thing: one is not allowed"},
		{"own status", `{"n": 2}`, http.StatusConflict, "thing: busy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h(w, httptest.NewRequest(http.MethodPost, "/api/sim/thing", strings.NewReader(tt.body)))
			if w.Code != tt.code || !strings.HasPrefix(w.Body.String(), tt.text) {
				t.Errorf("%d %q, want %d %q…", w.Code, w.Body.String(), tt.code, tt.text)
			}
		})
	}
}
