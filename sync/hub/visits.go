package hub

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
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
		var err error
		conflicts, err = storeBatch(ctx, tx, deviceID, wire.UnixMS(now), good)
		return err
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

// ingestChunk is how many rows one statement of a batch inserts or reads back: a round trip per
// chunk, not per row. 500 IDs read back on SQLite are 500 parameters, well under its 32,766.
const ingestChunk = 500

// batchTable is a table a batch inserts into: its columns, id first, with their PostgreSQL types.
type batchTable struct {
	name  string
	cols  []string
	types []string // bytea, text, bigint or float8: what pgArrays builds for the column
}

var (
	visitsTable = batchTable{name: "visits",
		cols: []string{"id", "device", "received_at", "at", "lane", "method", "person_key", "sealed_id", "masked_name", "temp_c",
			"outcome", "reason", "staff_id", "overrides", "note"},
		types: []string{"bytea", "text", "bigint", "bigint", "text", "text", "bytea", "bytea", "text", "float8",
			"text", "text", "text", "bytea", "text"}}
	recordsTable = batchTable{name: "records",
		cols:  []string{"id", "kind", "device", "received_at", "at", "body"},
		types: []string{"bytea", "text", "text", "bigint", "bigint", "bytea"}}
)

// insertSQL is the statement that inserts into t. On PostgreSQL it takes one array per column
// (pgArrays), unnested, and returns the ids it inserted: one statement text whatever the number
// of rows, parsed and planned once per connection, and 15 parameters to bind rather than 7,500
// for 500 tuples. On SQLite it is one row's tuple.
func (t batchTable) insertSQL(pg bool) string {
	var q strings.Builder
	q.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") ")
	if pg {
		q.WriteString("SELECT * FROM unnest(")
		for i, typ := range t.types {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?::" + typ + "[]")
		}
		q.WriteString(") ON CONFLICT (id) DO NOTHING RETURNING id")
		return q.String()
	}
	q.WriteString("VALUES " + placeholders(len(t.cols)) + " ON CONFLICT (id) DO NOTHING")
	return q.String()
}

// pgArrays turns rows of values (as args appends them: []byte or nil, string, int64,
// sql.NullFloat64) into one array per column of t, NULLs kept.
func (t batchTable) pgArrays(vals []any) []any {
	n := len(vals) / len(t.cols)
	out := make([]any, len(t.cols))
	for c, typ := range t.types {
		switch typ {
		case "bytea":
			a := make([][]byte, n)
			for r := range n {
				a[r], _ = vals[r*len(t.cols)+c].([]byte) // nil stays NULL
			}
			out[c] = a
		case "text":
			a := make([]string, n)
			for r := range n {
				a[r] = vals[r*len(t.cols)+c].(string)
			}
			out[c] = a
		case "bigint":
			a := make([]int64, n)
			for r := range n {
				a[r] = vals[r*len(t.cols)+c].(int64)
			}
			out[c] = a
		case "float8":
			a := make([]*float64, n)
			for r := range n {
				if f := vals[r*len(t.cols)+c].(sql.NullFloat64); f.Valid {
					a[r] = &f.Float64
				}
			}
			out[c] = a
		default:
			panic("hub: batchTable type " + typ)
		}
	}
	return out
}

