package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/wire"
)

// uploads records what the kiosk POSTs to /v1/visits.
type uploads struct {
	mu  sync.Mutex
	got []wire.Upload
}

func (u *uploads) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wire.PathVisits {
			b, _ := io.ReadAll(r.Body)
			var up wire.Upload
			json.Unmarshal(b, &up)
			u.mu.Lock()
			u.got = append(u.got, up)
			u.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		next.ServeHTTP(w, r)
	})
}

func (u *uploads) take() []wire.Upload {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.got
	u.got = nil
	return got
}

// TestTelemetryRidesThePushes: over real TLS to a real hub, the first upload of a push round
// carries the kiosk's report (a part down, paper out, queue lengths, outbox, skew); a round with
// nothing to upload sends the report alone once per push interval, and nothing more often.
func TestTelemetryRidesThePushes(t *testing.T) {
	h := newHub(t, hub.Options{})
	u := &uploads{}
	h.wrap = u.wrap
	k := newKiosk(t)
	// The kiosk's clock runs 10 minutes behind the hub's.
	clock := clockwork.NewFakeClockAt(time.Now().Add(-10 * time.Minute))
	since := clock.Now().Add(-time.Hour).UTC()
	k.enroll(h, func(c *client.Config) {
		c.Clock, c.PushEvery, c.Software = clock, time.Minute, "onepassd/test"
		c.Telemetry = func(context.Context) wire.Telemetry {
			return wire.Telemetry{UptimeS: 77, Paper: "out",
				Parts: []wire.PartHealth{{Part: "reader", State: "down", Reason: "no answer from the reader", Since: since},
					{Part: "printer", State: "down", Reason: "paper out", Since: since}, {Part: "camera", State: "unused", Reason: "no picture"}},
				Queues: []wire.QueueLength{{Service: "A", Waiting: 3}, {Service: "B", Waiting: 0}}}
		}
	})
	if tel := k.c.Telemetry(bg); tel.SkewKnown || tel.ClockSkewMs != 0 {
		t.Errorf("before the first pull: skew_known %v, clock_skew_ms %d; want an unknown skew", tel.SkewKnown, tel.ClockSkewMs)
	}
	if err := k.c.Pull(bg); err != nil { // measures the skew
		t.Fatal(err)
	}
	ids := k.appendVisits(3)
	if n, err := k.c.Push(bg); err != nil || n != 3 {
		t.Fatalf("push: %d, %v", n, err)
	}
	ups := u.take()
	if len(ups) != 1 || len(ups[0].Records) != 3 || ups[0].Telemetry == nil {
		t.Fatalf("uploads of the round: %+v", ups)
	}
	d := hubDevice(t, h.hub, k.c.Device())
	tel := d.Telemetry
	if tel == nil {
		t.Fatal("the hub kept no report")
	}
	if tel.Version != "onepassd/test" || tel.UptimeS != 77 || tel.Paper != "out" || tel.OutboxDepth != 3 ||
		!tel.OutboxOldest.After(since) || !tel.At.Equal(clock.Now().UTC()) {
		t.Errorf("report: %+v", tel)
	}
	if !tel.SkewKnown || tel.ClockSkewMs > -595_000 || tel.ClockSkewMs < -605_000 {
		t.Errorf("clock_skew_ms %d (known %v), want about -600000 known (the kiosk is 10 min behind)", tel.ClockSkewMs, tel.SkewKnown)
	}
	parts := map[string]wire.PartHealth{}
	for _, p := range tel.Parts {
		parts[p.Part] = p
	}
	if r := parts["reader"]; r.State != "down" || r.Reason != "no answer from the reader" || !r.Since.Equal(since) {
		t.Errorf("reader: %+v", r)
	}
	if parts["camera"].State != "unused" || parts["sync"].State == "" {
		t.Errorf("parts: %+v", tel.Parts)
	}
	if len(tel.Queues) != 2 || tel.Queues[0] != (wire.QueueLength{Service: "A", Waiting: 3}) {
		t.Errorf("queues: %+v", tel.Queues)
	}
	if got := visitIDs(t, k.db); len(got) != len(ids) {
		t.Fatalf("%d visits at the kiosk", len(got))
	}
	sameVisits(t, h.hub, k.db)

	// Nothing waits and the report went 0 s ago: no request at all.
	if _, err := k.c.Push(bg); err != nil {
		t.Fatal(err)
	}
	if ups := u.take(); len(ups) != 0 {
		t.Fatalf("an idle push right after a report sent %d uploads", len(ups))
	}
	// A push interval later the idle kiosk sends its report alone.
	clock.Advance(time.Minute)
	if _, err := k.c.Push(bg); err != nil {
		t.Fatal(err)
	}
	ups = u.take()
	if len(ups) != 1 || len(ups[0].Records) != 0 || ups[0].Telemetry == nil || ups[0].Telemetry.OutboxDepth != 0 {
		t.Fatalf("heartbeat: %+v", ups)
	}
	if d2 := hubDevice(t, h.hub, k.c.Device()); !d2.Telemetry.At.Equal(clock.Now().UTC()) || d2.TelemetryAt.Before(d.TelemetryAt) {
		t.Errorf("latest after the heartbeat: %+v at %s", d2.Telemetry, d2.TelemetryAt)
	}
	if hist, err := h.hub.TelemetryHistory(bg, k.c.Device(), time.Time{}); err != nil || len(hist) == 0 {
		t.Errorf("history: %d, %v", len(hist), err)
	}
}

// TestTelemetryWithoutHook: a client without Config.Telemetry still reports what it knows: its
// own health, the outbox, the replica (none yet), and paper unknown.
func TestTelemetryWithoutHook(t *testing.T) {
	h := newHub(t, hub.Options{})
	k := newKiosk(t)
	k.enroll(h, func(c *client.Config) { c.Software = "x/1" })
	k.appendVisits(2)
	tel := k.c.Telemetry(bg)
	if tel.Paper != "unknown" || tel.OutboxDepth != 2 || tel.ReplicaAgeS != -1 || tel.Version != "x/1" ||
		len(tel.Parts) != 1 || tel.Parts[0].Part != "sync" || tel.Parts[0].State != "ok" {
		t.Errorf("report: %+v", tel)
	}
	if err := wire.CheckTelemetry(tel); err != nil {
		t.Error(err)
	}
}

func hubDevice(t *testing.T, h *hub.Hub, id string) hub.Device {
	t.Helper()
	ds, err := h.Devices(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("device %s not listed", id)
	return hub.Device{}
}
