package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/kiosk"
	"onepass/kiosk/identity"
	"onepass/kiosk/policy"
	"onepass/sync/store"
)

// runSimPlatform stands in for the platform in --sim until the embedded hub exists: it keeps the
// status replica fresh, as verified heads from a real hub would.
func runSimPlatform(ctx context.Context, db *store.Store, clock clockwork.Clock, logger *slog.Logger) error {
	mark := func() {
		now := clock.Now().UTC().Format(time.RFC3339Nano)
		if err := db.SetMeta(ctx, store.MetaReplicaIssuedAt, []byte(now)); err != nil && ctx.Err() == nil {
			logger.Warn("sim platform: cannot mark the replica fresh", "err", err)
		}
	}
	mark()
	t := clock.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.Chan():
			mark()
		}
	}
}

// SimStatusRequest is the body of POST /api/sim/status: the simulated platform sets a person's
// status colour (the replica stores only the person key).
type SimStatusRequest struct {
	ID     string `json:"id"`
	Type   int    `json:"type,omitempty"` // certificate type, default 10 (resident card)
	Status string `json:"status"`         // green, yellow, red, unknown (removes the row)
}

var statusNames = map[string]policy.Status{"green": policy.StatusGreen, "yellow": policy.StatusYellow, "red": policy.StatusRed, "unknown": policy.StatusUnknown}

func simStatusHandler(db *store.Store, keys kiosk.Keys, clock clockwork.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req SimStatusRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := setSimStatus(r.Context(), db, keys, clock.Now(), req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func setSimStatus(ctx context.Context, db *store.Store, keys kiosk.Keys, now time.Time, req SimStatusRequest) error {
	st, ok := statusNames[req.Status]
	if !ok {
		return fmt.Errorf("status %q: want green, yellow, red or unknown", req.Status)
	}
	if keys.Deployment == nil {
		return errors.New("no deployment key: cannot key the replica")
	}
	ct := identity.CertType(req.Type)
	if ct == 0 {
		ct = identity.CertResident
	}
	n, err := identity.Parse(req.ID, now)
	if err != nil {
		return fmt.Errorf("id: %w", err)
	}
	key := identity.PersonKey(keys.Deployment, ct, string(n))
	if st == policy.StatusUnknown {
		return db.DeleteStatus(ctx, key)
	}
	return db.PutStatus(ctx, store.StatusRow{PersonKey: key, Status: int(st), AsOf: now, Expires: now.Add(24 * time.Hour), Reason: "sim"})
}
