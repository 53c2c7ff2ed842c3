package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"onepass/sync/internal/sqlitedb"
)

// StaffLockout is one failed-login counter of the staff console (table staff_lockout): per
// presented staff ID or per client address. It holds no PIN.
type StaffLockout struct {
	Key    string    // "id:<staff ID>" or "ip:<address>"
	Failed int       // failures counted toward the lock-out
	Until  time.Time // locked until; zero = not locked
	Streak int       // an address's failures in a row
	Last   time.Time // the last failure
}

// StaffLockouts returns every stored counter, newest failure first.
func (s *Store) StaffLockouts(ctx context.Context) ([]StaffLockout, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, failed, locked_until, streak, last_at FROM staff_lockout ORDER BY last_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: staff lockouts: %w", err)
	}
	defer rows.Close()
	var out []StaffLockout
	for rows.Next() {
		var l StaffLockout
		var until, last int64
		if err := rows.Scan(&l.Key, &l.Failed, &until, &l.Streak, &last); err != nil {
			return nil, fmt.Errorf("store: staff lockouts: %w", err)
		}
		if until != 0 {
			l.Until = time.UnixMilli(until)
		}
		l.Last = time.UnixMilli(last)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: staff lockouts: %w", err)
	}
	return out, nil
}

// SaveStaffLockouts writes put (insert or replace) and deletes the keys in del, all or none.
func (s *Store) SaveStaffLockouts(ctx context.Context, put []StaffLockout, del []string) error {
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		for _, k := range del {
			if _, err := tx.ExecContext(ctx, `DELETE FROM staff_lockout WHERE key = ?`, k); err != nil {
				return err
			}
		}
		if len(put) == 0 {
			return nil
		}
		st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO staff_lockout (key, failed, locked_until, streak, last_at) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range put {
			var until int64
			if !l.Until.IsZero() {
				until = l.Until.UnixMilli()
			}
			if _, err := st.ExecContext(ctx, l.Key, l.Failed, until, l.Streak, l.Last.UnixMilli()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: save staff lockouts (%d, %d deleted): %w", len(put), len(del), err)
	}
	return nil
}
