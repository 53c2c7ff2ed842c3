package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
)

// checkRecord says why a record can never be accepted, or "" when it is well formed.
func checkRecord(r wire.Record) string {
	if _, err := uuid.Parse(r.ID); err != nil {
		return "id is not a UUID"
	}
	if r.At.IsZero() {
		return "at is missing"
	}
	switch r.Kind {
	case "visit":
		if r.Visit == nil {
			return "visit record without a visit body"
		}
		var ve *wire.VisitError
		if err := wire.CheckVisit(*r.Visit); errors.As(err, &ve) {
			return ve.Reason // the kiosk's store checked the same rule before it queued the record
		}
	case "ticket":
		if len(r.Body) == 0 || len(r.Body) > 4096 || !json.Valid(r.Body) || r.Body[0] != '{' {
			return "ticket record needs a JSON object body of at most 4 KiB"
		}
	default:
		return fmt.Sprintf("record kind %q unknown", r.Kind)
	}
	return ""
}

// Ingest stores a batch of records in one transaction, each ID at most once, and answers which
// IDs it holds (new or already there) and which it refuses for good.
func (h *Hub) Ingest(ctx context.Context, deviceID string, recs []wire.Record) (wire.Ack, error) {
	ack := wire.Ack{Header: wire.Header{V: wire.Major, Type: wire.TypeAck}, Accepted: []string{}}
	var good []wire.Record
	for _, r := range recs {
		if why := checkRecord(r); why != "" {
			ack.Rejected = append(ack.Rejected, wire.Rejection{ID: r.ID, Reason: why})
			continue
		}
		good = append(good, r)
	}
	now := wire.UnixMS(h.now())
	err := sqlitedb.InTx(ctx, h.w, func(tx *sql.Tx) error {
		visit, err := tx.PrepareContext(ctx, `INSERT INTO visits (id, device, received_at, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason, staff_id, overrides, note)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer visit.Close()
		other, err := tx.PrepareContext(ctx, `INSERT INTO records (id, kind, device, received_at, at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer other.Close()
		for _, r := range good {
			id := uuid.MustParse(r.ID)
			if r.Kind == "visit" {
				v := r.Visit
				var temp any
				if v.TempC != nil {
					temp = *v.TempC
				}
				var pk, sealed any
				if v.PersonKey != nil {
					pk = v.PersonKey
				}
				if v.SealedID != nil {
					sealed = v.SealedID
				}
				var overrides any
				if v.Overrides != "" {
					o := uuid.MustParse(v.Overrides) // checkOverride parsed it
					overrides = o[:]
				}
				_, err = visit.ExecContext(ctx, id[:], deviceID, now, wire.UnixMS(r.At), v.Lane, v.Method, pk, sealed, v.MaskedName, temp, v.Outcome, v.Reason,
					v.StaffID, overrides, v.Note)
			} else {
				_, err = other.ExecContext(ctx, id[:], r.Kind, deviceID, now, wire.UnixMS(r.At), []byte(r.Body))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wire.Ack{}, fmt.Errorf("hub: ingest %d records: %w", len(good), err)
	}
	for _, r := range good {
		ack.Accepted = append(ack.Accepted, uuid.MustParse(r.ID).String())
	}
	ack.IssuedAt = h.now().UTC()
	return ack, nil
}

// VisitRecord is one stored visit, as exported: where and when it arrived, and the visit as the
// kiosk sent it (wire.Visit, whose JSON fields follow at's).
type VisitRecord struct {
	ID         string    `json:"id"`
	Device     string    `json:"device"`
	ReceivedAt time.Time `json:"received_at"`
	At         time.Time `json:"at"`
	wire.Visit
}

// Visits calls fn for every visit received at or after since, in visit time order.
func (h *Hub) Visits(ctx context.Context, since time.Time, fn func(VisitRecord) error) error {
	rows, err := h.r.QueryContext(ctx, `SELECT id, device, received_at, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason,
		staff_id, overrides, note FROM visits WHERE at >= ? ORDER BY at, id`, wire.UnixMS(since))
	if err != nil {
		return fmt.Errorf("hub: visits: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v VisitRecord
		var id []byte
		var rec, at int64
		var temp sql.NullFloat64
		var overrides []byte
		if err := rows.Scan(&id, &v.Device, &rec, &at, &v.Lane, &v.Method, &v.PersonKey, &v.SealedID, &v.MaskedName, &temp, &v.Outcome, &v.Reason,
			&v.StaffID, &overrides, &v.Note); err != nil {
			return fmt.Errorf("hub: visits: %w", err)
		}
		if overrides != nil {
			o, err := uuid.FromBytes(overrides)
			if err != nil {
				return fmt.Errorf("hub: visits: overrides: %w", err)
			}
			v.Overrides = o.String()
		}
		u, err := uuid.FromBytes(id)
		if err != nil {
			return fmt.Errorf("hub: visits: %w", err)
		}
		v.ID, v.ReceivedAt, v.At = u.String(), wire.FromUnixMS(rec), wire.FromUnixMS(at)
		if temp.Valid {
			v.TempC = &temp.Float64
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// VisitIDs returns the IDs of every stored visit (tests compare it with the kiosk's visits).
func (h *Hub) VisitIDs(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := h.Visits(ctx, time.Time{}, func(v VisitRecord) error {
		out[v.ID] = true
		return nil
	})
	return out, err
}
