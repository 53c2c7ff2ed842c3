package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"onepass/sync/internal/sqlitedb"
)

// Requeue puts quarantined records back at the end of the outbox, so they go up again (after the
// platform was fixed to accept them). No ids means every quarantined record. It returns how many
// were requeued; ids that are not quarantined are skipped.
func (s *Store) Requeue(ctx context.Context, ids ...string) (int, error) {
	var n int
	err := sqlitedb.InTx(ctx, s.w, func(tx *sql.Tx) error {
		var keys [][]byte
		if len(ids) == 0 {
			rows, err := tx.QueryContext(ctx, `SELECT id FROM quarantine`)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k []byte
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					return err
				}
				keys = append(keys, k)
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
		for _, id := range ids {
			u, err := uuid.Parse(id)
			if err != nil {
				return fmt.Errorf("%q is not a record id: %w", id, err)
			}
			keys = append(keys, u[:])
		}
		for _, k := range keys {
			var kind string
			err := tx.QueryRowContext(ctx, `SELECT kind FROM quarantine WHERE id = ?`, k).Scan(&kind)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			col := "visit_id"
			if kind == KindTicket {
				col = "ticket_event_id"
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox (`+col+`) VALUES (?)`, k); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM quarantine WHERE id = ?`, k); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: requeue: %w", err)
	}
	return n, nil
}
