package hub

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"onepass/identity"
	"onepass/sync/wire"
)

// maxChunk bounds a downstream payload so that its envelope (payload in base64 plus the signer
// certificate) stays within wire.MaxChunkBytes.
const maxChunk = wire.MaxChunkBytes

// ensureEpoch creates the first deployment key.
func (h *Hub) ensureEpoch(ctx context.Context) error {
	return h.inTx(ctx, func(tx *dbTx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM epochs`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		key := make([]byte, identity.DeploymentKeySize)
		rand.Read(key)
		_, err := tx.ExecContext(ctx, `INSERT INTO epochs (epoch, key, created_at, current) VALUES (1, ?, ?, 1)`, key, wire.UnixMS(h.now()))
		return err
	})
}

// currentEpoch returns the current epoch and its deployment key.
func currentEpoch(ctx context.Context, q querier) (int64, []byte, error) {
	var e int64
	var k []byte
	err := q.QueryRowContext(ctx, `SELECT epoch, key FROM epochs WHERE current = 1`).Scan(&e, &k)
	if err != nil {
		return 0, nil, fmt.Errorf("hub: current epoch: %w", err)
	}
	return e, k, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// DeploymentKey returns the current epoch and deployment key (the sim and tests key persons
// with it).
func (h *Hub) DeploymentKey(ctx context.Context) (int64, []byte, error) {
	return currentEpoch(ctx, h.r)
}

// StatusEntry is one change of the status list, keyed by person key. Delete removes the person.
type StatusEntry struct {
	PersonKey []byte
	SealedID  []byte
	Status    int
	AsOf      time.Time
	Expires   time.Time
	Reason    string
	Delete    bool
}

// partSet caches partition digests inside one write transaction.
type partSet struct {
	ctx   context.Context
	tx    *dbTx
	epoch int64
	m     map[int]*struct {
		count int64
		sum   wire.Digest
	}
}

func newPartSet(ctx context.Context, tx *dbTx, epoch int64) *partSet {
	return &partSet{ctx: ctx, tx: tx, epoch: epoch, m: map[int]*struct {
		count int64
		sum   wire.Digest
	}{}}
}

func (p *partSet) get(part int) (*struct {
	count int64
	sum   wire.Digest
}, error) {
	if v, ok := p.m[part]; ok {
		return v, nil
	}
	v := &struct {
		count int64
		sum   wire.Digest
	}{}
	var d []byte
	err := p.tx.QueryRowContext(p.ctx, `SELECT count, digest FROM partitions WHERE epoch = ? AND partition = ?`, p.epoch, part).Scan(&v.count, &d)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		copy(v.sum[:], d)
	}
	p.m[part] = v
	return v, nil
}

func (p *partSet) change(key []byte, h [16]byte, add bool) error {
	v, err := p.get(wire.Partition(key))
	if err != nil {
		return err
	}
	if add {
		v.count++
		v.sum.Add(h)
	} else {
		v.count--
		v.sum.Sub(h)
	}
	return nil
}

func (p *partSet) save() error {
	for part, v := range p.m {
		if _, err := p.tx.ExecContext(p.ctx, `INSERT INTO partitions (epoch, partition, count, digest) VALUES (?, ?, ?, ?)
			ON CONFLICT (epoch, partition) DO UPDATE SET count = excluded.count, digest = excluded.digest`,
			p.epoch, part, v.count, v.sum[:]); err != nil {
			return err
		}
	}
	return nil
}

// PutStatus applies changes to the current epoch's status list in one transaction; each change
// gets the next status sequence number. It returns the stream's sequence after the changes.
func (h *Hub) PutStatus(ctx context.Context, entries ...StatusEntry) (int64, error) {
	for i, e := range entries {
		if len(e.PersonKey) != wire.PersonKeySize {
			return 0, fmt.Errorf("hub: status entry %d: person key of %d bytes", i, len(e.PersonKey))
		}
		if !e.Delete && (e.Status < 1 || e.Status > 3) {
			return 0, fmt.Errorf("hub: status entry %d: status %d (want 1 green, 2 yellow, 3 red; delete for unknown)", i, e.Status)
		}
	}
	var seq int64
	err := h.streamTx(ctx, "status", func(tx *dbTx) error {
		epoch, _, err := currentEpoch(ctx, tx)
		if err != nil {
			return err
		}
		seq, err = h.putStatus(ctx, tx, epoch, entries)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: put status: %w", err)
	}
	return seq, nil
}

func (h *Hub) putStatus(ctx context.Context, tx *dbTx, epoch int64, entries []StatusEntry) (int64, error) {
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT seq FROM streams WHERE name = 'status'`).Scan(&seq); err != nil {
		return 0, err
	}
	parts := newPartSet(ctx, tx, epoch)
	get, err := tx.PrepareContext(ctx, `SELECT status, as_of, expires, reason, deleted FROM status WHERE epoch = ? AND person_key = ?`)
	if err != nil {
		return 0, err
	}
	defer get.Close()
	put, err := tx.PrepareContext(ctx, `INSERT INTO status (epoch, person_key, seq, status, as_of, expires, reason, sealed_id, deleted, changed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
		ON CONFLICT (epoch, person_key) DO UPDATE SET seq = excluded.seq, status = excluded.status, as_of = excluded.as_of,
		  expires = excluded.expires, reason = excluded.reason, sealed_id = coalesce(excluded.sealed_id, status.sealed_id),
		  deleted = 0, changed_at = excluded.changed_at`)
	if err != nil {
		return 0, err
	}
	defer put.Close()
	del, err := tx.PrepareContext(ctx, `UPDATE status SET deleted = 1, seq = ?, changed_at = ? WHERE epoch = ? AND person_key = ?`)
	if err != nil {
		return 0, err
	}
	defer del.Close()
	now := wire.UnixMS(h.now())
	for _, e := range entries {
		var st int
		var asOf, exp int64
		var reason string
		var deleted bool
		err := get.QueryRowContext(ctx, epoch, e.PersonKey).Scan(&st, &asOf, &exp, &reason, &deleted)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		live := exists && !deleted
		if e.Delete {
			if !live {
				continue // nothing to remove; a kiosk cannot hold what the hub never sent
			}
			seq++
			if err := parts.change(e.PersonKey, wire.RowHash(e.PersonKey, st, asOf, exp, reason), false); err != nil {
				return 0, err
			}
			if _, err := del.ExecContext(ctx, seq, now, epoch, e.PersonKey); err != nil {
				return 0, err
			}
			continue
		}
		nAsOf, nExp := wire.UnixMS(e.AsOf), wire.UnixMS(e.Expires)
		if live && st == e.Status && asOf == nAsOf && exp == nExp && reason == e.Reason {
			continue // unchanged: no new sequence number, nothing for kiosks to fetch
		}
		seq++
		if live {
			if err := parts.change(e.PersonKey, wire.RowHash(e.PersonKey, st, asOf, exp, reason), false); err != nil {
				return 0, err
			}
		}
		var sealed any
		if e.SealedID != nil {
			sealed = e.SealedID
		}
		if _, err := put.ExecContext(ctx, epoch, e.PersonKey, seq, e.Status, nAsOf, nExp, e.Reason, sealed, now); err != nil {
			return 0, err
		}
		if err := parts.change(e.PersonKey, wire.RowHash(e.PersonKey, e.Status, nAsOf, nExp, e.Reason), true); err != nil {
			return 0, err
		}
	}
	if err := parts.save(); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE streams SET seq = ? WHERE name = 'status'`, seq); err != nil {
		return 0, err
	}
	return seq, nil
}

// Status colours accepted by SetStatus.
var statusNames = map[string]int{"unknown": 0, "green": 1, "yellow": 2, "red": 3}

// ParseStatus turns green, yellow, red or unknown into the protocol's number.
func ParseStatus(s string) (int, error) {
	v, ok := statusNames[strings.ToLower(s)]
	if !ok {
		return 0, fmt.Errorf("status %q: want green, yellow, red or unknown", s)
	}
	return v, nil
}

// PersonRef names a person by certificate: type (10 resident, …) and number. The number is
// checked and canonicalized; it exists only in memory, the hub stores the person key and the
// number sealed to the platform key.
type PersonRef struct {
	Type   identity.CertType
	Number string
}

func (p PersonRef) canonical(now time.Time) (identity.CertType, string, error) {
	ct := p.Type
	if ct == 0 {
		ct = identity.CertResident
	}
	if ct == identity.CertResident {
		n, err := identity.Parse(p.Number, now)
		if err != nil {
			return 0, "", fmt.Errorf("id number: %w", err)
		}
		return ct, string(n), nil
	}
	n := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(p.Number), " ", ""))
	if n == "" || len(n) > 32 {
		return 0, "", errors.New("certificate number: empty or longer than 32 characters")
	}
	return ct, n, nil
}

// SetStatus sets one person's status by certificate number (status 0 removes the person).
// ttl is how long the status is valid (0: no expiry). It returns the status sequence.
func (h *Hub) SetStatus(ctx context.Context, p PersonRef, status int, reason string, ttl time.Duration) (int64, error) {
	now := h.now()
	ct, number, err := p.canonical(now)
	if err != nil {
		return 0, fmt.Errorf("hub: set status: %w", err)
	}
	if status < 0 || status > 3 {
		return 0, fmt.Errorf("hub: set status: status %d out of range", status)
	}
	sealer, err := identity.NewSealer(h.keys.platformPub)
	if err != nil {
		return 0, err
	}
	sealed, err := sealer.Seal(ct, number)
	if err != nil {
		return 0, err
	}
	var seq int64
	err = h.streamTx(ctx, "status", func(tx *dbTx) error {
		epoch, key, err := currentEpoch(ctx, tx)
		if err != nil {
			return err
		}
		e := StatusEntry{PersonKey: identity.PersonKey(key, ct, number), SealedID: sealed, Status: status,
			AsOf: now, Reason: reason, Delete: status == 0}
		if ttl > 0 {
			e.Expires = now.Add(ttl)
		}
		seq, err = h.putStatus(ctx, tx, epoch, []StatusEntry{e})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: set status: %w", err)
	}
	return seq, nil
}

// Prune removes status tombstones older than the retention; kiosks whose cursor is older then
// get a snapshot. It returns how many went.
func (h *Hub) Prune(ctx context.Context) (int, error) {
	return h.PruneBefore(ctx, h.now().Add(-h.opt.Retention))
}

// The prune's statements, found through the partial index status_tombstones (schema step 6;
// TestPruneUsesIndex EXPLAINs them).
const (
	pruneMaxSeq = `SELECT max(seq) FROM status WHERE deleted = 1 AND changed_at < ?`
	pruneDelete = `DELETE FROM status WHERE deleted = 1 AND changed_at < ?`
)

// PruneBefore removes status tombstones changed before t.
func (h *Hub) PruneBefore(ctx context.Context, t time.Time) (int, error) {
	var n int64
	err := h.streamTx(ctx, "status", func(tx *dbTx) error {
		var maxSeq sql.NullInt64
		if err := tx.QueryRowContext(ctx, pruneMaxSeq, wire.UnixMS(t)).Scan(&maxSeq); err != nil {
			return err
		}
		if !maxSeq.Valid {
			return nil
		}
		res, err := tx.ExecContext(ctx, pruneDelete, wire.UnixMS(t))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, `UPDATE streams SET min_seq = CASE WHEN min_seq > ? THEN min_seq ELSE ? END WHERE name = 'status'`,
			maxSeq.Int64, maxSeq.Int64)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: prune: %w", err)
	}
	return int(n), nil
}

// headQuery reads a whole head in one statement, one round trip: the current epoch, the four
// streams' sequences and the current epoch's partition digests (one row per partition, the
// stream columns repeated; partition NULL while the list is empty). One statement sees one
// snapshot on both engines, so a head needs no transaction of its own.
const headQuery = `SELECT e.epoch, s.seq, s.min_seq, t.seq, r.seq, p.seq, pt.partition, pt.count, pt.digest
	FROM epochs e
	JOIN streams s ON s.name = 'status'
	JOIN streams t ON t.name = 'trust'
	JOIN streams r ON r.name = 'revoked'
	JOIN streams p ON p.name = 'policy'
	LEFT JOIN partitions pt ON pt.epoch = e.epoch
	WHERE e.current = 1`

// heads is what headQuery reads: the status stream's state and the other streams' sequences.
type heads struct {
	status                 wire.StatusHead
	trust, revoked, policy int64
}

// readHeads runs headQuery on q (a pool or a read transaction).
func readHeads(ctx context.Context, q querier) (heads, error) {
	var hs heads
	rows, err := q.QueryContext(ctx, headQuery)
	if err != nil {
		return hs, fmt.Errorf("hub: head: %w", err)
	}
	defer rows.Close()
	var d [wire.Partitions]wire.Digest
	found := false
	for rows.Next() {
		var p, n sql.NullInt64
		var b []byte
		if err := rows.Scan(&hs.status.Epoch, &hs.status.Seq, &hs.status.MinSeq, &hs.trust, &hs.revoked, &hs.policy, &p, &n, &b); err != nil {
			return hs, fmt.Errorf("hub: head: %w", err)
		}
		found = true
		if p.Valid && p.Int64 >= 0 && p.Int64 < wire.Partitions {
			copy(d[p.Int64][:], b)
			hs.status.Count += n.Int64
		}
	}
	if err := rows.Err(); err != nil {
		return hs, fmt.Errorf("hub: head: %w", err)
	}
	if !found {
		return hs, fmt.Errorf("hub: head: %w", sql.ErrNoRows) // no current epoch: not initialized
	}
	hs.status.PartitionDigests = wire.PackDigests(&d)
	return hs, nil
}

// statusHead reads the status stream's state inside a read transaction.
func statusHead(ctx context.Context, tx *dbTx) (wire.StatusHead, error) {
	hs, err := readHeads(ctx, tx)
	return hs.status, err
}

// opSize estimates the JSON size of an op, to cut chunks without encoding twice.
func opSize(reason string) int { return 110 + len(reason) }

// payloadBudget is how many payload bytes fit a chunk: the envelope carries the payload in
// base64 (4/3) plus the signer certificate and, in a last delta chunk, the digests.
func (h *Hub) payloadBudget() int { return h.opt.ChunkBytes*3/4 - 8<<10 }

// delta builds one delta chunk from cursor from.
func (h *Hub) delta(ctx context.Context, epoch, from int64) (wire.StatusDelta, error) {
	d := wire.StatusDelta{Header: wire.Header{V: wire.Major, Type: wire.TypeDelta}, Epoch: epoch, From: from, Ops: []wire.StatusOp{}}
	err := h.readTx(ctx, func(tx *dbTx) error {
		sh, err := statusHead(ctx, tx)
		if err != nil {
			return err
		}
		// A cursor of another epoch (a fresh kiosk has epoch 0), older than the kept tombstones
		// or from the future (a restored hub) gets a snapshot instead.
		if epoch != sh.Epoch || from < sh.MinSeq || from > sh.Seq {
			d.SnapshotRequired, d.Epoch, d.To = true, sh.Epoch, sh.Seq
			return nil
		}
		budget := h.payloadBudget()
		limit := budget / opSize("")
		rows, err := tx.QueryContext(ctx, `SELECT person_key, seq, status, as_of, expires, reason, deleted FROM status
			WHERE epoch = ? AND seq > ? ORDER BY seq LIMIT ?`, epoch, from, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		size := 0
		d.To = from
		for rows.Next() {
			var op wire.StatusOp
			var seq int64
			if err := rows.Scan(&op.Key, &seq, &op.Status, &op.AsOf, &op.Expires, &op.Reason, &op.Del); err != nil {
				return err
			}
			if len(d.Ops) == limit || size+opSize(op.Reason) > budget {
				d.More = true
				break
			}
			if op.Del {
				op.Status, op.AsOf, op.Expires, op.Reason = 0, 0, 0, ""
			}
			size += opSize(op.Reason)
			d.Ops = append(d.Ops, op)
			d.To = seq
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !d.More {
			d.To = sh.Seq
			d.Count, d.PartitionDigests = sh.Count, sh.PartitionDigests
		}
		return nil
	})
	d.IssuedAt = h.now().UTC()
	return d, err
}

// errStaleEpoch is a snapshot asked of an epoch that is no longer current: the kiosk's fault, a
// 409, unlike a database away (503).
var errStaleEpoch = errors.New("stale epoch")

// snapshot builds one snapshot chunk: live rows with lo ≤ key < hi from the current epoch.
func (h *Hub) snapshot(ctx context.Context, epoch int64, lo, hi []byte) (wire.StatusSnapshot, error) {
	s := wire.StatusSnapshot{Header: wire.Header{V: wire.Major, Type: wire.TypeSnapshot}, Epoch: epoch, Lo: lo, Hi: hi, Rows: []wire.StatusOp{}}
	var errEpoch error
	err := h.readTx(ctx, func(tx *dbTx) error {
		cur, _, err := currentEpoch(ctx, tx)
		if err != nil {
			return err
		}
		if cur != epoch {
			errEpoch = fmt.Errorf("%w: epoch %d is not current (%d)", errStaleEpoch, epoch, cur)
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM streams WHERE name = 'status'`).Scan(&s.Seq); err != nil {
			return err
		}
		budget := h.payloadBudget()
		limit := budget / opSize("")
		q := `SELECT person_key, status, as_of, expires, reason FROM status WHERE epoch = ? AND person_key >= ? AND deleted = 0`
		// No lower bound is the empty key: a nil slice would be NULL on PostgreSQL, below nothing.
		args := []any{epoch, append([]byte{}, lo...)}
		if hi != nil {
			q += ` AND person_key < ?`
			args = append(args, hi)
		}
		q += ` ORDER BY person_key LIMIT ?`
		args = append(args, limit+1)
		rows, err := tx.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		size := 0
		for rows.Next() {
			var op wire.StatusOp
			if err := rows.Scan(&op.Key, &op.Status, &op.AsOf, &op.Expires, &op.Reason); err != nil {
				return err
			}
			if len(s.Rows) == limit || size+opSize(op.Reason) > budget {
				s.Next = op.Key // the first key of the next chunk
				break
			}
			size += opSize(op.Reason)
			s.Rows = append(s.Rows, op)
		}
		return rows.Err()
	})
	if errEpoch != nil {
		return s, errEpoch
	}
	s.IssuedAt = h.now().UTC()
	return s, err
}

