package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"onepass/signing"
	"onepass/sync/store"
	"onepass/sync/wire"
)

func (c *Client) syncTrust(ctx context.Context, r *round) error {
	held, doc, err := c.db.TrustList(ctx)
	if err != nil {
		return err
	}
	if r.head.Trust.Seq <= held && r.head.Trust.Seq > 0 {
		if _, verr := c.verifier.OpenRoot(doc); verr == nil {
			return nil
		}
	}
	if r.head.Trust.Seq == 0 {
		return nil // the hub has no list yet
	}
	body, err := c.do(ctx, http.MethodGet, wire.PathTrust, nil)
	if err != nil {
		return err
	}
	payload, err := c.verifier.OpenRoot(body)
	if err != nil {
		return fmt.Errorf("sync: trust list rejected: %w", err)
	}
	var tl signing.TrustList
	if err := json.Unmarshal(payload, &tl); err != nil {
		return fmt.Errorf("sync: trust list rejected: %w", err)
	}
	if tl.Seq < r.head.Trust.Seq {
		return fmt.Errorf("sync: trust list rejected: seq %d is older than the head's %d (a replayed list)", tl.Seq, r.head.Trust.Seq)
	}
	err = c.db.PutTrustList(ctx, tl.Seq, body)
	if errors.Is(err, store.ErrRollback) {
		// A held list that the pinned root did not sign (another platform's) orders nothing.
		if _, doc, herr := c.db.TrustList(ctx); herr == nil {
			if _, verr := c.verifier.OpenRoot(doc); verr != nil {
				c.log.Warn("sync: replacing a trust list signed by another root", "err", verr)
				err = c.db.ReplaceTrustList(ctx, tl.Seq, body)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("sync: trust list: %w", err)
	}
	c.log.Info("sync: trust list updated", "seq", tl.Seq, "issuers", len(tl.Issuers))
	return nil
}
