package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"onepass/device"
	"onepass/drivers/sim"
	"onepass/ui"
)

// `onepassctl sim card` in --sim goes through the reader simulator on a pseudo-terminal and the real
// ga467 driver: the card comes back as the driver parsed it from the chip's text block.
func TestSimReaderIsTheRealDriver(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rig := sim.NewRig()
	r, err := simReader(ctx, rig)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	api := ui.New(nil, ui.Options{Sim: ui.SimOptions{Rig: simRig{rig}}}).Handler() // the daemon's /api/sim routes
	simPost := func(path, body string) {
		t.Helper()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Host = "127.0.0.1:8080"
		api.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	next := func() device.Card {
		t.Helper()
		nctx, ncancel := context.WithTimeout(ctx, 10*time.Second)
		defer ncancel()
		c, err := r.Next(nctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return c
	}
	simPost("/api/sim/card", `{"id":"110101199003074477","name":"张三"}`)
	c := next()
	if c.Type != device.CardResident || c.Name != "张三" || c.Number != "110101199003074477" || c.Sex != "男" ||
		c.Nation != "汉" || c.Birth != "19900307" || len(c.Raw) != 256 || len(c.Photo) != 1024 || !strings.HasPrefix(c.Reader, "ga467:/dev/pts/") {
		t.Errorf("card %#v", c)
	}
	simPost("/api/sim/card", `{"id":"810000199001010019","name":"陈大文","type":"hkmotw","valid_to":"长期"}`)
	if c := next(); c.Type != device.CardHKMOTW || c.Number != "810000199001010019" || c.ValidTo != "长期" {
		t.Errorf("permit %#v", c)
	}
	// The same card placed again is a new presentation.
	simPost("/api/sim/card", `{"id":"810000199001010019","name":"陈大文","type":"hkmotw"}`)
	if c := next(); c.Number != "810000199001010019" {
		t.Errorf("again: %#v", c)
	}

	// `onepassctl sim fault reader down`: the simulated reader stops answering; the driver says so.
	rig.Fault("reader", device.Health{State: device.Down, Reason: "unplugged"})
	waitUntil(t, "the driver reports the reader down", func() bool { return r.Health().State == device.Down })
	rig.Fault("reader", device.Health{State: device.OK})
	waitUntil(t, "the driver recovers", func() bool { return r.Health().State == device.OK })
	simPost("/api/sim/remove", `{}`)
	simPost("/api/sim/card", `{"id":"11010519491231002X","name":"王五"}`)
	if c := next(); c.Number != "11010519491231002X" {
		t.Errorf("after recovery: %#v", c)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
