package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"onepass/sync/store"
	"onepass/sync/wire"
)

// Push uploads the outbox, oldest first, in batches, until it is empty or an upload fails. A
// record leaves the outbox only when the hub acknowledged it (deleted in one transaction per
// batch) or refused it for good with a 4xx (then it is quarantined, with the hub's reason, never
// dropped). It returns how many records left the outbox.
func (c *Client) Push(ctx context.Context) (int, error) {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	n, err := c.push(ctx)
	if ctx.Err() != nil { // a stop is not a failure of the hub
		c.pushDone(n, nil)
		return n, err
	}
	c.noteRefused(err)
	c.pushDone(n, err)
	c.refreshOutbox(ctx)
	if err == nil && n > 0 {
		c.db.SetMeta(ctx, store.MetaLastSync, []byte(c.clock.Now().UTC().Format(time.RFC3339Nano)))
	}
	return n, err
}

func (c *Client) push(ctx context.Context) (int, error) {
	c.pendingTel = c.telemetryDue(ctx)
	defer func() { c.pendingTel = nil }()
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		vs, err := c.db.Pending(ctx, c.cfg.BatchSize)
		if err != nil {
			return total, err
		}
		ts, err := c.db.PendingTickets(ctx, c.cfg.BatchSize)
		if err != nil {
			return total, err
		}
		if len(vs) == 0 && len(ts) == 0 {
			if c.pendingTel != nil { // nothing carried the report: it goes alone
				return total, c.heartbeat(ctx, c.pendingTel)
			}
			return total, nil
		}
		// One batch of each kind per turn, so neither waits for the other.
		for _, batch := range []struct {
			kind string
			recs []wire.Record
		}{{store.KindVisit, visitRecords(vs)}, {store.KindTicket, ticketRecords(ts)}} {
			if len(batch.recs) == 0 {
				continue
			}
			n, err := c.upload(ctx, batch.kind, batch.recs)
			total += n
			if err != nil {
				return total, err
			}
			if n == 0 {
				return total, fmt.Errorf("sync: upload: the hub acknowledged none of %d %s records", len(batch.recs), batch.kind)
			}
		}
	}
}

// upload sends one batch and settles its records. A batch too large for the hub is split in
// halves, so one oversized record never blocks the others.
func (c *Client) upload(ctx context.Context, kind string, recs []wire.Record) (int, error) {
	body, err := json.Marshal(wire.Upload{V: wire.Major, Records: recs, Telemetry: c.pendingTel})
	if err != nil {
		return 0, fmt.Errorf("sync: upload: %w", err)
	}
	if len(body) > wire.MaxUploadBytes && len(recs) > 1 {
		return c.split(ctx, kind, recs)
	}
	resp, _, err := c.exchange(ctx, http.MethodPost, wire.PathVisits, body, len(recs))
	if err != nil {
		// The hub refuses single records in its signed acknowledgement, never by status code. A
		// 4xx is about the request as a whole (too large, cut off, a proxy's 404 or 429 during a
		// deploy): only "too large" is split, and only a lone record too large to ever fit is
		// quarantined; everything else is retried later with backoff, nothing is set aside.
		var he *httpStatusError
		if errors.As(err, &he) && he.code == http.StatusRequestEntityTooLarge {
			if len(recs) > 1 {
				return c.split(ctx, kind, recs)
			}
			return c.quarantine(ctx, kind, recs[0].ID, he.msg)
		}
		return 0, err
	}
	var ack wire.Ack
	if _, err := c.verifier.Open(resp, wire.TypeAck, &ack); err != nil {
		return 0, fmt.Errorf("sync: upload acknowledgement rejected (the batch will be sent again): %w", err)
	}
	if c.pendingTel != nil {
		c.telemetrySent()
	}
	sent := make(map[string]bool, len(recs))
	for _, r := range recs {
		sent[r.ID] = true
	}
	var ids []string
	for _, id := range ack.Accepted {
		if sent[id] {
			ids = append(ids, id)
			delete(sent, id)
		}
	}
	var n int
	if kind == store.KindTicket {
		n, err = c.db.AckTickets(ctx, ids)
	} else {
		n, err = c.db.Ack(ctx, ids)
	}
	if err != nil {
		// Not deleted: the records go up again later and the hub keeps each ID once.
		return 0, fmt.Errorf("sync: upload acknowledged but the outbox could not be updated: %w", err)
	}
	for _, rej := range ack.Rejected {
		if !sent[rej.ID] {
			continue
		}
		delete(sent, rej.ID)
		q, err := c.quarantine(ctx, kind, rej.ID, "refused by the hub: "+rej.Reason)
		n += q
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *Client) split(ctx context.Context, kind string, recs []wire.Record) (int, error) {
	half := len(recs) / 2
	n1, err := c.upload(ctx, kind, recs[:half])
	if err != nil {
		return n1, err
	}
	n2, err := c.upload(ctx, kind, recs[half:])
	return n1 + n2, err
}

func (c *Client) quarantine(ctx context.Context, kind, id, reason string) (int, error) {
	if err := c.db.Quarantine(ctx, kind, id, reason, c.clock.Now()); err != nil {
		return 0, fmt.Errorf("sync: %w", err)
	}
	c.log.Error("sync: the hub refused a record for good; it is kept in quarantine", "kind", kind, "id", id, "reason", reason)
	return 1, nil
}

func visitRecords(vs []store.Visit) []wire.Record {
	out := make([]wire.Record, len(vs))
	for i, v := range vs {
		wv := v.WireVisit()
		out[i] = wire.Record{ID: v.ID, Kind: store.KindVisit, At: v.At, Visit: &wv}
	}
	return out
}

// Ticket is the body of a record of kind "ticket": one queue-ticket event, no personal data.
type Ticket struct {
	TicketID    string    `json:"ticket_id"`
	Event       string    `json:"event"` // issued, called, recalled, transferred, served, no_show, expired
	Day         string    `json:"day"`
	Number      string    `json:"number"`
	Service     string    `json:"service"`
	FromService string    `json:"from_service,omitempty"`
	Counter     string    `json:"counter,omitempty"`
	Priority    string    `json:"priority,omitempty"`
	Source      string    `json:"source"`
	Slot        time.Time `json:"slot,omitzero"`
	WaitedMS    int64     `json:"waited_ms"`
}

func ticketRecords(ts []store.TicketEvent) []wire.Record {
	out := make([]wire.Record, len(ts))
	for i, t := range ts {
		body, _ := json.Marshal(Ticket{TicketID: t.TicketID, Event: t.Kind, Day: t.Day, Number: t.Number, Service: t.Service,
			FromService: t.FromService, Counter: t.Counter, Priority: t.Priority, Source: t.Source, Slot: t.Slot,
			WaitedMS: t.Waited.Milliseconds()})
		out[i] = wire.Record{ID: t.ID, Kind: store.KindTicket, At: t.At, Body: body}
	}
	return out
}
