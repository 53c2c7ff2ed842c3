// Package client is the kiosk's side of the sync protocol (docs/sync-protocol.md): enrollment,
// the pull loop that keeps the local replica (status, trust list, revoked codes, policy,
// deployment keys) fresh from signed batches, and the push loop that uploads the outbox. It writes
// only through sync/store, in transactions: a batch and its cursor commit together, outbox rows
// go only after the hub acknowledged them, and nothing is ever dropped.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/sync/store"
	"onepass/sync/wire"
)

// Config configures a client. Dir and Root are required.
type Config struct {
	// Hub overrides the hub URL stored at enrollment (the hub moved, or the sim's port).
	Hub string
	// Hubs are the hub's replicas, preferred first; they override the enrolled URL too. Setting
	// both Hub and Hubs is an error. See replicas.go for how the client moves between them.
	Hubs []string
	// Dir holds the device identity (<data>/sync); KeysDir the deployment key and platform key
	// (<data>/keys).
	Dir, KeysDir string
	// Root is the pinned root key (SubjectPublicKeyInfo DER); it must be the one enrolled with.
	Root []byte
	// PullEvery and PushEvery are the loop intervals when all is well (defaults 1 min and 5 s);
	// failures back off exponentially with jitter up to MaxBackoff (default 5 min).
	PullEvery, PushEvery, MaxBackoff time.Duration
	// OutboxLimit raises the alarm (health down, error log) when more records wait; records are
	// never dropped (default 100,000).
	OutboxLimit int
	// MaxSkew is the clock difference to the hub beyond which health is degraded (default 2 min).
	MaxSkew time.Duration
	// VerifyEvery is how often the replica's rows are re-hashed in full and compared with the
	// hub's digests, catching rows changed behind sync's back (default 24 h).
	VerifyEvery time.Duration
	// BatchSize is the most records per upload (default and maximum 1,000).
	BatchSize int
	// Timeout bounds one HTTP exchange (default 1 min).
	Timeout  time.Duration
	Software string
	Clock    clockwork.Clock
	Logger   *slog.Logger
	// OnKeys is called with the deployment key and platform key whenever they change (after
	// enrollment and after a key rotation completed).
	OnKeys func(Keys)
	// OnPolicy is called when a new policy document was stored.
	OnPolicy func(wire.Policy)
	// Telemetry, when set, gives the kiosk's part of the report the pushes carry to the hub
	// (telemetry.go): the parts' health, the printer's paper, the queue lengths, the version and
	// uptime. The client adds the outbox, the replica's age, the clock skew and its own health.
	Telemetry func(context.Context) wire.Telemetry
}

// Keys are the secrets the kiosk receives from the hub.
type Keys struct {
	Epoch       int64
	Deployment  []byte // HMAC key of person keys
	PlatformPub []byte // X25519 key that ID numbers are sealed to
}

// Client syncs one kiosk database with the hub.
type Client struct {
	cfg      Config
	db       *store.Store
	id       *deviceIdentity
	replicas []replica // at least one; [0] is preferred
	verifier *wire.Verifier
	clock    clockwork.Clock
	log      *slog.Logger
	kick     chan struct{}

	mu        sync.Mutex
	st        Status
	lastAlarm time.Time
	cur       int       // the replica requests go to first (replicas.go)
	curSince  time.Time // when cur last changed
	// pullMu makes Pull calls (the loop and SyncNow) take turns.
	pullMu sync.Mutex
	pushMu sync.Mutex
	// Held with pushMu: the round's report until an upload carrying it is acknowledged, and when
	// the last one was.
	pendingTel *wire.Telemetry
	telSent    time.Time
	started    time.Time // for the uptime, when Config.Telemetry gives none
}

