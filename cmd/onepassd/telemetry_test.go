package main

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/sync/wire"
)

func TestTelemetryParts(t *testing.T) {
	since := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))
	health := map[string]device.Health{
		"reader":      {State: device.Down, Reason: "no answer", Since: since},
		"thermometer": {State: device.Degraded, Reason: "ambient out of range", Since: since},
		"camera":      {State: device.OK, Since: since},
		"printer":     {State: device.NotConfigured},
		"sync":        {State: device.OK, Since: since},
	}
	got := telemetryParts(health, []string{"thermometer", "camera", "printer"})
	want := []wire.PartHealth{
		{Part: "camera", State: "ok", Since: since.UTC()}, // unused but fine: stays ok
		{Part: "printer", State: "not_configured"},
		{Part: "reader", State: "down", Reason: "no answer", Since: since.UTC()},
		{Part: "sync", State: "ok", Since: since.UTC()},
		{Part: "thermometer", State: "unused", Reason: "ambient out of range", Since: since.UTC()}, // broken, not needed
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parts\n%+v\nwant\n%+v", got, want)
	}
	if err := wire.CheckTelemetry(wire.Telemetry{At: since, Parts: got, Paper: "none"}); err != nil {
		t.Error(err)
	}
}

func TestPaperOf(t *testing.T) {
	for _, tc := range []struct {
		st   device.PrinterStatus
		err  error
		want string
	}{
		{device.PrinterStatus{Online: true}, nil, "ok"},
		{device.PrinterStatus{Online: true, PaperLow: true}, nil, "low"},
		{device.PrinterStatus{PaperOut: true, PaperLow: true}, nil, "out"},
		{device.PrinterStatus{Online: true}, errors.New("no answer"), "unknown"},
	} {
		if got := paperOf(tc.st, tc.err); got != tc.want {
			t.Errorf("paperOf(%+v, %v) = %q, want %q", tc.st, tc.err, got, tc.want)
		}
	}
}

// fakePrinter answers Status with its paper and counts the questions.
type fakePrinter struct {
	mu     sync.Mutex
	st     device.PrinterStatus
	health device.Health
	asked  int
}

func (p *fakePrinter) Health() device.Health                      { p.mu.Lock(); defer p.mu.Unlock(); return p.health }
func (p *fakePrinter) SelfTest(context.Context) error             { return nil }
func (p *fakePrinter) Close() error                               { return nil }
func (p *fakePrinter) Print(context.Context, device.Ticket) error { return nil }
func (p *fakePrinter) Status(context.Context) (device.PrinterStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	return p.st, nil
}

func (p *fakePrinter) set(f func(p *fakePrinter)) { p.mu.Lock(); f(p); p.mu.Unlock() }

// TestPaperState: the printer is asked off the report (the first report says unknown), at most
// once per paperEvery, and again at once when its health changed; no printer is "none".
func TestPaperState(t *testing.T) {
	clock := clockwork.NewFakeClock()
	p := &fakePrinter{st: device.PrinterStatus{Online: true}, health: device.Health{State: device.OK}}
	ts := newTelemetrySource(nil, p, nil, clock)
	settled := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := ts.paperState()
			ts.mu.Lock()
			asking := ts.asking
			ts.mu.Unlock()
			if got == want && !asking {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("paper %q, want %q", got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if got := ts.paperState(); got != "unknown" {
		t.Errorf("first report: paper %q, want unknown (the answer comes later)", got)
	}
	settled("ok")
	p.set(func(p *fakePrinter) { p.st.PaperOut = true })
	for range 5 {
		ts.paperState()
	}
	if got := ts.paperState(); got != "ok" || p.asked != 1 {
		t.Errorf("within paperEvery: paper %q after %d questions, want ok after 1", got, p.asked)
	}
	// The driver saw the paper run out: asked again at once.
	p.set(func(p *fakePrinter) { p.health = device.Health{State: device.Down, Reason: "paper out"} })
	settled("out")
	// Refilled, health unchanged yet: the next question is paperEvery later.
	p.set(func(p *fakePrinter) { p.st.PaperOut = false })
	clock.Advance(paperEvery)
	settled("ok")

	if got := newTelemetrySource(nil, nil, nil, clock).paperState(); got != "none" {
		t.Errorf("no printer: paper %q", got)
	}
}
