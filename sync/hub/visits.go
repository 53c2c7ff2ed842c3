package hub

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

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
		// PostgreSQL's text cannot hold NUL: refused for good on either backend, rather than a
		// batch that fails on one of them and is retried forever.
		v := r.Visit
		if strings.ContainsRune(v.Lane+v.MaskedName+v.Reason+v.StaffID+v.Note, 0) {
			return "text field contains a NUL character"
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
// IDs it holds (new, or already there as sent: a retry after a lost answer) and which it refuses
// for good: malformed records, records dated too far ahead (see Options.MaxSkew), and conflicts,
// an ID it already holds from another device or with other content. A conflict must not be
// accepted: the kiosk deletes what the hub accepts, and the hub keeps its first row.
func (h *Hub) Ingest(ctx context.Context, deviceID string, recs []wire.Record) (wire.Ack, error) {
	ack := wire.Ack{Header: wire.Header{V: wire.Major, Type: wire.TypeAck}, Accepted: []string{}}
	now := h.now()
	latest := now.Add(h.opt.MaxSkew + aheadSlack)
	var good []wire.Record
	for _, r := range recs {
		why := checkRecord(r)
		if why == "" && r.At.After(latest) {
			why = fmt.Sprintf("at %s is more than %s ahead of the hub's clock (%s)", r.At.UTC().Format(time.RFC3339),
				h.opt.MaxSkew+aheadSlack, now.UTC().Format(time.RFC3339))
		}
		if why != "" {
			ack.Rejected = append(ack.Rejected, wire.Rejection{ID: r.ID, Reason: why})
			continue
		}
		good = append(good, r)
	}
	var conflicts map[int]string // index in good → why
	// Read committed is enough here, and spares concurrent batches from other kiosks the false
	// serialization failures of SERIALIZABLE: the primary key stores an ID once, ON CONFLICT waits
	// for a concurrent insert of it to commit, and the comparison after it reads the row held.
	err := h.inTxAt(ctx, sql.LevelReadCommitted, func(tx *dbTx) error {
		conflicts = map[int]string{}
		ins, err := newInserter(ctx, tx, deviceID, wire.UnixMS(now))
		if err != nil {
			return err
		}
		defer ins.close()
		for i, r := range good {
			why, err := ins.insert(ctx, r)
			if err != nil {
				return err
			}
			if why != "" {
				conflicts[i] = why
			}
		}
		return nil
	})
	if err != nil {
		return wire.Ack{}, fmt.Errorf("hub: ingest %d records: %w", len(good), err)
	}
	for i, r := range good {
		if why, ok := conflicts[i]; ok {
			ack.Rejected = append(ack.Rejected, wire.Rejection{ID: r.ID, Reason: why})
			h.log.Warn("hub: refused a record whose id it holds otherwise", "device", deviceID, "id", r.ID, "kind", r.Kind, "reason", why)
			continue
		}
		ack.Accepted = append(ack.Accepted, uuid.MustParse(r.ID).String())
	}
	ack.IssuedAt = h.now().UTC()
	return ack, nil
}

// aheadSlack is how much later than MaxSkew allows a record may be dated: a kiosk whose clock ran
// off loses nothing a day's drift explains (its sync health already says so); a record dated
// beyond is no record of a visit that happened.
const aheadSlack = 24 * time.Hour

// Reasons of a conflict, the start of the rejection's reason.
const (
	conflictDevice  = "conflict: the hub holds this id from another device"
	conflictContent = "conflict: the hub holds this id with other content"
)

// inserter inserts one batch's records inside its transaction.
type inserter struct {
	device   string
	received int64
	tx       *dbTx
	visit    *sql.Stmt
	other    *sql.Stmt
}

func newInserter(ctx context.Context, tx *dbTx, device string, received int64) (*inserter, error) {
	visit, err := tx.PrepareContext(ctx, `INSERT INTO visits (id, device, received_at, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason, staff_id, overrides, note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		return nil, err
	}
	other, err := tx.PrepareContext(ctx, `INSERT INTO records (id, kind, device, received_at, at, body) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	if err != nil {
		visit.Close()
		return nil, err
	}
	return &inserter{device: device, received: received, tx: tx, visit: visit, other: other}, nil
}

func (ins *inserter) close() {
	ins.visit.Close()
	ins.other.Close()
}

// insert stores r unless its ID is there; then it says why the row there is not r ("" when it is).
func (ins *inserter) insert(ctx context.Context, r wire.Record) (conflict string, err error) {
	id := uuid.MustParse(r.ID)
	var res sql.Result
	var row visitRow
	if r.Kind == "visit" {
		row = newVisitRow(r)
		res, err = ins.visit.ExecContext(ctx, id[:], ins.device, ins.received, row.at, row.lane, row.method, nullBytes(row.personKey),
			nullBytes(row.sealedID), row.maskedName, row.tempC, row.outcome, row.reason, row.staffID, nullBytes(row.overrides), row.note)
	} else {
		res, err = ins.other.ExecContext(ctx, id[:], r.Kind, ins.device, ins.received, wire.UnixMS(r.At), []byte(r.Body))
	}
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return "", err
	}
	if r.Kind == "visit" {
		return ins.visitConflict(ctx, id, row)
	}
	return ins.recordConflict(ctx, id, r)
}

// visitRow is a visit as the hub stores it: the wire's canonical form (at in milliseconds,
// overrides as the UUID's 16 bytes), so a retry compares equal however its JSON was spelled.
type visitRow struct {
	device                                                   string
	at                                                       int64
	lane, method, maskedName, outcome, reason, staffID, note string
	personKey, sealedID, overrides                           []byte
	tempC                                                    sql.NullFloat64
}

func newVisitRow(r wire.Record) visitRow {
	v := r.Visit
	row := visitRow{at: wire.UnixMS(r.At), lane: v.Lane, method: v.Method, maskedName: v.MaskedName, outcome: v.Outcome,
		reason: v.Reason, staffID: v.StaffID, note: v.Note, personKey: v.PersonKey, sealedID: v.SealedID}
	if v.TempC != nil {
		row.tempC = sql.NullFloat64{Float64: *v.TempC, Valid: true}
	}
	if v.Overrides != "" {
		o := uuid.MustParse(v.Overrides) // checkOverride parsed it
		row.overrides = o[:]
	}
	return row
}

// nullBytes stores an absent byte field as NULL.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func (ins *inserter) visitConflict(ctx context.Context, id uuid.UUID, sent visitRow) (string, error) {
	var held visitRow
	err := ins.tx.QueryRowContext(ctx, `SELECT device, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason,
		staff_id, overrides, note FROM visits WHERE id = ?`, id[:]).Scan(&held.device, &held.at, &held.lane, &held.method,
		&held.personKey, &held.sealedID, &held.maskedName, &held.tempC, &held.outcome, &held.reason, &held.staffID, &held.overrides, &held.note)
	if err != nil {
		return "", fmt.Errorf("visit %s: %w", id, err)
	}
	switch {
	case held.device != ins.device:
		return conflictDevice, nil
	case held.at != sent.at || held.lane != sent.lane || held.method != sent.method || held.maskedName != sent.maskedName ||
		held.outcome != sent.outcome || held.reason != sent.reason || held.staffID != sent.staffID || held.note != sent.note ||
		!bytes.Equal(held.personKey, sent.personKey) || !bytes.Equal(held.sealedID, sent.sealedID) ||
		!bytes.Equal(held.overrides, sent.overrides) || held.tempC != sent.tempC:
		return conflictContent, nil
	}
	return "", nil
}

// recordConflict compares another kind's record with the one held: kind, device, time, and the
// body as JSON values (its spacing and key order are the sender's spelling, not its content).
func (ins *inserter) recordConflict(ctx context.Context, id uuid.UUID, sent wire.Record) (string, error) {
	var kind, device string
	var at int64
	var body []byte
	err := ins.tx.QueryRowContext(ctx, `SELECT kind, device, at, body FROM records WHERE id = ?`, id[:]).Scan(&kind, &device, &at, &body)
	if err != nil {
		return "", fmt.Errorf("record %s: %w", id, err)
	}
	if device != ins.device {
		return conflictDevice, nil
	}
	var a, b any
	if kind != sent.Kind || at != wire.UnixMS(sent.At) || json.Unmarshal(body, &a) != nil || json.Unmarshal(sent.Body, &b) != nil ||
		!reflect.DeepEqual(a, b) {
		return conflictContent, nil
	}
	return "", nil
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
