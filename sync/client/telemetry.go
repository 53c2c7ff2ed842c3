package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"onepass/sync/wire"
)

// The kiosk's telemetry (docs/sync-protocol.md, "Telemetry") rides on the pushes: the first
// upload of a push round carries the report, and a round with nothing to upload sends it alone
// (an upload of no records), so the hub hears from an idle kiosk once per push interval, on the
// same connection. A report goes at most every PushEvery/2, however often the push loop is kicked.

// telemetryDue takes a report when one is due, for the push round about to start; nil otherwise.
// Called with pushMu held.
func (c *Client) telemetryDue(ctx context.Context) *wire.Telemetry {
	if !c.telSent.IsZero() && c.clock.Since(c.telSent) < c.cfg.PushEvery/2 {
		return nil
	}
	t := c.Telemetry(ctx)
	return &t
}

// Telemetry is the report the next push carries: Config.Telemetry's (parts, paper, queues,
// version, uptime) completed with what the client knows itself (outbox, replica age, clock
// skew, its own health) and trimmed to the protocol's limits.
func (c *Client) Telemetry(ctx context.Context) wire.Telemetry {
	var t wire.Telemetry
	if c.cfg.Telemetry != nil {
		t = c.cfg.Telemetry(ctx)
	}
	now := c.clock.Now()
	t.At = now.UTC()
	if t.Version == "" {
		t.Version = c.cfg.Software
	}
	if t.UptimeS == 0 {
		t.UptimeS = int64(now.Sub(c.started).Seconds())
	}
	if t.Paper == "" {
		t.Paper = "unknown"
	}
	if !slices.ContainsFunc(t.Parts, func(p wire.PartHealth) bool { return p.Part == "sync" }) {
		h := c.Health()
		t.Parts = append(t.Parts, wire.PartHealth{Part: "sync", State: string(h.State), Reason: h.Reason, Since: h.Since.UTC()})
	}
	t.OutboxDepth, t.OutboxOldest, t.ReplicaAgeS = 0, time.Time{}, -1
	if depth, err := c.db.OutboxDepth(ctx); err == nil {
		t.OutboxDepth = int64(depth)
		if at, ok, err := c.db.OutboxOldest(ctx); err == nil && ok && depth > 0 {
			t.OutboxOldest = at.UTC()
		}
	}
	if issued, ok, err := c.db.ReplicaFreshness(ctx); err == nil && ok {
		t.ReplicaAgeS = max(int64(now.Sub(issued).Seconds()), 0)
	}
	t.ClockSkewMs, t.SkewKnown = 0, false
	if skew, ok := c.Skew(); ok {
		// Skew is hub − kiosk; the report says kiosk − hub. Known, so 0 reads "no skew".
		t.ClockSkewMs, t.SkewKnown = -skew.Milliseconds(), true
	}
	t = wire.ClampTelemetry(t)
	if b, err := json.Marshal(t); err == nil && len(b) > wire.MaxTelemetryBytes {
		// Only texts JSON escapes six-fold get here: shorter reasons say enough.
		for i := range t.Parts {
			r := t.Parts[i].Reason
			t.Parts[i].Reason = r[:min(len(r), 32)]
		}
		t = wire.ClampTelemetry(t) // mends a character cut in two
	}
	return t
}

// heartbeat sends the report alone: an upload of no records.
func (c *Client) heartbeat(ctx context.Context, t *wire.Telemetry) error {
	body, err := json.Marshal(wire.Upload{V: wire.Major, Records: []wire.Record{}, Telemetry: t})
	if err != nil {
		return fmt.Errorf("sync: telemetry: %w", err)
	}
	resp, _, err := c.exchange(ctx, http.MethodPost, wire.PathVisits, body, 0)
	if err != nil {
		return err
	}
	var ack wire.Ack
	if _, err := c.verifier.Open(resp, wire.TypeAck, &ack); err != nil {
		return fmt.Errorf("sync: heartbeat acknowledgement rejected: %w", err)
	}
	c.telemetrySent()
	return nil
}

// telemetrySent notes that the hub acknowledged an upload carrying the round's report.
func (c *Client) telemetrySent() {
	c.pendingTel, c.telSent = nil, c.clock.Now()
}