// storeBatch stores a batch's well-formed records, on PostgreSQL in a few statements per batch:
// the first record of each ID not held yet is inserted (INSERT … ON CONFLICT DO NOTHING RETURNING
// id, a chunk at a time; on SQLite a prepared statement per row), and every other one (its ID held already, or repeated in the batch) is compared with the
// row held under its ID, read back in one query per chunk. It returns why each refused record
// conflicts (index in good → why). Visits and other kinds are kept in their own tables, each ID
// once per table.
func storeBatch(ctx context.Context, tx *dbTx, device string, received int64, good []wire.Record) (map[int]string, error) {
	ids := make([]uuid.UUID, len(good))
	rows := make([]visitRow, len(good))
	var visits, others []int
	for i, r := range good {
		ids[i] = uuid.MustParse(r.ID) // checkRecord parsed it
		if r.Kind == "visit" {
			rows[i] = newVisitRow(r)
			visits = append(visits, i)
		} else {
			others = append(others, i)
		}
	}
	conflicts := map[int]string{}
	check, err := insertFirsts(ctx, tx, visitsTable, ids, visits, func(i int, a []any) []any {
		row := rows[i]
		return append(a, ids[i][:], device, received, row.at, row.lane, row.method, nullBytes(row.personKey),
			nullBytes(row.sealedID), row.maskedName, row.tempC, row.outcome, row.reason, row.staffID, nullBytes(row.overrides), row.note)
	})
	if err != nil {
		return nil, fmt.Errorf("visits: %w", err)
	}
	if len(check) > 0 {
		held, err := heldVisits(ctx, tx, ids, check)
		if err != nil {
			return nil, err
		}
		for _, i := range check {
			h, ok := held[ids[i]]
			if !ok {
				return nil, fmt.Errorf("visit %s: neither inserted nor held", ids[i])
			}
			if why := visitDiffers(h, device, rows[i]); why != "" {
				conflicts[i] = why
			}
		}
	}
	check, err = insertFirsts(ctx, tx, recordsTable, ids, others, func(i int, a []any) []any {
		r := good[i]
		return append(a, ids[i][:], r.Kind, device, received, wire.UnixMS(r.At), []byte(r.Body))
	})
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	if len(check) > 0 {
		held, err := heldRecords(ctx, tx, ids, check)
		if err != nil {
			return nil, err
		}
		for _, i := range check {
			h, ok := held[ids[i]]
			if !ok {
				return nil, fmt.Errorf("record %s: neither inserted nor held", ids[i])
			}
			if why := recordDiffers(h, device, good[i]); why != "" {
				conflicts[i] = why
			}
		}
	}
	return conflicts, nil
}

// insertFirsts inserts into t the first record of each ID among idx (indices in ids), unless t
// holds it, appending a record's values in t's column order with args. It returns the
// indices of the records not inserted, to compare with the row held: an ID already there (or
// stored meanwhile by a concurrent batch, which ON CONFLICT waits for) or repeated in the batch.
func insertFirsts(ctx context.Context, tx *dbTx, t batchTable, ids []uuid.UUID, idx []int,
	args func(i int, a []any) []any) (check []int, err error) {
	first := make(map[uuid.UUID]int, len(idx))
	order := make([]int, 0, len(idx))
	for _, i := range idx {
		if _, ok := first[ids[i]]; ok {
			check = append(check, i)
			continue
		}
		first[ids[i]] = i
		order = append(order, i)
	}
	// In ID order, so two transactions inserting overlapping IDs (one batch sent to two
	// replicas) wait on each other's rows in one order rather than deadlock.
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(ids[a][:], ids[b][:]) })
	inserted := make(map[uuid.UUID]bool, len(order))
	if tx.pg {
		for chunk := range slices.Chunk(order, ingestChunk) {
			a := make([]any, 0, len(chunk)*len(t.cols))
			for _, i := range chunk {
				a = args(i, a)
			}
			if err := queryIDs(ctx, tx, t.insertSQL(true), t.pgArrays(a), func(id uuid.UUID) { inserted[id] = true }); err != nil {
				return nil, err
			}
		}
	} else {
		// SQLite runs in this process: a statement per row costs no round trip, and a multi-row
		// INSERT … RETURNING (its rows gathered in a temporary table) cost more CPU per visit
		// than the prepared statement run once per row.
		stmt, err := tx.PrepareContext(ctx, t.insertSQL(false))
		if err != nil {
			return nil, err
		}
		defer stmt.Close()
		var a []any
		for _, i := range order {
			a = args(i, a[:0])
			res, err := stmt.ExecContext(ctx, a...)
			if err != nil {
				return nil, err
			}
			if n, err := res.RowsAffected(); err != nil {
				return nil, err
			} else if n == 1 {
				inserted[ids[i]] = true
			}
		}
	}
	for _, i := range order {
		if !inserted[ids[i]] {
			check = append(check, i)
		}
	}
	return check, nil
}

// placeholders is "(?, ?, …)" with n marks.
func placeholders(n int) string {
	return "(" + strings.Repeat("?, ", n-1) + "?)"
}

