package hub

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
)

var (
	visitMethods  = []string{"card", "code", "card+code", "temp", "manual", "staff"} // manual: staff-console ID entry; staff: a staff decision on a MANUAL visit
	visitOutcomes = []string{"PASS", "DENY", "MANUAL", "RETRY"}
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
		v := r.Visit
		switch {
		case v == nil:
			return "visit record without a visit body"
		case v.Lane == "" || len(v.Lane) > 32:
			return "lane must be 1–32 characters"
		case !slices.Contains(visitMethods, v.Method):
			return fmt.Sprintf("method %q unknown", v.Method)
		case !slices.Contains(visitOutcomes, v.Outcome):
			return fmt.Sprintf("outcome %q unknown", v.Outcome)
		case len(v.Reason) > 64:
			return "reason longer than 64 bytes"
		case utf8.RuneCountInString(v.MaskedName) > 64:
			return "masked name longer than 64 characters"
		case v.PersonKey != nil && len(v.PersonKey) != wire.PersonKeySize:
			return fmt.Sprintf("person key of %d bytes, want %d", len(v.PersonKey), wire.PersonKeySize)
		case len(v.SealedID) > 512:
			return "sealed id longer than 512 bytes"
		case v.TempC != nil && (*v.TempC < 0 || *v.TempC > 60):
			return fmt.Sprintf("temperature %.1f °C impossible", *v.TempC)
		}
		if why := checkOverride(v); why != "" {
			return why
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

// checkOverride checks the fields of a staff decision: method "staff" carries who decided and
// the visit it overrides, and is a PASS or a DENY; other methods carry none of them.
func checkOverride(v *wire.Visit) string {
	switch {
	case len(v.StaffID) > 32:
		return "staff id longer than 32 bytes"
	case len(v.Note) > 64:
		return "note longer than 64 bytes"
	case v.Method != "staff":
		if v.StaffID != "" || v.Overrides != "" || v.Note != "" {
			return fmt.Sprintf("method %q with staff-decision fields", v.Method)
		}
		return ""
	case v.StaffID == "":
		return "staff decision without staff_id"
	case v.Outcome != "PASS" && v.Outcome != "DENY":
		return fmt.Sprintf("staff decision with outcome %q, want PASS or DENY", v.Outcome)
	}
	if _, err := uuid.Parse(v.Overrides); err != nil {
		return "overrides is not a UUID"
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