// RotateDeploymentKey starts a new epoch: a new deployment key, and every person re-keyed under
// it (the hub opens each sealed ID with the platform key to recompute the person key). Kiosks see
// the new epoch in the head, fetch the key sealed to them and download a snapshot. Persons without
// a sealed ID cannot be re-keyed and are dropped (their count is returned).
func (h *Hub) RotateDeploymentKey(ctx context.Context) (epoch int64, dropped int, err error) {
	err = h.streamTx(ctx, "status", func(tx *dbTx) error {
		dropped = 0 // a retried transaction counts afresh
		old, _, err := currentEpoch(ctx, tx)
		if err != nil {
			return err
		}
		epoch = old + 1
		key := make([]byte, identity.DeploymentKeySize)
		rand.Read(key)
		if _, err := tx.ExecContext(ctx, `UPDATE epochs SET current = 0`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO epochs (epoch, key, created_at, current) VALUES (?, ?, ?, 1)`, epoch, key, wire.UnixMS(h.now())); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT status, as_of, expires, reason, sealed_id FROM status WHERE epoch = ? AND deleted = 0`, old)
		if err != nil {
			return err
		}
		var entries []StatusEntry
		for rows.Next() {
			var e StatusEntry
			var asOf, exp int64
			if err := rows.Scan(&e.Status, &asOf, &exp, &e.Reason, &e.SealedID); err != nil {
				rows.Close()
				return err
			}
			canon, err := identity.Open(h.keys.platformKey, e.SealedID)
			if err != nil {
				dropped++
				continue
			}
			ctS, number, ok := strings.Cut(canon, "|")
			ct, cerr := strconv.Atoi(ctS)
			if !ok || cerr != nil {
				dropped++
				continue
			}
			e.PersonKey = identity.PersonKey(key, identity.CertType(ct), number)
			e.AsOf, e.Expires = wire.FromUnixMS(asOf), wire.FromUnixMS(exp)
			entries = append(entries, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if _, err := h.putStatus(ctx, tx, epoch, entries); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM status WHERE epoch < ?`, epoch); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM partitions WHERE epoch < ?`, epoch)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("hub: rotate deployment key: %w", err)
	}
	return epoch, dropped, nil
}

// StatusRows returns every live row of the current epoch in key order (tests compare replicas
// with it).
func (h *Hub) StatusRows(ctx context.Context) ([]wire.StatusOp, error) {
	var out []wire.StatusOp
	err := h.readTx(ctx, func(tx *dbTx) error {
		epoch, _, err := currentEpoch(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT person_key, status, as_of, expires, reason FROM status WHERE epoch = ? AND deleted = 0 ORDER BY person_key`, epoch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var op wire.StatusOp
			if err := rows.Scan(&op.Key, &op.Status, &op.AsOf, &op.Expires, &op.Reason); err != nil {
				return err
			}
			out = append(out, op)
		}
		return rows.Err()
	})
	return out, err
}

// parseKeyHex reads a key bound of a snapshot request: hex of at most 32 bytes; "" is none.
func parseKeyHex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > wire.PersonKeySize {
		return nil, fmt.Errorf("bad key bound %q: want hex of at most %d bytes", s, wire.PersonKeySize)
	}
	return b, nil
}
