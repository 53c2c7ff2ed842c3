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

// Record kinds in the outbox and the quarantine.
const (
	KindVisit  = "visit"
	KindTicket = "ticket"
)

// Quarantined is an outbox record the platform refused (a 4xx answer), kept for the technician.
type Quarantined struct {
	ID     string
	Kind   string // KindVisit or KindTicket
	At     time.Time
	Reason string
}

// Quarantine moves a record the platform refused out of the outbox into the quarantine, in one
// transaction, with the platform's reason. The visit or ticket event itself stays. An ID that is
// not in the outbox is ignored.
func (s *Store) Quarantine(ctx context.Context, kind, id, reason string, at time.Time) error {
	u, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("store: quarantine %q: %w", id, err)
	}
	col := "visit_id"
	switch kind {
	case KindVisit:
	case KindTicket:
		col = "ticket_event_id"
	default:
		return fmt.Errorf("store: quarantine: unknown kind %q", kind)
	}
	err = sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE `+col+` = ?`, u[:])
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO quarantine (id, kind, at, reason) VALUES (?, ?, ?, ?)`,
			u[:], kind, wire.UnixMS(at), reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: quarantine %s %s: %w", kind, id, err)
	}
	return nil
}

// QuarantinedRecords lists up to limit quarantined records, newest first.
func (s *Store) QuarantinedRecords(ctx context.Context, limit int) ([]Quarantined, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, kind, at, reason FROM quarantine ORDER BY at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: quarantine: %w", err)
	}
	defer rows.Close()
	var out []Quarantined
	for rows.Next() {
		var q Quarantined
		var id []byte
		var at int64
		if err := rows.Scan(&id, &q.Kind, &at, &q.Reason); err != nil {
			return nil, fmt.Errorf("store: quarantine: %w", err)
		}
		u, err := uuid.FromBytes(id)
		if err != nil {
			return nil, fmt.Errorf("store: quarantine: id %x: %w", id, err)
		}
		q.ID, q.At = u.String(), wire.FromUnixMS(at)
		out = append(out, q)
	}
	return out, rows.Err()
}

// QuarantineCount reports how many records are quarantined.
func (s *Store) QuarantineCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM quarantine`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: quarantine count: %w", err)
	}
	return n, nil
}

// OutboxOldest returns the time of the oldest record waiting in the outbox; ok is false when the
// outbox is empty.
func (s *Store) OutboxOldest(ctx context.Context) (at time.Time, ok bool, err error) {
	var ms sql.NullInt64
	err = s.r.QueryRowContext(ctx, `
SELECT coalesce(v.at, e.at) FROM outbox o
LEFT JOIN visits v ON v.id = o.visit_id
LEFT JOIN ticket_events e ON e.id = o.ticket_event_id
ORDER BY o.seq LIMIT 1`).Scan(&ms)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("store: outbox oldest: %w", err)
	}
	return wire.FromUnixMS(ms.Int64), ms.Valid, nil
}

// AppendBatch is Append for many visits in one transaction: all or none. Bulk imports, tests and
// benchmarks use it; the lane appends one visit at a time, as it decides.
func (s *Store) AppendBatch(ctx context.Context, vs []*Visit) error {
	type row struct {
		id        uuid.UUID
		temp      sql.NullFloat64
		overrides []byte
	}
	rows := make([]row, len(vs))
	for i, v := range vs {
		if err := wire.CheckVisit(v.WireVisit()); err != nil {
			return fmt.Errorf("store: append batch: visit %d: %w", i, err)
		}
		var err error
		if v.ID == "" {
			rows[i].id, err = uuid.NewV7()
		} else {
			rows[i].id, err = uuid.Parse(v.ID)
		}
		if err != nil {
			return fmt.Errorf("store: append batch: visit id %q: %w", v.ID, err)
		}
		if v.At.IsZero() {
			v.At = time.Now()
		}
		if v.TempC != nil {
			rows[i].temp = sql.NullFloat64{Float64: *v.TempC, Valid: true}
		}
		if v.Overrides != "" {
			o, err := uuid.Parse(v.Overrides)
			if err != nil {
				return fmt.Errorf("store: append batch: overridden visit id %q: %w", v.Overrides, err)
			}
			rows[i].overrides = o[:]
		}
	}
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		// A second decision on a visit fails the batch on the visits_overrides index.
		ins, err := tx.PrepareContext(ctx, `INSERT INTO visits (id, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason, staff_id, overrides, note)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		out, err := tx.PrepareContext(ctx, `INSERT INTO outbox (visit_id) VALUES (?)`)
		if err != nil {
			return err
		}
		defer out.Close()
		for i, v := range vs {
			id := rows[i].id
			if _, err := ins.ExecContext(ctx, id[:], wire.UnixMS(v.At), v.Lane, v.Method, v.PersonKey, v.SealedID, v.MaskedName,
				rows[i].temp, v.Outcome, v.Reason, v.StaffID, rows[i].overrides, v.Note); err != nil {
				return err
			}
			if _, err := out.ExecContext(ctx, id[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: append batch of %d visits: %w", len(vs), err)
	}
	for i, v := range vs {
		v.ID = rows[i].id.String()
	}
	return nil
}

// ReplaceTrustList stores a trust list whatever the held one's seq. sync/client uses it only when
// the held list is not signed by the pinned root at all (the kiosk was moved to another
// platform): sequence numbers of another root's lists mean nothing under this one.
func (s *Store) ReplaceTrustList(ctx context.Context, seq int64, doc []byte) error {
	if len(doc) == 0 {
		return errors.New("store: replace trust list: empty document")
	}
	_, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO trust_list (id, seq, doc, updated_at) VALUES (1, ?, ?, ?)`,
		seq, doc, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: replace trust list seq %d: %w", seq, err)
	}
	return nil
}
