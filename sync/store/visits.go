package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
)

// Visit is one pass attempt at a lane, as recorded and uploaded.
type Visit struct {
	ID         string    // UUIDv7; Append fills it when empty
	At         time.Time // stored as unix ms UTC
	Lane       string
	Method     string   // "card", "code", "card+code", "temp" (fever with no identity), "manual", "staff"
	PersonKey  []byte   // HMAC-SHA256 person key, may be nil
	SealedID   []byte   // HPKE ciphertext of the ID number, may be nil
	MaskedName string   // e.g. 张*
	TempC      *float64 // nil when no temperature was taken
	Outcome    string   // PASS, DENY, MANUAL, RETRY
	Reason     string
	// A staff member's decision on a MANUAL visit (method "staff", reason "staff_override").
	StaffID   string // who decided, "" otherwise
	Overrides string // the UUID of the visit it overrides, "" otherwise
	Note      string // the reason code chosen at the console
}

// WireVisit is v's body as it is uploaded (wire.Visit).
func (v Visit) WireVisit() wire.Visit {
	return wire.Visit{
		Lane: v.Lane, Method: v.Method, PersonKey: v.PersonKey, SealedID: v.SealedID, MaskedName: v.MaskedName,
		TempC: v.TempC, Outcome: v.Outcome, Reason: v.Reason, StaffID: v.StaffID, Overrides: v.Overrides, Note: v.Note,
	}
}

// ErrAlreadyOverridden is Append's answer to a second override of the same visit.
var ErrAlreadyOverridden = errors.New("store: the visit already has a staff decision")

const visitCols = `v.id, v.at, v.lane, v.method, v.person_key, v.sealed_id, v.masked_name, v.temp_c, v.outcome, v.reason, v.staff_id, v.overrides, v.note`

// Append records v in visits and queues it in the outbox, in one
// transaction. When it returns nil the record is on disk (fsynced). It sets
// v.ID to a new UUIDv7 when empty (or to the canonical form of the given
// UUID) and v.At to the current time when zero, before writing, so a retry
// of the same *Visit keeps its ID. A visit the hub would refuse for good (wire.CheckVisit) is
// not written: the error wraps a *wire.VisitError.
func (s *Store) Append(ctx context.Context, v *Visit) error {
	if v == nil {
		return errors.New("store: append: nil visit")
	}
	if err := wire.CheckVisit(v.WireVisit()); err != nil {
		return fmt.Errorf("store: append: %w", err)
	}
	var id uuid.UUID
	var err error
	if v.ID == "" {
		id, err = uuid.NewV7()
	} else {
		id, err = uuid.Parse(v.ID)
	}
	if err != nil {
		return fmt.Errorf("store: append: visit id %q: %w", v.ID, err)
	}
	v.ID = id.String()
	if v.At.IsZero() {
		v.At = time.Now()
	}
	var temp sql.NullFloat64
	if v.TempC != nil {
		temp = sql.NullFloat64{Float64: *v.TempC, Valid: true}
	}
	var overrides []byte // NULL unless set
	if v.Overrides != "" {
		o, err := uuid.Parse(v.Overrides)
		if err != nil {
			return fmt.Errorf("store: append: overridden visit id %q: %w", v.Overrides, err)
		}
		v.Overrides, overrides = o.String(), o[:]
	}
	err = sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		if overrides != nil {
			// Checked in the write transaction: two overrides sent at once cannot both pass.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM visits WHERE overrides = ?`, overrides).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return ErrAlreadyOverridden
			}
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO visits (id, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason, staff_id, overrides, note)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id[:], wire.UnixMS(v.At), v.Lane, v.Method, v.PersonKey, v.SealedID, v.MaskedName, temp, v.Outcome, v.Reason,
			v.StaffID, overrides, v.Note); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (visit_id) VALUES (?)`, id[:])
		return err
	})
	if err != nil {
		return fmt.Errorf("store: append visit %s: %w", v.ID, err)
	}
	return nil
}

// Pending returns up to limit visits waiting in the outbox, oldest first
// (in the order they were appended).
func (s *Store) Pending(ctx context.Context, limit int) ([]Visit, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: pending: limit %d must be positive", limit)
	}
	vs, err := s.queryVisits(ctx,
		`SELECT `+visitCols+` FROM outbox o JOIN visits v ON v.id = o.visit_id ORDER BY o.seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending: %w", err)
	}
	return vs, nil
}

// Ack removes the given visits from the outbox in one transaction and
// reports how many were removed. Unknown, already acknowledged or malformed
// IDs are skipped: upload is at-least-once, so repeats are normal. The
// visits rows stay for the staff console.
func (s *Store) Ack(ctx context.Context, ids []string) (int, error) {
	n, err := s.ackOutbox(ctx, "visit_id", ids)
	if err != nil {
		return 0, fmt.Errorf("store: ack %d visits: %w", len(ids), err)
	}
	return n, nil
}

// ackOutbox deletes the outbox rows whose col (visit_id, ticket_event_id) is one of ids, in one
// transaction, skipping unknown, repeated and malformed IDs.
func (s *Store) ackOutbox(ctx context.Context, col string, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE `+col+` = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, raw := range ids {
			id, err := uuid.Parse(raw)
			if err != nil {
				continue
			}
			res, err := stmt.ExecContext(ctx, id[:])
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}

// OutboxDepth reports how many visits wait for upload.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", err)
	}
	return n, nil
}

// Recent returns the n latest visits, newest first, uploaded or not.
func (s *Store) Recent(ctx context.Context, n int) ([]Visit, error) {
	if n <= 0 {
		return nil, fmt.Errorf("store: recent: n %d must be positive", n)
	}
	vs, err := s.queryVisits(ctx,
		`SELECT `+visitCols+` FROM visits v ORDER BY v.at DESC, v.id DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("store: recent: %w", err)
	}
	return vs, nil
}

func (s *Store) queryVisits(ctx context.Context, query string, args ...any) ([]Visit, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Visit
	for rows.Next() {
		var (
			v         Visit
			id        []byte
			at        int64
			temp      sql.NullFloat64
			overrides []byte
		)
		if err := rows.Scan(&id, &at, &v.Lane, &v.Method, &v.PersonKey, &v.SealedID,
			&v.MaskedName, &temp, &v.Outcome, &v.Reason, &v.StaffID, &overrides, &v.Note); err != nil {
			return nil, err
		}
		if overrides != nil {
			o, err := uuid.FromBytes(overrides)
			if err != nil {
				return nil, fmt.Errorf("visit %x: overrides %x: %w", id, overrides, err)
			}
			v.Overrides = o.String()
		}
		u, err := uuid.FromBytes(id)
		if err != nil {
			return nil, fmt.Errorf("visit id %x: %w", id, err)
		}
		v.ID = u.String()
		v.At = wire.FromUnixMS(at)
		if temp.Valid {
			v.TempC = &temp.Float64
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
