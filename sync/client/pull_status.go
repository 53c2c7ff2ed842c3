package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"onepass/sync/store"
	"onepass/sync/wire"
)

// statusState is the status cursor, written in the same transaction as each chunk.
type statusState struct {
	Epoch    int64      `json:"epoch"`
	Seq      int64      `json:"seq"`
	Snapshot *snapState `json:"snapshot,omitempty"`
}

// snapState is a snapshot download in progress: the next range starts at Next; the cursor after
// it will be Seq, the hub's sequence when its first chunk was read (later changes arrive by
// delta, which re-applies idempotently).
type snapState struct {
	Epoch   int64  `json:"epoch"`
	Seq     int64  `json:"seq"`
	Started bool   `json:"started"`
	Next    []byte `json:"next"`
}

func (c *Client) loadStatusState(ctx context.Context) (statusState, error) {
	var st statusState
	b, ok, err := c.db.Meta(ctx, metaStatus)
	if err != nil || !ok || len(b) == 0 {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return statusState{}, fmt.Errorf("sync: status cursor in the database is damaged: %w", err)
	}
	return st, nil
}

// rowHash is the store's digest hash: the protocol's row hash.
func rowHash(r store.StatusRow) [16]byte {
	return wire.RowHash(r.PersonKey, r.Status, wire.UnixMS(r.AsOf), wire.UnixMS(r.Expires), r.Reason)
}

func opRow(op wire.StatusOp) store.StatusRow {
	return store.StatusRow{PersonKey: op.Key, Status: op.Status, AsOf: wire.FromUnixMS(op.AsOf), Expires: wire.FromUnixMS(op.Expires), Reason: op.Reason}
}

