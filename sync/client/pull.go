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
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"onepass/identity"
	"onepass/sync/keyfile"
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

// Key files in KeysDir, the daemon's existing layout.
const (
	deploymentKeyFile = "deployment.key"
	deploymentNext    = "deployment.key.next"
	platformPubFile   = "platform.pub"
)

// replayTolerance is how far before the round's head a body's signed time may lie: every body of
// a pull round is made after the head that opened it, so an older one is a replay (the hub's
// clock may step back a little under NTP).
const replayTolerance = 2 * time.Second

// maxChunks bounds one pull round (10,000 chunks ≈ 5 GiB): a hub that never says "no more" cannot
// keep the kiosk busy forever.
const maxChunks = 10_000

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
	head   wire.Head
	meta   map[string][]byte // written in one transaction when the round ends
	fresh  bool
	issued time.Time
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
		if err == nil && r.fresh {
			c.mu.Lock()
			c.st.ReplicaIssuedAt = r.issued
			c.mu.Unlock()
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
	if b, ok, err := c.db.Meta(ctx, store.MetaReplicaIssuedAt); err == nil && ok {
		if old, err := time.Parse(time.RFC3339Nano, string(b)); err == nil && !issued.After(old) {
			return
		}
	}
	r.meta[store.MetaReplicaIssuedAt] = []byte(issued.UTC().Format(time.RFC3339Nano))
	r.fresh, r.issued = true, issued
}

// syncKeys fetches the deployment key of a new epoch, sealed to this device. It waits in
// deployment.key.next until the replica of that epoch is complete (promoteKeys).
func (c *Client) syncKeys(ctx context.Context, r *round) error {
	have, err := metaInt(ctx, c.db, metaKeysEpoch)
	if err != nil {
		return err
	}
	next, err := metaInt(ctx, c.db, metaKeysNext)
	if err != nil {
		return err
	}
	want := r.head.Keys.Epoch
	if want == have || want == next {
		return nil
	}
	body, err := c.do(ctx, http.MethodGet, wire.PathKeys, nil)
	if err != nil {
		return err
	}
	var k wire.Keys
	if err := c.open(r, body, wire.TypeKeys, &k); err != nil {
		return err
	}
	if k.Device != c.id.Device {
		return fmt.Errorf("sync: keys rejected: sealed for device %q", k.Device)
	}
	var key []byte
	for _, sk := range k.Keys {
		if sk.Epoch == want {
			if key, err = wire.OpenDeploymentKey(c.id.key, c.id.Device, sk.Epoch, sk.Sealed); err != nil {
				return fmt.Errorf("sync: keys rejected: %w", err)
			}
		}
	}
	if len(key) != identity.DeploymentKeySize {
		return fmt.Errorf("sync: keys rejected: no %d-byte deployment key for epoch %d", identity.DeploymentKeySize, want)
	}
	if _, err := identity.NewSealer(k.PlatformPublicKey); err != nil {
		return fmt.Errorf("sync: keys rejected: %w", err)
	}
	if err := os.MkdirAll(c.cfg.KeysDir, 0o700); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	if err := keyfile.Write(filepath.Join(c.cfg.KeysDir, platformPubFile), k.PlatformPublicKey); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	if err := keyfile.Write(filepath.Join(c.cfg.KeysDir, deploymentNext), key); err != nil {
		return fmt.Errorf("sync: keys: %w", err)
	}
	c.log.Info("sync: received the deployment key of a new epoch", "epoch", want)
	return setMetaInt(ctx, c.db, metaKeysNext, want)
}

// promoteKeys installs a waiting deployment key once the replica is keyed under its epoch.
func (c *Client) promoteKeys(ctx context.Context) error {
	next, err := metaInt(ctx, c.db, metaKeysNext)
	if err != nil || next == 0 {
		return err
	}
	st, err := c.loadStatusState(ctx)
	if err != nil {
		return err
	}
	if st.Snapshot != nil || st.Epoch != next {
		return nil
	}
	path := filepath.Join(c.cfg.KeysDir, deploymentKeyFile)
	if err := os.Rename(filepath.Join(c.cfg.KeysDir, deploymentNext), path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sync: install deployment key: %w", err)
	}
	if err := setMetaInt(ctx, c.db, metaKeysEpoch, next); err != nil {
		return err
	}
	if err := setMetaInt(ctx, c.db, metaKeysNext, 0); err != nil {
		return err
	}
	c.log.Info("sync: deployment key installed", "epoch", next)
	if c.cfg.OnKeys != nil {
		k, err := LoadKeys(c.cfg.KeysDir)
		if err != nil {
			return err
		}
		k.Epoch = next
		c.cfg.OnKeys(k)
	}
	return nil
}

// LoadKeys reads the installed deployment key and platform key from a keys directory.
func LoadKeys(dir string) (Keys, error) {
	dk, err := os.ReadFile(filepath.Join(dir, deploymentKeyFile))
	if err != nil {
		return Keys{}, fmt.Errorf("sync: deployment key: %w", err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, platformPubFile))
	if err != nil {
		return Keys{}, fmt.Errorf("sync: platform key: %w", err)
	}
	return Keys{Deployment: dk, PlatformPub: pub}, nil
}

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
	var tl wire.TrustList
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
	c.mu.Lock()
	c.st.ReplicaEpoch, c.st.ReplicaSeq = next.Epoch, next.Seq
	c.mu.Unlock()
	return nil
}

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
			c.mu.Lock()
			c.st.ReplicaEpoch, c.st.ReplicaSeq = ns.Epoch, ns.Seq
			c.mu.Unlock()
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
	c.mu.Lock()
	c.st.ReplicaCount = n
	c.mu.Unlock()
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
