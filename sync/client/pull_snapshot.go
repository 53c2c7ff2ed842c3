package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"onepass/sync/store"
	"onepass/sync/wire"
)

// snapshot downloads (or resumes) a snapshot, one range per chunk, each replacing its key range
// of the replica in one transaction with the snapshot's progress. The next chunk is fetched while
// the current one is written, so the hub's work and the kiosk's overlap.
func (c *Client) snapshot(ctx context.Context, r *round, st *statusState) error {
	ctx, cancel := context.WithCancel(ctx)
	var inflight sync.WaitGroup
	defer func() { cancel(); inflight.Wait() }() // a prefetch still running is not waited for
	s := *st.Snapshot
	epoch := s.Epoch
	type fetched struct {
		chunk wire.StatusSnapshot
		err   error
	}
	fetch := func(lo []byte) <-chan fetched {
		ch := make(chan fetched, 1)
		inflight.Go(func() {
			chunk, err := c.fetchSnapshot(ctx, r, epoch, lo, nil)
			ch <- fetched{chunk, err}
		})
		return ch
	}
	next := fetch(s.Next)
	for range maxChunks {
		f := <-next
		if f.err != nil {
			return f.err
		}
		chunk := f.chunk
		if chunk.Next != nil {
			next = fetch(chunk.Next)
		}
		if !s.Started {
			s.Started, s.Seq = true, chunk.Seq
		}
		var ns statusState
		meta := map[string][]byte{}
		if chunk.Next == nil {
			ns = statusState{Epoch: s.Epoch, Seq: s.Seq}
			// The digests were just computed from every row written: as good as a full check.
			meta[metaVerified] = []byte(strconv.FormatInt(c.clock.Now().UnixMilli(), 10))
		} else {
			prog := s
			prog.Next = chunk.Next
			ns = statusState{Epoch: st.Epoch, Seq: st.Seq, Snapshot: &prog}
		}
		meta[metaStatus], _ = json.Marshal(ns)
		ch := store.StatusChange{Replace: true, Lo: s.Next, Hi: chunk.Next, Meta: meta}
		if ch.Lo == nil {
			ch.Lo = []byte{}
		}
		ch.Put = make([]store.StatusRow, 0, len(chunk.Rows))
		for _, op := range chunk.Rows {
			ch.Put = append(ch.Put, opRow(op))
		}
		if err := c.db.ApplyStatus(ctx, ch, rowHash); err != nil {
			return fmt.Errorf("sync: status snapshot: %w", err)
		}
		*st = ns
		if ns.Snapshot == nil {
			return nil
		}
		s = *ns.Snapshot
	}
	return errors.New("sync: status snapshot: too many chunks")
}

// fetchSnapshot gets one snapshot chunk of [lo, hi) and checks it.
func (c *Client) fetchSnapshot(ctx context.Context, r *round, epoch int64, lo, hi []byte) (wire.StatusSnapshot, error) {
	q := url.Values{"epoch": {strconv.FormatInt(epoch, 10)}}
	if len(lo) > 0 {
		q.Set("lo", hex.EncodeToString(lo))
	}
	if hi != nil {
		q.Set("hi", hex.EncodeToString(hi))
	}
	body, err := c.do(ctx, http.MethodGet, wire.PathSnapshot+"?"+q.Encode(), nil)
	if err != nil {
		return wire.StatusSnapshot{}, err
	}
	var s wire.StatusSnapshot
	if err := c.open(r, body, wire.TypeSnapshot, &s); err != nil {
		return s, err
	}
	if len(s.Next) == 0 {
		s.Next = nil
	}
	return s, checkSnapshot(s, epoch, lo, hi)
}

// checkSnapshot checks a verified snapshot chunk against the range it was asked for: every row
// inside [lo, next) and below hi, in strictly increasing key order.
func checkSnapshot(s wire.StatusSnapshot, epoch int64, lo, hi []byte) error {
	switch {
	case s.Epoch != epoch:
		return fmt.Errorf("sync: snapshot rejected: epoch %d, asked for %d", s.Epoch, epoch)
	case !bytes.Equal(s.Lo, lo) || !bytes.Equal(s.Hi, hi):
		return errors.New("sync: snapshot rejected: it covers another range than asked (a replayed batch)")
	case s.Next != nil && bytes.Compare(s.Next, lo) <= 0:
		return errors.New("sync: snapshot rejected: it does not advance")
	case s.Next != nil && hi != nil && bytes.Compare(s.Next, hi) >= 0:
		return errors.New("sync: snapshot rejected: it continues past the range asked for")
	}
	prev := lo
	for i, op := range s.Rows {
		if err := wire.CheckOp(op); err != nil || op.Del {
			return fmt.Errorf("sync: snapshot rejected: row %d: bad row (%v)", i, err)
		}
		if bytes.Compare(op.Key, prev) < 0 || (i > 0 && bytes.Equal(op.Key, prev)) ||
			(s.Next != nil && bytes.Compare(op.Key, s.Next) >= 0) || (hi != nil && bytes.Compare(op.Key, hi) >= 0) {
			return fmt.Errorf("sync: snapshot rejected: row %d outside its range or out of order", i)
		}
		prev = op.Key
	}
	return nil
}

// repairPartition replaces one partition with the hub's rows and recounts its digest.
func (c *Client) repairPartition(ctx context.Context, r *round, epoch int64, p int) error {
	lo, hi := wire.PartitionRange(p)
	for range maxChunks {
		chunk, err := c.fetchSnapshot(ctx, r, epoch, lo, hi)
		if err != nil {
			return err
		}
		end := chunk.Next
		if end == nil {
			end = hi
		}
		ch := store.StatusChange{Replace: true, Recount: true, Lo: lo, Hi: end}
		for _, op := range chunk.Rows {
			ch.Put = append(ch.Put, opRow(op))
		}
		if err := c.db.ApplyStatus(ctx, ch, rowHash); err != nil {
			return fmt.Errorf("sync: repair partition %d: %w", p, err)
		}
		if chunk.Next == nil {
			return nil
		}
		lo = chunk.Next
	}
	return fmt.Errorf("sync: repair partition %d: too many chunks", p)
}
