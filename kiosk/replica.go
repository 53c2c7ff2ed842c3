package kiosk

import (
	"context"
	"math"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/sync/store"
)

// StoreReplica reads the status replica kept in the local database.
type StoreReplica struct {
	Store *store.Store
	Clock clockwork.Clock
}

// Status looks up a person key.
func (r StoreReplica) Status(ctx context.Context, key []byte) (store.StatusRow, bool, error) {
	return r.Store.Status(ctx, key)
}

// Age is the time since the last verified head; "forever" when the replica was never synced.
func (r StoreReplica) Age(ctx context.Context) time.Duration {
	b, ok, err := r.Store.Meta(ctx, store.MetaReplicaIssuedAt)
	if err != nil || !ok {
		return time.Duration(math.MaxInt64)
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Duration(math.MaxInt64)
	}
	return r.Clock.Since(t)
}
