package main

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/queue"
	"onepass/sync/wire"
)

// paperEvery is how often the telemetry asks the printer for its paper; between, the last answer
// stands, unless the printer's health changed (a failed print, the driver's own poll). The question goes to the printer off the push (a printer that does not answer must not
// hold the upload up), so a report carries the answer of the question before.
const paperEvery = time.Minute

// telemetrySource is the daemon's part of the report the pushes carry to the hub (sync/client
// adds the outbox, the replica's age and the clock skew): every part's health as the lane sees
// it, the printer's paper and the queue's lengths.
type telemetrySource struct {
	lane    *kiosk.Lane
	printer device.TicketPrinter // nil: none fitted
	queue   *queue.Queue         // nil: queue tickets are off
	clock   clockwork.Clock

	mu       sync.Mutex
	paper    string
	paperAt  time.Time
	paperH   device.Health // the printer's health when it was last asked
	asking   bool
	paperFor func(context.Context) (device.PrinterStatus, error) // the printer's Status; tests replace it
}

func newTelemetrySource(lane *kiosk.Lane, printer device.TicketPrinter, q *queue.Queue, clock clockwork.Clock) *telemetrySource {
	ts := &telemetrySource{lane: lane, queue: q, clock: clock, paper: "unknown"}
	if any(printer) != nil {
		ts.printer, ts.paperFor = printer, printer.Status
	} else {
		ts.paper = "none"
	}
	return ts
}

// fill adds the parts, the paper and the queues to t.
func (ts *telemetrySource) fill(t *wire.Telemetry) {
	v := ts.lane.View()
	t.Parts = telemetryParts(v.Health, v.Unused)
	t.Paper = ts.paperState()
	if ts.queue != nil {
		for _, s := range ts.queue.Board().Services {
			t.Queues = append(t.Queues, wire.QueueLength{Service: s.Code, Waiting: s.Waiting})
		}
	}
}

// telemetryParts lists every part's health by name. A fitted part the hall's policy does not use
// and that is not ok is "unused": its fault stops no pass, as the staff console says.
func telemetryParts(health map[string]device.Health, unused []string) []wire.PartHealth {
	names := make([]string, 0, len(health))
	for name := range health {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]wire.PartHealth, 0, len(names))
	for _, name := range names {
		h := health[name]
		state := string(h.State)
		if h.State != device.OK && h.State != device.NotConfigured && slices.Contains(unused, name) {
			state = "unused"
		}
		p := wire.PartHealth{Part: name, State: state, Reason: h.Reason}
		if !h.Since.IsZero() {
			p.Since = h.Since.UTC()
		}
		out = append(out, p)
	}
	return out
}

// paperState is the last known paper state, asking the printer again (in the background) when
// that answer is older than paperEvery.
func (ts *telemetrySource) paperState() string {
	if ts.printer == nil {
		return "none"
	}
	h := ts.printer.Health()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	changed := h.State != ts.paperH.State || h.Reason != ts.paperH.Reason
	if !ts.asking && (ts.paperAt.IsZero() || changed || ts.clock.Since(ts.paperAt) >= paperEvery) {
		ts.asking, ts.paperH = true, h
		go ts.askPaper()
	}
	return ts.paper
}

func (ts *telemetrySource) askPaper() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := ts.paperFor(ctx)
	p := paperOf(st, err)
	ts.mu.Lock()
	ts.paper, ts.paperAt, ts.asking = p, ts.clock.Now(), false
	ts.mu.Unlock()
}

// paperOf puts a printer's answer in the report's words; no answer is unknown, never ok.
func paperOf(st device.PrinterStatus, err error) string {
	switch {
	case err != nil:
		return "unknown"
	case st.PaperOut:
		return "out"
	case st.PaperLow:
		return "low"
	}
	return "ok"
}
