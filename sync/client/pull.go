package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"onepass/sync/store"
	"onepass/sync/wire"
)

// Meta keys of the client's cursors (sync/store's meta table).
const (
	metaStatus    = "sync.status"          // statusState JSON: the status cursor and any snapshot in progress
	metaRevoked   = "sync.revoked.seq"     // revoked-codes cursor
	metaKeysEpoch = "sync.keys.epoch"      // epoch of keys/deployment.key
	metaKeysNext  = "sync.keys.next_epoch" // epoch of keys/deployment.key.next, waiting for its snapshot
	metaPruned    = "sync.revoked.pruned"  // when expired revocations were last pruned
	metaVerified  = "sync.status.verified" // when the replica's rows were last re-hashed in full
)

// replayTolerance is how far before the round's head a body's signed time may lie: every body of
// a pull round is made after the head that opened it, so an older one is a replay (the hub's
// clock may step back a little under NTP).
const replayTolerance = 2 * time.Second

// maxChunks bounds one pull round (10,000 chunks ≈ 5 GiB): a hub that never says "no more" cannot
// keep the kiosk busy forever.
const maxChunks = 10_000

func metaInt(ctx context.Context, db *store.Store, key string) (int64, error) {
	b, ok, err := db.Meta(ctx, key)
	if err != nil || !ok || len(b) == 0 {
		return 0, err
	}
	return strconv.ParseInt(string(b), 10, 64)
}

func setMetaInt(ctx context.Context, db *store.Store, key string, v int64) error {
	return db.SetMeta(ctx, key, []byte(strconv.FormatInt(v, 10)))
}

// round is one pull: everything fetched is checked against the head that opened it.
type round struct {
	head wire.Head
	meta map[string][]byte // written in one transaction when the round ends
}

// open verifies a body of the round: signature, type, and signed time not before the head.
func (c *Client) open(r *round, body []byte, typ string, out interface{ Head() wire.Header }) error {
	if _, err := c.verifier.Open(body, typ, out); err != nil {
		return fmt.Errorf("sync: %s rejected: %w", typ, err)
	}
	h := out.(interface{ Head() wire.Header }).Head()
	if h.IssuedAt.Before(r.head.IssuedAt.Add(-replayTolerance)) {
		return fmt.Errorf("sync: %s rejected: signed at %s, before this round's head (%s): a replayed old batch",
			typ, h.IssuedAt.Format(time.RFC3339Nano), r.head.IssuedAt.Format(time.RFC3339Nano))
	}
	return nil
}

// Pull runs one pull round: a fresh signed head, then whatever streams moved. The replica's
// freshness (store.MetaReplicaIssuedAt) advances only when the status replica matches the hub's
// signed count and partition digests.
func (c *Client) Pull(ctx context.Context) error {
	c.pullMu.Lock()
	defer c.pullMu.Unlock()
	err := c.pull(ctx)
	if ctx.Err() == nil { // a stop is not a failure of the hub
		c.noteRefused(err)
		c.pullDone(err)
	}
	return err
}

func (c *Client) pull(ctx context.Context) (err error) {
	n := nonce()
	body, tm, err := c.exchange(ctx, http.MethodGet, wire.PathHead+"?nonce="+n, nil, 0)
	if err != nil {
		return err
	}
	r := &round{meta: map[string][]byte{}}
	if _, err := c.verifier.Open(body, wire.TypeHead, &r.head); err != nil {
		return fmt.Errorf("sync: head rejected: %w", err)
	}
	if r.head.Nonce != n {
		return errors.New("sync: head rejected: it answers another request (nonce mismatch): a replayed head")
	}
	if r.head.Device != c.id.Device {
		return fmt.Errorf("sync: head rejected: made for device %q, this is %q", r.head.Device, c.id.Device)
	}
	// The small facts of the round (skew, time floor, freshness) are written together at the
	// end, in one transaction: every commit is an fsync the lane's next visit would wait for.
	defer func() {
		if len(r.meta) == 0 {
			return
		}
		if werr := c.db.ApplyStatus(ctx, store.StatusChange{Meta: r.meta}, rowHash); werr != nil && err == nil {
			err = fmt.Errorf("sync: %w", werr)
		}
	}()
	c.observeTime(ctx, r, tm.sent, tm.received)

	if err := c.syncKeys(ctx, r); err != nil {
		return err
	}
	if err := c.syncTrust(ctx, r); err != nil {
		return err
	}
	if err := c.syncPolicy(ctx, r); err != nil {
		return err
	}
	if err := c.syncRevoked(ctx, r); err != nil {
		return err
	}
	issued, err := c.syncStatus(ctx, r)
	if err != nil {
		return err
	}
	if err := c.promoteKeys(ctx); err != nil {
		return err
	}
	c.markFresh(ctx, r, issued)
	return nil
}

// observeTime measures the clock skew against the hub's signed time (the midpoint of the
// exchange is the best local estimate of when the hub signed) and raises the trusted-time floor.
func (c *Client) observeTime(ctx context.Context, r *round, t0, t1 time.Time) {
	issued := r.head.IssuedAt
	skew := issued.Sub(t0.Add(t1.Sub(t0) / 2))
	c.mu.Lock()
	c.st.SkewMS, c.st.SkewKnown = float64(skew)/float64(time.Millisecond), true
	c.mu.Unlock()
	r.meta[store.MetaClockSkew] = []byte(strconv.FormatInt(skew.Milliseconds(), 10))
	r.meta[store.MetaLastSync] = []byte(c.clock.Now().UTC().Format(time.RFC3339Nano))
	if b, ok, err := c.db.Meta(ctx, store.MetaTimeFloor); err == nil && ok {
		if old, err := time.Parse(time.RFC3339Nano, string(b)); err == nil && !issued.After(old) {
			return
		}
	}
	r.meta[store.MetaTimeFloor] = []byte(issued.UTC().Format(time.RFC3339Nano))
}

// markFresh records the signed time at which the replica was verified equal to the hub's;
// freshness never moves back.
func (c *Client) markFresh(ctx context.Context, r *round, issued time.Time) {
	if old, ok, err := c.db.ReplicaFreshness(ctx); err == nil && ok && !issued.After(old) {
		return
	}
	r.meta[store.MetaReplicaIssuedAt] = []byte(issued.UTC().Format(time.RFC3339Nano))
}
