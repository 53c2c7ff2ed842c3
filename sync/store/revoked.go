package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"onepass/sync/internal/sqlitedb"
)

// CodeIDSize is the length of a JKM1 code ID.
const CodeIDSize = 16

// Revocation is one revoked health code.
type Revocation struct {
	CID     []byte
	Expires time.Time // after this the code is expired anyway and the row can go
}

// PutRevoked adds revocations (idempotent), all or none.
func (s *Store) PutRevoked(ctx context.Context, rows ...Revocation) error {
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO revoked (cid, expires) VALUES (?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rows {
			if len(r.CID) != CodeIDSize {
				return fmt.Errorf("code id of %d bytes, want %d", len(r.CID), CodeIDSize)
			}
			if _, err := st.ExecContext(ctx, r.CID, r.Expires.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: put revoked (%d): %w", len(rows), err)
	}
	return nil
}

// IsRevoked reports whether a code ID is revoked.
func (s *Store) IsRevoked(ctx context.Context, cid []byte) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM revoked WHERE cid = ?`, cid).Scan(&one)
	switch {
	case err == sql.ErrNoRows:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("store: revoked lookup: %w", err)
	}
	return true, nil
}

// PruneRevoked deletes revocations that expired before t; it returns how many went.
func (s *Store) PruneRevoked(ctx context.Context, before time.Time) (int, error) {
	var n int64
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM revoked WHERE expires < ?`, before.UnixMilli())
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: prune revoked: %w", err)
	}
	return int(n), nil
}
