package client

import (
	"errors"
	"net/http"
	"time"
)

// Hub replicas ([sync] hubs): several `onepass-hub serve` processes over one database, so any of
// them answers any kiosk the same way. Requests go to the current replica, the first (preferred)
// one until it fails; a connection error or a 5xx hands the same request to the next replica at
// once, and the one that answers becomes current. After MaxBackoff on another replica the next
// request tries the preferred one again, so kiosks drift back once it is repaired. Re-sending an
// upload whose answer was lost to another replica is safe: the hub accepts an exact re-push.

// replica is one hub URL with its own HTTP client: the TLS check names the replica's host, so
// each needs its own configuration (the identity and pinned root are the same for all).
type replica struct {
	base string
	http *http.Client
}

func newReplica(base string, cfg Config, id *deviceIdentity) replica {
	tr := &http.Transport{
		TLSClientConfig:       pinnedTLS(base, cfg.Root, id.chain, &id.cert),
		ResponseHeaderTimeout: cfg.Timeout,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   2,
		ForceAttemptHTTP2:     true,
	}
	return replica{base: base, http: &http.Client{Transport: tr, Timeout: cfg.Timeout}}
}

// hubList is the replicas to use, preferred first: hubs when given, else hub, else the URL
// saved at enrollment (whichever replica the kiosk enrolled at).
func hubList(enrolled, hub string, hubs []string) ([]string, error) {
	if hub != "" && len(hubs) > 0 {
		return nil, errors.New("sync: both a hub and a list of hubs are configured: set one ([sync] hub or hubs)")
	}
	switch {
	case len(hubs) > 0:
	case hub != "":
		hubs = []string{hub}
	default:
		hubs = []string{enrolled}
	}
	out := make([]string, 0, len(hubs))
	seen := map[string]bool{}
	for _, h := range hubs {
		base, err := baseURL(h)
		if err != nil {
			return nil, err
		}
		if seen[base] {
			return nil, errors.New("sync: hub " + base + " is listed twice")
		}
		seen[base] = true
		out = append(out, base)
	}
	return out, nil
}

// unreachableError marks a failure of the connection (refused, reset, timed out, cut short):
// another replica may well answer.
type unreachableError struct{ err error }

func (e *unreachableError) Error() string { return e.err.Error() }
func (e *unreachableError) Unwrap() error { return e.err }

// failover reports whether err is worth the next replica: the replica was unreachable or
// answered 5xx. A 4xx or a bad signature would be the same at every replica.
func failover(err error) bool {
	var ue *unreachableError
	if errors.As(err, &ue) {
		return true
	}
	var he *httpStatusError
	return errors.As(err, &he) && he.code >= 500
}

// pick is the replica a request starts at. After MaxBackoff away from the preferred replica it is
// the preferred one again; the clock restarts then, so a still-broken preferred replica costs one
// failed attempt per MaxBackoff, not one per request.
func (c *Client) pick() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != 0 && c.clock.Since(c.curSince) >= c.cfg.MaxBackoff {
		c.curSince = c.clock.Now()
		return 0
	}
	return c.cur
}

// served records that replica n answered (ok: with 200); why is the failure that made the
// client leave the replica it started at, if any.
func (c *Client) served(n int, ok bool, why error) {
	c.mu.Lock()
	from := c.cur
	if n != from {
		c.cur, c.curSince = n, c.clock.Now()
	}
	if ok {
		c.st.LastHub = c.replicas[n].base
	}
	c.mu.Unlock()
	switch {
	case n == from:
	case n == 0:
		c.log.Info("sync: back on the preferred hub replica", "hub", c.replicas[0].base, "from", c.replicas[from].base)
	default:
		c.log.Warn("sync: hub replica failed; using another", "hub", c.replicas[n].base, "from", c.replicas[from].base, "err", why)
	}
}
