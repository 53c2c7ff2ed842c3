package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"onepass/sync/wire"
)

func (c *Client) syncPolicy(ctx context.Context, r *round) error {
	held, _, err := c.db.Policy(ctx)
	if err != nil {
		return err
	}
	if r.head.Policy.Version <= held {
		return nil
	}
	body, err := c.do(ctx, http.MethodGet, wire.PathPolicy, nil)
	if err != nil {
		return err
	}
	var p wire.Policy
	if err := c.open(r, body, wire.TypePolicy, &p); err != nil {
		return err
	}
	if p.Version < r.head.Policy.Version {
		return fmt.Errorf("sync: policy rejected: version %d is older than the head's %d", p.Version, r.head.Policy.Version)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := c.db.PutPolicy(ctx, p.Version, doc); err != nil {
		return fmt.Errorf("sync: policy: %w", err)
	}
	c.log.Info("sync: policy updated", "version", p.Version)
	if c.cfg.OnPolicy != nil {
		c.cfg.OnPolicy(p)
	}
	return nil
}