// queryIDs runs q, whose rows start with an id column, and calls fn with each ID.
func queryIDs(ctx context.Context, tx *dbTx, q string, args []any, fn func(uuid.UUID)) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		id, err := uuid.FromBytes(b)
		if err != nil {
			return fmt.Errorf("stored id: %w", err)
		}
		fn(id)
	}
	return rows.Err()
}

// heldChunks calls fn with the condition that selects the distinct IDs of the records at idx, a
// chunk at a time, and its arguments: "id IN (?, …)" on SQLite, "id = ANY(?)" with one array on
// PostgreSQL.
func heldChunks(pg bool, ids []uuid.UUID, idx []int, fn func(cond string, args []any) error) error {
	seen := make(map[uuid.UUID]bool, len(idx))
	var distinct [][]byte
	for _, i := range idx {
		if !seen[ids[i]] {
			seen[ids[i]] = true
			distinct = append(distinct, ids[i][:])
		}
	}
	for chunk := range slices.Chunk(distinct, ingestChunk) {
		if pg {
			if err := fn("id = ANY(?::bytea[])", []any{chunk}); err != nil {
				return err
			}
			continue
		}
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := fn("id IN "+placeholders(len(chunk)), args); err != nil {
			return err
		}
	}
	return nil
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

// heldVisits reads the visits held under the IDs of the records at idx.
func heldVisits(ctx context.Context, tx *dbTx, ids []uuid.UUID, idx []int) (map[uuid.UUID]visitRow, error) {
	held := map[uuid.UUID]visitRow{}
	err := heldChunks(tx.pg, ids, idx, func(cond string, args []any) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, device, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason,
		staff_id, overrides, note FROM visits WHERE `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			var v visitRow
			if err := rows.Scan(&b, &v.device, &v.at, &v.lane, &v.method, &v.personKey, &v.sealedID, &v.maskedName, &v.tempC,
				&v.outcome, &v.reason, &v.staffID, &v.overrides, &v.note); err != nil {
				return err
			}
			id, err := uuid.FromBytes(b)
			if err != nil {
				return fmt.Errorf("stored id: %w", err)
			}
			held[id] = v
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read held visits: %w", err)
	}
	return held, nil
}

// visitDiffers says why the visit held is not sent from device ("" when it is).
func visitDiffers(held visitRow, device string, sent visitRow) string {
	switch {
	case held.device != device:
		return conflictDevice
	case held.at != sent.at || held.lane != sent.lane || held.method != sent.method || held.maskedName != sent.maskedName ||
		held.outcome != sent.outcome || held.reason != sent.reason || held.staffID != sent.staffID || held.note != sent.note ||
		!bytes.Equal(held.personKey, sent.personKey) || !bytes.Equal(held.sealedID, sent.sealedID) ||
		!bytes.Equal(held.overrides, sent.overrides) || held.tempC != sent.tempC:
		return conflictContent
	}
	return ""
}

// heldRecord is a record of another kind as the hub stores it.
type heldRecord struct {
	kind, device string
	at           int64
	body         []byte
}

// heldRecords reads the records held under the IDs of the records at idx.
func heldRecords(ctx context.Context, tx *dbTx, ids []uuid.UUID, idx []int) (map[uuid.UUID]heldRecord, error) {
	held := map[uuid.UUID]heldRecord{}
	err := heldChunks(tx.pg, ids, idx, func(cond string, args []any) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, device, at, body FROM records WHERE `+cond, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b []byte
			var r heldRecord
			if err := rows.Scan(&b, &r.kind, &r.device, &r.at, &r.body); err != nil {
				return err
			}
			id, err := uuid.FromBytes(b)
			if err != nil {
				return fmt.Errorf("stored id: %w", err)
			}
			held[id] = r
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("read held records: %w", err)
	}
	return held, nil
}

// recordDiffers compares another kind's record with the one held: kind, device, time, and the
// body as JSON values (its spacing and key order are the sender's spelling, not its content).
func recordDiffers(held heldRecord, device string, sent wire.Record) string {
	if held.device != device {
		return conflictDevice
	}
	var a, b any
	if held.kind != sent.Kind || held.at != wire.UnixMS(sent.At) || json.Unmarshal(held.body, &a) != nil || json.Unmarshal(sent.Body, &b) != nil ||
		!reflect.DeepEqual(a, b) {
		return conflictContent
	}
	return ""
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
