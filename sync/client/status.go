package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Status is what the staff console, `onepassctl sync` and the selftest show about sync.
type Status struct {
	Hub string `json:"hub"` // the preferred replica
	// Hubs are the configured replicas, preferred first, when there is more than one.
	Hubs []string `json:"hubs,omitempty"`
	// LastHub is the replica that last answered a request successfully.
	LastHub     string    `json:"last_hub,omitempty"`
	Device      string    `json:"device"`
	Hall        string    `json:"hall"`
	CertExpires time.Time `json:"cert_expires"`

	LastPull      time.Time `json:"last_pull,omitzero"` // last pull that completed
	PullError     string    `json:"pull_error,omitempty"`
	LastPullError time.Time `json:"last_pull_error,omitzero"`
	LastPush      time.Time `json:"last_push,omitzero"` // last push round that completed
	PushError     string    `json:"push_error,omitempty"`
	LastPushError time.Time `json:"last_push_error,omitzero"`
	Uploaded      int64     `json:"uploaded"` // records acknowledged since start

	// The replica's fields are read from the database at each Status, where the lane reads the
	// replica's age: one source of truth (see store.ReplicaFreshness).
	ReplicaIssuedAt time.Time `json:"replica_issued_at,omitzero"` // issued_at of the last verified head
	ReplicaAge      float64   `json:"replica_age_seconds"`        // now − replica_issued_at; −1 never synced
	ReplicaEpoch    int64     `json:"replica_epoch"`
	ReplicaSeq      int64     `json:"replica_seq"`
	ReplicaCount    int64     `json:"replica_count"`
	ReplicaError    string    `json:"replica_error,omitempty"` // the database could not say

	OutboxDepth  int       `json:"outbox_depth"`
	OutboxOldest time.Time `json:"outbox_oldest,omitzero"`
	OutboxLimit  int       `json:"outbox_limit"`
	Quarantined  int       `json:"quarantined"`

	SkewKnown bool    `json:"skew_known"`
	SkewMS    float64 `json:"skew_ms"` // hub clock − kiosk clock, from signed times
	Refused   string  `json:"refused,omitempty"`

	Health Health `json:"health"`
	health Health
}

// Status returns the current sync status; the replica's part comes from the database.
func (c *Client) Status(ctx context.Context) Status {
	c.mu.Lock()
	s := c.st
	s.Health = c.healthLocked()
	c.mu.Unlock()
	if err := c.readReplica(ctx, &s); err != nil {
		s.ReplicaError = err.Error()
	}
	return s
}

// readReplica fills the replica's fields from the database: its freshness, the status cursor
// (epoch, seq) and the row count the partition digests keep.
func (c *Client) readReplica(ctx context.Context, s *Status) error {
	s.ReplicaAge = -1
	issued, ok, err := c.db.ReplicaFreshness(ctx)
	if err != nil {
		return fmt.Errorf("sync: replica freshness: %w", err)
	}
	if ok {
		s.ReplicaIssuedAt, s.ReplicaAge = issued, c.clock.Since(issued).Seconds()
	}
	st, err := c.loadStatusState(ctx)
	if err != nil {
		return err
	}
	s.ReplicaEpoch, s.ReplicaSeq = st.Epoch, st.Seq
	counts, _, err := c.db.StatusDigests(ctx)
	if err != nil {
		return fmt.Errorf("sync: replica count: %w", err)
	}
	for _, n := range counts {
		s.ReplicaCount += n
	}
	return nil
}

// Health is the sync part's health for the lane's health map: it never touches the network or
// the database, and its reason changes only when the situation does.
func (c *Client) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.healthLocked()
}

// Skew is the measured hub − kiosk clock difference; ok is false before the first head.
func (c *Client) Skew() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Duration(c.st.SkewMS * float64(time.Millisecond)), c.st.SkewKnown
}

func (c *Client) healthLocked() Health {
	st, reason := OK, ""
	s := &c.st
	switch {
	case s.Refused != "":
		st, reason = Down, "the hub refuses this device ("+s.Refused+"): re-enroll it"
	case s.OutboxDepth >= s.OutboxLimit:
		st, reason = Down, fmt.Sprintf("ALARM: outbox over its limit of %d records; uploads are not keeping up (nothing is dropped)", s.OutboxLimit)
	case s.PushError != "":
		st, reason = Degraded, "upload failing: "+s.PushError
	case s.PullError != "":
		st, reason = Degraded, "pull failing: "+s.PullError
	case s.SkewKnown && absDur(time.Duration(s.SkewMS*float64(time.Millisecond))) > c.cfg.MaxSkew:
		st, reason = Degraded, fmt.Sprintf("kiosk clock differs from the hub by more than %s", c.cfg.MaxSkew)
	case s.Quarantined > 0:
		st, reason = Degraded, "records refused by the hub are quarantined (see onepassctl sync)"
	}
	if st != s.health.State || reason != s.health.Reason {
		s.health = Health{State: st, Reason: reason, Since: c.clock.Now()}
	}
	return s.health
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (c *Client) setRefused(msg string) {
	c.mu.Lock()
	c.st.Refused = msg
	c.mu.Unlock()
}

// noteRefused records a refusal of this device, if err is one.
func (c *Client) noteRefused(err error) {
	var he *httpStatusError
	if errors.Is(err, errRefused) && errors.As(err, &he) {
		c.setRefused(he.msg)
	}
}

func (c *Client) pullDone(err error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.st.PullError, c.st.LastPullError = shortErr(err), now
		return
	}
	c.st.PullError, c.st.LastPull = "", now
}

func (c *Client) pushDone(n int, err error) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.Uploaded += int64(n)
	if err != nil {
		c.st.PushError, c.st.LastPushError = shortErr(err), now
		return
	}
	c.st.PushError, c.st.LastPush = "", now
}

// shortErr keeps health reasons readable.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}

// refreshOutbox reads the outbox depth and raises the alarm (once a minute) over the limit.
func (c *Client) refreshOutbox(ctx context.Context) {
	depth, err := c.db.OutboxDepth(ctx)
	if err != nil {
		return
	}
	oldest, _, _ := c.db.OutboxOldest(ctx)
	q, _ := c.db.QuarantineCount(ctx)
	c.mu.Lock()
	c.st.OutboxDepth, c.st.OutboxOldest, c.st.Quarantined = depth, oldest, q
	alarm := depth >= c.st.OutboxLimit && c.clock.Since(c.lastAlarm) >= time.Minute
	if alarm {
		c.lastAlarm = c.clock.Now()
	}
	c.mu.Unlock()
	if alarm {
		c.log.Error("ALARM: the outbox holds more records than its limit; they are all kept, but uploads are not keeping up: check the network and the hub",
			"outbox_depth", depth, "limit", c.cfg.OutboxLimit, "oldest", oldest)
	}
}
