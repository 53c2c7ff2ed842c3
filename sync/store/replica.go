package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"onepass/sync/internal/sqlitedb"
	"onepass/sync/wire"
)

// ErrRollback is returned by PutTrustList for a document older (lower seq)
// than the one held: a replayed old list could re-admit a revoked issuer.
var ErrRollback = errors.New("store: trust list rollback refused")

// PersonKeySize is the length of a person key (HMAC-SHA256).
const PersonKeySize = 32

// StatusRow is one person's entry in the status replica.
type StatusRow struct {
	PersonKey []byte // PersonKeySize bytes
	Status    int    // 0 unknown, 1 green, 2 yellow, 3 red
	AsOf      time.Time
	Expires   time.Time // zero: no expiry
	Reason    string
}

// Status looks up one person. ok is false when the replica has no row.
func (s *Store) Status(ctx context.Context, personKey []byte) (row StatusRow, ok bool, err error) {
	var asOf, expires int64
	err = s.r.QueryRowContext(ctx,
		`SELECT status, as_of, expires, reason FROM status WHERE person_key = ?`, personKey).
		Scan(&row.Status, &asOf, &expires, &row.Reason)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return StatusRow{}, false, nil
	case err != nil:
		return StatusRow{}, false, fmt.Errorf("store: status lookup: %w", err)
	}
	row.PersonKey = append([]byte(nil), personKey...)
	row.AsOf, row.Expires = wire.FromUnixMS(asOf), wire.FromUnixMS(expires)
	return row, true, nil
}

// PutStatus inserts or replaces rows in one transaction: all or none.
func (s *Store) PutStatus(ctx context.Context, rows ...StatusRow) error {
	if err := checkRows(rows); err != nil {
		return fmt.Errorf("store: put status: %w", err)
	}
	if len(rows) == 0 {
		return nil
	}
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, upsertStatus)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, r.PersonKey, r.Status, wire.UnixMS(r.AsOf), wire.UnixMS(r.Expires), r.Reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put status (%d rows): %w", len(rows), err)
	}
	return nil
}

// DeleteStatus removes the given persons in one transaction. Unknown keys
// are ignored.
func (s *Store) DeleteStatus(ctx context.Context, keys ...[]byte) error {
	if len(keys) == 0 {
		return nil
	}
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM status WHERE person_key = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, k := range keys {
			if _, err := stmt.ExecContext(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete status (%d keys): %w", len(keys), err)
	}
	return nil
}

// StatusCount reports the number of rows in the status replica.
func (s *Store) StatusCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM status`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: status count: %w", err)
	}
	return n, nil
}

// TrustList returns the held trust list document; seq is 0 and doc nil
// when none is held.
func (s *Store) TrustList(ctx context.Context) (seq int64, doc []byte, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT seq, doc FROM trust_list WHERE id = 1`).Scan(&seq, &doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("store: trust list: %w", err)
	}
	return seq, doc, nil
}

// PutTrustList replaces the held trust list. A seq lower than the held
// one fails with an error wrapping ErrRollback; an equal seq replaces the
// document (a re-delivery). The caller verifies the signature first.
func (s *Store) PutTrustList(ctx context.Context, seq int64, doc []byte) error {
	if len(doc) == 0 {
		return errors.New("store: put trust list: empty document")
	}
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		// The check and the write share one write transaction, so two
		// concurrent updates cannot both pass the check.
		var held int64
		err := tx.QueryRowContext(ctx, `SELECT seq FROM trust_list WHERE id = 1`).Scan(&held)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case seq < held:
			return fmt.Errorf("%w: held seq %d, offered %d", ErrRollback, held, seq)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT OR REPLACE INTO trust_list (id, seq, doc, updated_at) VALUES (1, ?, ?, ?)`,
			seq, doc, time.Now().UnixMilli())
		return err
	})
	if errors.Is(err, ErrRollback) {
		return err
	}
	if err != nil {
		return fmt.Errorf("store: put trust list seq %d: %w", seq, err)
	}
	return nil
}

// Policy returns the held policy document; version is 0 and doc nil when
// none is held.
func (s *Store) Policy(ctx context.Context) (version int64, doc []byte, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT version, doc FROM policy WHERE id = 1`).Scan(&version, &doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil, nil
	case err != nil:
		return 0, nil, fmt.Errorf("store: policy: %w", err)
	}
	return version, doc, nil
}

// PutPolicy replaces the held policy; valid_from records when it was stored.
func (s *Store) PutPolicy(ctx context.Context, version int64, doc []byte) error {
	if len(doc) == 0 {
		return errors.New("store: put policy: empty document")
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT OR REPLACE INTO policy (id, version, doc, valid_from) VALUES (1, ?, ?, ?)`,
		version, doc, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put policy version %d: %w", version, err)
	}
	return nil
}

// Meta returns the value stored under key; ok is false when there is none.
func (s *Store) Meta(ctx context.Context, key string) (value []byte, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("store: meta %q: %w", key, err)
	}
	return value, true, nil
}

// ReplicaFreshness is the signed time of the last hub head the status replica was verified equal
// to (MetaReplicaIssuedAt); ok is false when it never was. The lane's decisions, `onepassctl
// status` and `onepassctl sync` all take the replica's age from here, so they cannot disagree.
func (s *Store) ReplicaFreshness(ctx context.Context) (t time.Time, ok bool, err error) {
	b, ok, err := s.Meta(ctx, MetaReplicaIssuedAt)
	if err != nil || !ok {
		return time.Time{}, false, err
	}
	t, err = time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: meta %q: %w", MetaReplicaIssuedAt, err)
	}
	return t, true, nil
}

// SetMeta stores value under key, replacing any previous value. A nil value
// is stored as empty.
func (s *Store) SetMeta(ctx context.Context, key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	_, err := s.w.ExecContext(ctx, upsertMeta, key, value)
	if err != nil {
		return fmt.Errorf("store: set meta %q: %w", key, err)
	}
	return nil
}
