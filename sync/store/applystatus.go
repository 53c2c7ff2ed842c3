package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"onepass/sync/internal/sqlitedb"
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

// statusCols are the columns of a StatusRow, in scanRow's order.
const statusCols = `person_key, status, as_of, expires, reason`

// upsertStatus inserts or replaces one status row.
const upsertStatus = `INSERT INTO status (person_key, status, as_of, expires, reason) VALUES (?, ?, ?, ?, ?)
	 ON CONFLICT (person_key) DO UPDATE SET
	   status = excluded.status, as_of = excluded.as_of,
	   expires = excluded.expires, reason = excluded.reason`

// upsertMeta sets one meta entry.
const upsertMeta = `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`

// ApplyStatus applies ch in one write transaction and keeps the partition digests (the sum mod
// 2^128 of the row hashes of each partition) and counts up to date.
func (s *Store) ApplyStatus(ctx context.Context, ch StatusChange, hash RowHasher) error {
	if err := ch.check(); err != nil {
		return fmt.Errorf("store: apply status: %w", err)
	}
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
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
		if err := d.deleteRows(get, ch.Delete); err != nil {
			return err
		}
		if err := d.putRows(get, ch); err != nil {
			return err
		}
		if ch.Recount {
			if err := d.recountChange(ch); err != nil {
				return err
			}
		}
		if err := d.save(); err != nil {
			return err
		}
		return putMeta(ctx, tx, ch.Meta)
	})
	if err != nil {
		return fmt.Errorf("store: apply status (%d puts, %d deletes): %w", len(ch.Put), len(ch.Delete), err)
	}
	return nil
}

// check refuses a change with a malformed row before any transaction starts.
func (ch StatusChange) check() error {
	if err := checkRows(ch.Put); err != nil {
		return err
	}
	for i, k := range ch.Delete {
		if len(k) != PersonKeySize {
			return fmt.Errorf("delete %d: person key is %d bytes, want %d", i, len(k), PersonKeySize)
		}
	}
	return nil
}

// checkRows checks the shape of rows to be written (the table's CHECKs, with a clearer message).
func checkRows(rows []StatusRow) error {
	for i, r := range rows {
		if len(r.PersonKey) != PersonKeySize {
			return fmt.Errorf("row %d: person key is %d bytes, want %d", i, len(r.PersonKey), PersonKeySize)
		}
		if r.Status < 0 || r.Status > 3 {
			return fmt.Errorf("row %d: status %d out of range 0..3", i, r.Status)
		}
	}
	return nil
}

// stored reads the row held for key through get (ApplyStatus's prepared lookup).
func (d *digests) stored(get *sql.Stmt, key []byte) (StatusRow, bool, error) {
	var r StatusRow
	var asOf, exp int64
	err := get.QueryRowContext(d.ctx, key).Scan(&r.Status, &asOf, &exp, &r.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	r.PersonKey, r.AsOf, r.Expires = key, wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
	return r, err == nil, err
}

// deleteRows removes the persons in keys, taking their rows out of the digests; unknown keys
// are skipped.
func (d *digests) deleteRows(get *sql.Stmt, keys [][]byte) error {
	if len(keys) == 0 {
		return nil
	}
	del, err := d.tx.PrepareContext(d.ctx, `DELETE FROM status WHERE person_key = ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	for _, k := range keys {
		r, ok, err := d.stored(get, k)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := d.sub(r); err != nil {
			return err
		}
		if _, err := del.ExecContext(d.ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// putRows writes ch.Put, replacing any held version of each row in the digests.
func (d *digests) putRows(get *sql.Stmt, ch StatusChange) error {
	if len(ch.Put) == 0 {
		return nil
	}
	put, err := d.tx.PrepareContext(d.ctx, upsertStatus)
	if err != nil {
		return err
	}
	defer put.Close()
	for _, r := range ch.Put {
		// A row inside a replaced range cannot have an old version: the range was emptied.
		if !ch.Replace || !inRange(r.PersonKey, ch.Lo, ch.Hi) {
			o, ok, err := d.stored(get, r.PersonKey)
			if err != nil {
				return err
			}
			if ok {
				if err := d.sub(o); err != nil {
					return err
				}
			}
		}
		if _, err := put.ExecContext(d.ctx, r.PersonKey, r.Status, wire.UnixMS(r.AsOf), wire.UnixMS(r.Expires), r.Reason); err != nil {
			return err
		}
		if err := d.add(r); err != nil {
			return err
		}
	}
	return nil
}

// recountChange recomputes the digests of every partition the change touched and, for a
// replaced range, of every partition the range covers, even one left empty.
func (d *digests) recountChange(ch StatusChange) error {
	if ch.Replace {
		first, end := ch.rangePartitions()
		for p := first; p < end && p < Partitions; p++ {
			if _, err := d.part(p); err != nil {
				return err
			}
		}
	}
	return d.recount()
}

// rangePartitions is the partitions [first, end) that the range [Lo, Hi) reaches into.
func (ch StatusChange) rangePartitions() (first, end int) {
	first, end = 0, Partitions
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
	return first, end
}

// putMeta writes meta entries (a nil value stores an empty one) inside tx.
func putMeta(ctx context.Context, tx *sql.Tx, meta map[string][]byte) error {
	for k, v := range meta {
		if v == nil {
			v = []byte{}
		}
		if _, err := tx.ExecContext(ctx, upsertMeta, k, v); err != nil {
			return err
		}
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

// ScanStatusDigests computes every partition's count and digest from the rows themselves, in a
// read transaction (appends go on meanwhile). sync/client compares the result with the hub's
// signed digests now and then, which catches rows changed behind its back; the digests kept per
// change (StatusDigests) only prove that every change was applied.
func (s *Store) ScanStatusDigests(ctx context.Context, hash RowHasher) (counts [Partitions]int64, sums [Partitions][16]byte, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+statusCols+` FROM status`)
	if err != nil {
		return counts, sums, fmt.Errorf("store: scan status digests: %w", err)
	}
	err = scanRows(rows, func(r StatusRow) error {
		p := int(r.PersonKey[0])
		counts[p]++
		(*wire.Digest)(&sums[p]).Add(hash(r))
		return nil
	})
	if err != nil {
		return counts, sums, fmt.Errorf("store: scan status digests: %w", err)
	}
	return counts, sums, nil
}

// scanRows calls fn for every row of a statusCols query and closes rows. A row whose person key
// has the wrong size is skipped: the table's CHECK forbids it, but a damaged file must not make
// anyone index out of range.
func scanRows(rows *sql.Rows, fn func(StatusRow) error) error {
	defer rows.Close()
	for rows.Next() {
		var r StatusRow
		var asOf, exp int64
		if err := rows.Scan(&r.PersonKey, &r.Status, &asOf, &exp, &r.Reason); err != nil {
			return err
		}
		if len(r.PersonKey) != PersonKeySize {
			continue
		}
		r.AsOf, r.Expires = wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// partDigest is one partition's count and digest while a transaction changes it.
type partDigest struct {
	count int64
	sum   [16]byte
}

// digests holds the partitions one ApplyStatus transaction touches, read once and saved at the end.
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
	q, args := rangeQuery(`SELECT `+statusCols+` FROM status`, lo, hi)
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
	return scanRows(rows, fn)
}

// recount recomputes every touched partition from its rows.
func (d *digests) recount() error {
	for p, pd := range d.parts {
		*pd = partDigest{}
		lo, hi := wire.PartitionRange(p)
		q, args := rangeQuery(`SELECT `+statusCols+` FROM status`, lo, hi)
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
