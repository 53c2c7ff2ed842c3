package client

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"onepass/sync/store"
	"onepass/sync/wire"
)

func (c *Client) syncRevoked(ctx context.Context, r *round) error {
	cur, err := metaInt(ctx, c.db, metaRevoked)
	if err != nil {
		return err
	}
	for i := 0; cur < r.head.Revoked.Seq && i < maxChunks; i++ {
		body, err := c.do(ctx, http.MethodGet, wire.PathRevoked+"?from="+strconv.FormatInt(cur, 10), nil)
		if err != nil {
			return err
		}
		var rv wire.Revoked
		if err := c.open(r, body, wire.TypeRevoked, &rv); err != nil {
			return err
		}
		if rv.From != cur || rv.To < rv.From || (rv.More && rv.To == rv.From) {
			return fmt.Errorf("sync: revoked batch rejected: covers %d–%d, asked from %d", rv.From, rv.To, cur)
		}
		rows := make([]store.Revocation, 0, len(rv.CIDs))
		for _, x := range rv.CIDs {
			if len(x.CID) != wire.CodeIDSize {
				return fmt.Errorf("sync: revoked batch rejected: code id of %d bytes", len(x.CID))
			}
			rows = append(rows, store.Revocation{CID: x.CID, Expires: time.UnixMilli(x.Expires)})
		}
		if len(rows) > 0 {
			if err := c.db.PutRevoked(ctx, rows...); err != nil {
				return err
			}
		}
		// The cursor moves after the batch committed; a crash in between re-applies it (idempotent).
		if err := setMetaInt(ctx, c.db, metaRevoked, rv.To); err != nil {
			return err
		}
		cur = rv.To
		if !rv.More {
			break
		}
	}
	last, _ := metaInt(ctx, c.db, metaPruned)
	if now := c.clock.Now(); now.Sub(time.UnixMilli(last)) > time.Hour {
		if _, err := c.db.PruneRevoked(ctx, now); err == nil {
			setMetaInt(ctx, c.db, metaPruned, now.UnixMilli())
		}
	}
	return nil
}