// New loads the enrollment in cfg.Dir. It fails with ErrNotEnrolled when there is none.
func New(cfg Config, db *store.Store) (*Client, error) {
	if cfg.Clock == nil {
		cfg.Clock = clockwork.NewRealClock()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PullEvery <= 0 {
		cfg.PullEvery = time.Minute
	}
	if cfg.PushEvery <= 0 {
		cfg.PushEvery = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.OutboxLimit <= 0 {
		cfg.OutboxLimit = 100_000
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 2 * time.Minute
	}
	if cfg.VerifyEvery <= 0 {
		cfg.VerifyEvery = 24 * time.Hour
	}
	if cfg.BatchSize <= 0 || cfg.BatchSize > wire.MaxUploadRecords {
		cfg.BatchSize = wire.MaxUploadRecords
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Minute
	}
	id, err := loadIdentity(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if cfg.Root == nil {
		cfg.Root = id.Root
	}
	if !bytes.Equal(cfg.Root, id.Root) {
		return nil, errors.New("sync: this device was enrolled under another root key than the configured [trust] root: enroll again")
	}
	verifier, err := wire.NewVerifier(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	bases, err := hubList(id.Hub, cfg.Hub, cfg.Hubs)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, db: db, id: id, verifier: verifier,
		clock: cfg.Clock, log: cfg.Logger.With("part", "sync"), kick: make(chan struct{}, 1),
	}
	for _, base := range bases {
		c.replicas = append(c.replicas, newReplica(base, cfg, id))
	}
	c.curSince = c.clock.Now()
	c.started = c.curSince
	c.st = Status{Hub: bases[0], Device: id.Device, Hall: id.Hall, CertExpires: id.leaf.NotAfter, OutboxLimit: cfg.OutboxLimit}
	if len(bases) > 1 {
		c.st.Hubs = bases
	}
	c.st.health = Health{State: OK, Since: c.clock.Now()}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() {
	for _, r := range c.replicas {
		r.http.CloseIdleConnections()
	}
}

// Device is the enrolled device ID.
func (c *Client) Device() string { return c.id.Device }

// Kick wakes the push loop (a visit was just appended).
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run runs the pull and push loops until ctx is done.
func (c *Client) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		c.loop(ctx, "pull", c.cfg.PullEvery, nil, func(ctx context.Context) error { return c.Pull(ctx) })
	})
	wg.Go(func() {
		c.loop(ctx, "push", c.cfg.PushEvery, c.kick, func(ctx context.Context) error { _, err := c.Push(ctx); return err })
	})
	wg.Wait()
	return nil
}

// loop runs fn every interval; after a failure it waits an exponentially growing, jittered
// delay instead, so a hall full of kiosks does not hammer a hub that just came back.
func (c *Client) loop(ctx context.Context, name string, every time.Duration, wake <-chan struct{}, fn func(context.Context) error) {
	failures := 0
	for {
		err := fn(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := jitter(every, 0.1)
		if err != nil {
			failures++
			wait = Backoff(failures, time.Second, c.cfg.MaxBackoff)
			if failures == 1 || failures%10 == 0 {
				c.log.Warn("sync "+name+" failed; retrying", "err", err, "failures", failures, "retry_in", wait.Round(time.Millisecond))
			}
		} else {
			if failures > 0 {
				c.log.Info("sync "+name+" recovered", "after_failures", failures)
			}
			failures = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(wait):
		case <-wake:
		}
	}
}

// Backoff is the wait after the n-th consecutive failure (n ≥ 1): base·2^(n−1) capped at max,
// with "equal jitter" (half fixed, half random), so retries spread out but never hammer.
func Backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func jitter(d time.Duration, frac float64) time.Duration {
	j := time.Duration(float64(d) * frac)
	if j <= 0 {
		return d
	}
	return d - j + time.Duration(mrand.Int64N(int64(2*j)+1))
}

// SyncNow pulls and pushes once, now; the sim uses it so a status set through the hub is in
// the replica when the command returns.
func (c *Client) SyncNow(ctx context.Context) error {
	perr := c.Pull(ctx)
	_, uerr := c.Push(ctx)
	return errors.Join(perr, uerr)
}

// errRefused marks answers that mean "this device may not talk to the hub" (revoked,
// superseded, unknown): retrying does not help until someone re-enrolls it.
var errRefused = errors.New("device refused by the hub")

// httpStatusError is a non-2xx answer.
type httpStatusError struct {
	code int
	msg  string
}

func (e *httpStatusError) Error() string { return "hub answered " + e.msg }

// do sends one request and returns the whole body of a 200 answer. A body cut short (the
// connection dropped mid-way) is an error here, before anything is parsed.
func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	b, _, err := c.exchange(ctx, method, path, body, 0)
	return b, err
}

// timing brackets the HTTP exchange itself (after the local database work).
type timing struct{ sent, received time.Time }

// exchange is do with the times the request left and the answer arrived; uploading is the number
// of outbox records this request carries (the depth reported to the hub is what remains after it).
// A replica that cannot be reached or answers 5xx hands the same request to the next one at once
// (replicas.go); the caller's backoff starts only when none answered.
func (c *Client) exchange(ctx context.Context, method, path string, body []byte, uploading int) ([]byte, timing, error) {
	hdr := http.Header{}
	hdr.Set(wire.ProtocolHeader, strconv.Itoa(wire.Major))
	if c.cfg.Software != "" {
		hdr.Set(wire.HeaderVersion, c.cfg.Software)
	}
	if body != nil {
		hdr.Set("Content-Type", "application/json")
	}
	if depth, err := c.db.OutboxDepth(ctx); err == nil {
		depth = max(depth-uploading, 0)
		hdr.Set(wire.HeaderOutboxDepth, strconv.Itoa(depth))
		if at, ok, err := c.db.OutboxOldest(ctx); err == nil && ok && depth > 0 {
			hdr.Set(wire.HeaderOutboxOldest, at.UTC().Format(time.RFC3339Nano))
		}
	}
	start := c.pick()
	var first error
	for i := range c.replicas {
		n := (start + i) % len(c.replicas)
		b, tm, err := c.attempt(ctx, c.replicas[n], method, path, body, hdr)
		if err == nil || !failover(err) || ctx.Err() != nil {
			if ctx.Err() == nil {
				c.served(n, err == nil, first)
			}
			return b, tm, err
		}
		if first == nil {
			first = err
		}
		if len(c.replicas) > 1 {
			c.log.Debug("sync: hub replica failed; trying the next", "hub", c.replicas[n].base, "err", err)
		}
	}
	if len(c.replicas) > 1 {
		return nil, timing{}, fmt.Errorf("%w (all %d hub replicas failed)", first, len(c.replicas))
	}
	return nil, timing{}, first
}

// attempt sends the request to one replica and returns the whole body of a 200 answer. A body cut
// short (the connection dropped mid-way) is an error here, before anything is parsed.
func (c *Client) attempt(ctx context.Context, r replica, method, path string, body []byte, hdr http.Header) ([]byte, timing, error) {
	var tm timing
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return nil, tm, fmt.Errorf("sync: %w", err)
	}
	req.Header = hdr.Clone()
	tm.sent = c.clock.Now()
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, tm, &unreachableError{fmt.Errorf("sync: %s %s: %w", method, path, err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, wire.MaxBodyBytes+1))
	tm.received = c.clock.Now()
	if err != nil {
		return nil, tm, &unreachableError{fmt.Errorf("sync: %s %s: body cut short: %w", method, path, err)}
	}
	if len(b) > wire.MaxBodyBytes {
		return nil, tm, fmt.Errorf("sync: %s %s: body larger than %d bytes", method, path, wire.MaxBodyBytes)
	}
	if v := resp.Header.Get(wire.ProtocolHeader); v != "" && v != strconv.Itoa(wire.Major) {
		return nil, tm, fmt.Errorf("sync: %w %s (this kiosk speaks %d)", wire.ErrVersion, v, wire.Major)
	}
	if resp.StatusCode != http.StatusOK {
		e := &httpStatusError{code: resp.StatusCode, msg: errorText(resp.StatusCode, b)}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, tm, fmt.Errorf("sync: %s %s: %w: %w", method, path, errRefused, e)
		}
		return nil, tm, fmt.Errorf("sync: %s %s: %w", method, path, e)
	}
	c.setRefused("")
	return b, tm, nil
}

func nonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
