package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"onepass/sync/wire"
)

// StatusChange is one chunk of the platform's status stream, applied by ApplyStatus in one
// transaction together with the stream cursor (Meta), so a crash leaves either the whole chunk
// and its cursor or neither.
type StatusChange struct {
	// Replace removes every row with Lo ≤ person key < Hi (Hi nil: no upper bound) before Put
	// is applied: a snapshot chunk replaces its key range.
	Replace bool
	Lo, Hi  []byte
	// Recount recomputes the digests of every partition the change touches from the rows
	// themselves instead of updating them per row: the repair of a partition whose digest
	// disagreed with the hub.
	Recount bool
	Put     []StatusRow
	Delete  [][]byte
	Meta    map[string][]byte
}

// RowHasher gives the 16-byte hash of a row that partition digests sum up (sync/wire.RowHash);
// the store keeps the digests but does not define the protocol's hash.
type RowHasher func(StatusRow) [16]byte

// Partitions is the number of replica partitions (the first byte of the person key).
const Partitions = wire.Partitions

// ApplyStatus applies ch in one write transaction and keeps the partition digests (the sum mod
// 2^128 of the row hashes of each partition) and counts up to date.
func (s *Store) ApplyStatus(ctx context.Context, ch StatusChange, hash RowHasher) error {
	for i, r := range ch.Put {
		if len(r.PersonKey) != PersonKeySize {
			return fmt.Errorf("store: apply status: row %d: person key is %d bytes, want %d", i, len(r.PersonKey), PersonKeySize)
		}
		if r.Status < 0 || r.Status > 3 {
			return fmt.Errorf("store: apply status: row %d: status %d out of range 0..3", i, r.Status)
		}
	}
	for i, k := range ch.Delete {
		if len(k) != PersonKeySize {
			return fmt.Errorf("store: apply status: delete %d: person key is %d bytes, want %d", i, len(k), PersonKeySize)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d := &digests{ctx: ctx, tx: tx, hash: hash, parts: map[int]*partDigest{}}
		if ch.Replace {
			if err := d.dropRange(ch.Lo, ch.Hi); err != nil {
				return err
			}
		}
		get, err := tx.PrepareContext(ctx, `SELECT status, as_of, expires, reason FROM status WHERE person_key = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		old := func(key []byte) (StatusRow, bool, error) {
			var r StatusRow
			var asOf, exp int64
			err := get.QueryRowContext(ctx, key).Scan(&r.Status, &asOf, &exp, &r.Reason)
			if errors.Is(err, sql.ErrNoRows) {
				return r, false, nil
			}
			r.PersonKey, r.AsOf, r.Expires = key, wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
			return r, err == nil, err
		}
		if len(ch.Delete) > 0 {
			del, err := tx.PrepareContext(ctx, `DELETE FROM status WHERE person_key = ?`)
			if err != nil {
				return err
			}
			defer del.Close()
			for _, k := range ch.Delete {
				r, ok, err := old(k)
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				if err := d.sub(r); err != nil {
					return err
				}
				if _, err := del.ExecContext(ctx, k); err != nil {
					return err
				}
			}
		}
		if len(ch.Put) > 0 {
			put, err := tx.PrepareContext(ctx,
				`INSERT INTO status (person_key, status, as_of, expires, reason) VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT (person_key) DO UPDATE SET
				   status = excluded.status, as_of = excluded.as_of,
				   expires = excluded.expires, reason = excluded.reason`)
			if err != nil {
				return err
			}
			defer put.Close()
			for _, r := range ch.Put {
				// A row inside a replaced range cannot have an old version: the range was emptied.
				if !ch.Replace || !inRange(r.PersonKey, ch.Lo, ch.Hi) {
					o, ok, err := old(r.PersonKey)
					if err != nil {
						return err
					}
					if ok {
						if err := d.sub(o); err != nil {
							return err
						}
					}
				}
				if _, err := put.ExecContext(ctx, r.PersonKey, r.Status, wire.UnixMS(r.AsOf), wire.UnixMS(r.Expires), r.Reason); err != nil {
					return err
				}
				if err := d.add(r); err != nil {
					return err
				}
			}
		}
		if ch.Recount {
			// Every partition the range covers is recounted, even one left empty.
			if ch.Replace {
				first, end := 0, Partitions
				if len(ch.Lo) > 0 {
					first = int(ch.Lo[0])
				}
				if ch.Hi != nil {
					end = Partitions
					if len(ch.Hi) > 0 {
						end = int(ch.Hi[0])
						if len(ch.Hi) > 1 || ch.Hi[0] == 0 {
							end++ // the range reaches into partition Hi[0]
						}
					}
				}
				for p := first; p < end && p < Partitions; p++ {
					if _, err := d.part(p); err != nil {
						return err
					}
				}
			}
			if err := d.recount(); err != nil {
				return err
			}
		}
		if err := d.save(); err != nil {
			return err
		}
		for k, v := range ch.Meta {
			if v == nil {
				v = []byte{}
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: apply status (%d puts, %d deletes): %w", len(ch.Put), len(ch.Delete), err)
	}
	return nil
}

func inRange(k, lo, hi []byte) bool {
	return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0)
}

// StatusDigests returns the row count and digest of every partition.
func (s *Store) StatusDigests(ctx context.Context) (counts [Partitions]int64, sums [Partitions][16]byte, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT partition, count, digest FROM status_digest`)
	if err != nil {
		return counts, sums, fmt.Errorf("store: status digests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p int
		var n int64
		var d []byte
		if err := rows.Scan(&p, &n, &d); err != nil {
			return counts, sums, fmt.Errorf("store: status digests: %w", err)
		}
		if p < 0 || p >= Partitions || len(d) != 16 {
			return counts, sums, fmt.Errorf("store: status digests: bad row for partition %d", p)
		}
		counts[p] = n
		copy(sums[p][:], d)
	}
	if err := rows.Err(); err != nil {
		return counts, sums, fmt.Errorf("store: status digests: %w", err)
	}
	return counts, sums, nil
}

// partDigest is one partition's count and digest while a transaction changes it.
type partDigest struct {
	count int64
	sum   [16]byte
}

type digests struct {
	ctx   context.Context
	tx    *sql.Tx
	hash  RowHasher
	parts map[int]*partDigest
}

func (d *digests) part(p int) (*partDigest, error) {
	if pd, ok := d.parts[p]; ok {
		return pd, nil
	}
	pd := &partDigest{}
	var sum []byte
	err := d.tx.QueryRowContext(d.ctx, `SELECT count, digest FROM status_digest WHERE partition = ?`, p).Scan(&pd.count, &sum)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		copy(pd.sum[:], sum)
	}
	d.parts[p] = pd
	return pd, nil
}

func (d *digests) add(r StatusRow) error {
	pd, err := d.part(int(r.PersonKey[0]))
	if err != nil {
		return err
	}
	pd.count++
	(*wire.Digest)(&pd.sum).Add(d.hash(r))
	return nil
}

func (d *digests) sub(r StatusRow) error {
	pd, err := d.part(int(r.PersonKey[0]))
	if err != nil {
		return err
	}
	pd.count--
	(*wire.Digest)(&pd.sum).Sub(d.hash(r))
	return nil
}

// rangeQuery selects the rows with lo ≤ key < hi (hi nil: unbounded).
func rangeQuery(prefix string, lo, hi []byte) (string, []any) {
	if hi == nil {
		return prefix + ` WHERE person_key >= ?`, []any{lo}
	}
	return prefix + ` WHERE person_key >= ? AND person_key < ?`, []any{lo, hi}
}

// dropRange deletes a key range, taking its rows out of the digests.
func (d *digests) dropRange(lo, hi []byte) error {
	if lo == nil {
		lo = []byte{}
	}
	q, args := rangeQuery(`SELECT person_key, status, as_of, expires, reason FROM status`, lo, hi)
	if err := d.scan(q, args, d.sub); err != nil {
		return err
	}
	q, args = rangeQuery(`DELETE FROM status`, lo, hi)
	_, err := d.tx.ExecContext(d.ctx, q, args...)
	return err
}

func (d *digests) scan(q string, args []any, fn func(StatusRow) error) error {
	rows, err := d.tx.QueryContext(d.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r StatusRow
		var asOf, exp int64
		if err := rows.Scan(&r.PersonKey, &r.Status, &asOf, &exp, &r.Reason); err != nil {
			return err
		}
		r.AsOf, r.Expires = wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
		if len(r.PersonKey) != PersonKeySize {
			continue // the table's CHECK forbids it; never index out of range on a damaged file
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// recount recomputes every touched partition from its rows.
func (d *digests) recount() error {
	for p, pd := range d.parts {
		*pd = partDigest{}
		lo, hi := wire.PartitionRange(p)
		q, args := rangeQuery(`SELECT person_key, status, as_of, expires, reason FROM status`, lo, hi)
		err := d.scan(q, args, func(r StatusRow) error {
			pd.count++
			(*wire.Digest)(&pd.sum).Add(d.hash(r))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *digests) save() error {
	for p, pd := range d.parts {
		if _, err := d.tx.ExecContext(d.ctx,
			`INSERT OR REPLACE INTO status_digest (partition, count, digest) VALUES (?, ?, ?)`,
			p, pd.count, pd.sum[:]); err != nil {
			return err
		}
	}
	return nil
}

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
	err = s.inTx(ctx, func(tx *sql.Tx) error {
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

// ScanStatusDigests computes every partition's count and digest from the rows themselves, in a
// read transaction (appends go on meanwhile). sync/client compares the result with the hub's
// signed digests now and then, which catches rows changed behind its back; the digests kept per
// change (StatusDigests) only prove that every change was applied.
func (s *Store) ScanStatusDigests(ctx context.Context, hash RowHasher) (counts [Partitions]int64, sums [Partitions][16]byte, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT person_key, status, as_of, expires, reason FROM status`)
	if err != nil {
		return counts, sums, fmt.Errorf("store: scan status digests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r StatusRow
		var asOf, exp int64
		if err := rows.Scan(&r.PersonKey, &r.Status, &asOf, &exp, &r.Reason); err != nil {
			return counts, sums, fmt.Errorf("store: scan status digests: %w", err)
		}
		if len(r.PersonKey) != PersonKeySize {
			continue
		}
		r.AsOf, r.Expires = wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
		p := int(r.PersonKey[0])
		counts[p]++
		(*wire.Digest)(&sums[p]).Add(hash(r))
	}
	if err := rows.Err(); err != nil {
		return counts, sums, fmt.Errorf("store: scan status digests: %w", err)
	}
	return counts, sums, nil
}

// AppendBatch is Append for many visits in one transaction: all or none. Bulk imports, tests and
// benchmarks use it; the lane appends one visit at a time, as it decides.
func (s *Store) AppendBatch(ctx context.Context, vs []*Visit) error {
	type row struct {
		id   uuid.UUID
		temp sql.NullFloat64
	}
	rows := make([]row, len(vs))
	for i, v := range vs {
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
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO visits (id, at, lane, method, person_key, sealed_id, masked_name, temp_c, outcome, reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
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
				rows[i].temp, v.Outcome, v.Reason); err != nil {
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
