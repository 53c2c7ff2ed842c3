package hub

import (
	"context"
	"fmt"
	"time"

	"onepass/sync/wire"
)

// RevokeCode adds a health code ID to the revoked stream; expires is when the code would have
// expired anyway (the row may then go).
func (h *Hub) RevokeCode(ctx context.Context, cid []byte, expires time.Time) (int64, error) {
	if len(cid) != wire.CodeIDSize {
		return 0, fmt.Errorf("hub: revoke code: code id of %d bytes, want %d", len(cid), wire.CodeIDSize)
	}
	var seq int64
	err := h.streamTx(ctx, "revoked", func(tx *dbTx) error {
		if err := tx.QueryRowContext(ctx, `UPDATE streams SET seq = seq + 1 WHERE name = 'revoked' RETURNING seq`).Scan(&seq); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO revoked (cid, expires, seq) VALUES (?, ?, ?)
			ON CONFLICT (cid) DO UPDATE SET expires = excluded.expires, seq = excluded.seq`, cid, wire.UnixMS(expires), seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("hub: revoke code: %w", err)
	}
	return seq, nil
}

func (h *Hub) revokedSince(ctx context.Context, from int64) (wire.Revoked, error) {
	out := wire.Revoked{Header: wire.Header{V: wire.Major, Type: wire.TypeRevoked}, From: from, To: from, CIDs: []wire.Revocation{}}
	const limit = 4000 // ≈ 200 KiB of JSON
	err := h.readTx(ctx, func(tx *dbTx) error {
		var cur int64
		if err := tx.QueryRowContext(ctx, `SELECT seq FROM streams WHERE name = 'revoked'`).Scan(&cur); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT cid, expires, seq FROM revoked WHERE seq > ? ORDER BY seq LIMIT ?`, from, limit+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r wire.Revocation
			var seq int64
			if err := rows.Scan(&r.CID, &r.Expires, &seq); err != nil {
				return err
			}
			if len(out.CIDs) == limit {
				out.More = true
				break
			}
			out.CIDs = append(out.CIDs, r)
			out.To = seq
		}
		if !out.More {
			out.To = max(cur, from)
		}
		return rows.Err()
	})
	out.IssuedAt = h.now().UTC()
	return out, err
}