// syncStatus brings the status replica to the hub's state and returns the signed time at which
// the replica was verified equal to the hub's (count and partition digests).
func (c *Client) syncStatus(ctx context.Context, r *round) (time.Time, error) {
	st, err := c.loadStatusState(ctx)
	if err != nil {
		return time.Time{}, err
	}
	h := r.head.Status
	if st.Snapshot == nil && st.Epoch == h.Epoch && st.Seq == h.Seq {
		bad, err := c.mismatched(ctx, h.Count, h.PartitionDigests)
		if err != nil {
			return time.Time{}, err
		}
		if len(bad) == 0 {
			return r.head.IssuedAt, nil
		}
	}
	if st.Snapshot == nil && st.Epoch != h.Epoch {
		st.Snapshot = &snapState{Epoch: h.Epoch}
	}
	repairs, snapshots := 0, 0
	// The next delta chunk is fetched while the current one is written.
	type fetched struct {
		d   wire.StatusDelta
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	var inflight sync.WaitGroup
	defer func() { cancel(); inflight.Wait() }() // a prefetch still running is not waited for
	var ahead <-chan fetched
	var aheadFrom int64
	for range maxChunks {
		if st.Snapshot != nil {
			if snapshots++; snapshots > 2 {
				return time.Time{}, errors.New("sync: status: the hub keeps asking for snapshots")
			}
			if err := c.snapshot(ctx, r, &st); err != nil {
				return time.Time{}, err
			}
			continue
		}
		var d wire.StatusDelta
		var err error
		if ahead != nil && aheadFrom == st.Seq {
			f := <-ahead
			d, err = f.d, f.err
		} else {
			if ahead != nil {
				<-ahead // a prefetch for a cursor no longer wanted
			}
			d, err = c.fetchDelta(ctx, r, st)
		}
		ahead = nil
		if err != nil {
			return time.Time{}, err
		}
		if d.More && !d.SnapshotRequired {
			ch := make(chan fetched, 1)
			next := statusState{Epoch: st.Epoch, Seq: d.To}
			inflight.Go(func() {
				nd, err := c.fetchDelta(ctx, r, next)
				ch <- fetched{nd, err}
			})
			ahead, aheadFrom = ch, d.To
		}
		if d.SnapshotRequired {
			c.log.Info("sync: the hub answers with a snapshot (new epoch, new device or cursor too old)", "cursor", st.Seq, "epoch", d.Epoch)
			st.Snapshot = &snapState{Epoch: d.Epoch}
			continue
		}
		next := statusState{Epoch: st.Epoch, Seq: d.To}
		if err := c.apply(ctx, d.Ops, next); err != nil {
			return time.Time{}, err
		}
		st = next
		if d.More {
			continue
		}
		bad, err := c.mismatched(ctx, d.Count, d.PartitionDigests)
		if err != nil {
			return time.Time{}, err
		}
		if len(bad) == 0 {
			return d.IssuedAt, nil
		}
		if repairs++; repairs > 2 {
			return time.Time{}, fmt.Errorf("sync: status replica still differs from the hub in %d partitions after repair", len(bad))
		}
		c.log.Warn("sync: status replica differs from the hub; re-fetching those partitions", "partitions", len(bad))
		for _, p := range bad {
			if err := c.repairPartition(ctx, r, st.Epoch, p); err != nil {
				return time.Time{}, err
			}
		}
	}
	return time.Time{}, errors.New("sync: status: too many chunks in one round")
}

func (c *Client) fetchDelta(ctx context.Context, r *round, st statusState) (wire.StatusDelta, error) {
	q := url.Values{"epoch": {strconv.FormatInt(st.Epoch, 10)}, "from": {strconv.FormatInt(st.Seq, 10)}}
	body, err := c.do(ctx, http.MethodGet, wire.PathDelta+"?"+q.Encode(), nil)
	if err != nil {
		return wire.StatusDelta{}, err
	}
	var d wire.StatusDelta
	if err := c.open(r, body, wire.TypeDelta, &d); err != nil {
		return d, err
	}
	return d, checkDelta(d, st)
}

// checkDelta checks a verified delta chunk against the cursor it was asked for.
func checkDelta(d wire.StatusDelta, st statusState) error {
	if d.SnapshotRequired {
		return nil
	}
	switch {
	case d.Epoch != st.Epoch:
		return fmt.Errorf("sync: status delta rejected: epoch %d, asked for %d", d.Epoch, st.Epoch)
	case d.From != st.Seq:
		return fmt.Errorf("sync: status delta rejected: starts at %d, the cursor is %d (a replayed or misordered batch)", d.From, st.Seq)
	case d.To < d.From || (d.To == d.From && (d.More || len(d.Ops) > 0)):
		return fmt.Errorf("sync: status delta rejected: bad sequence range %d–%d", d.From, d.To)
	}
	seen := make(map[string]bool, len(d.Ops))
	for i, op := range d.Ops {
		if err := wire.CheckOp(op); err != nil {
			return fmt.Errorf("sync: status delta rejected: op %d: %w", i, err)
		}
		if seen[string(op.Key)] {
			return fmt.Errorf("sync: status delta rejected: op %d repeats a person key", i)
		}
		seen[string(op.Key)] = true
	}
	if !d.More {
		if _, err := wire.UnpackDigests(d.PartitionDigests); err != nil {
			return fmt.Errorf("sync: status delta rejected: %w", err)
		}
	}
	return nil
}

// apply writes delta ops and the new cursor in one transaction.
func (c *Client) apply(ctx context.Context, ops []wire.StatusOp, next statusState) error {
	ch := store.StatusChange{Meta: map[string][]byte{}}
	for _, op := range ops {
		if op.Del {
			ch.Delete = append(ch.Delete, op.Key)
		} else {
			ch.Put = append(ch.Put, opRow(op))
		}
	}
	b, _ := json.Marshal(next)
	ch.Meta[metaStatus] = b
	if err := c.db.ApplyStatus(ctx, ch, rowHash); err != nil {
		return fmt.Errorf("sync: status: %w", err)
	}
	return nil
}

// mismatched lists the partitions whose local digest differs from the hub's (all of them, if the
// counts differ but no digest does, which a correct hub never sends).
func (c *Client) mismatched(ctx context.Context, count int64, packed []byte) ([]int, error) {
	want, err := wire.UnpackDigests(packed)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	full := c.verifyDue(ctx)
	var counts [wire.Partitions]int64
	var sums [wire.Partitions][16]byte
	if full {
		counts, sums, err = c.db.ScanStatusDigests(ctx, rowHash)
	} else {
		counts, sums, err = c.db.StatusDigests(ctx)
	}
	if err != nil {
		return nil, err
	}
	var bad []int
	var n int64
	for p := range wire.Partitions {
		n += counts[p]
		if wire.Digest(sums[p]) != want[p] {
			bad = append(bad, p)
		}
	}
	if len(bad) == 0 && n != count {
		for p := range wire.Partitions {
			bad = append(bad, p)
		}
	}
	if full && len(bad) == 0 {
		setMetaInt(ctx, c.db, metaVerified, c.clock.Now().UnixMilli())
	}
	return bad, nil
}

// verifyDue reports whether the replica's rows should be re-hashed in full this time.
func (c *Client) verifyDue(ctx context.Context) bool {
	last, err := metaInt(ctx, c.db, metaVerified)
	return err == nil && c.clock.Since(time.UnixMilli(last)) >= c.cfg.VerifyEvery
}
