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

// Age is the time since the last verified head (store.ReplicaFreshness, as sync/client reports
// it); "forever" when the replica was never synced.
func (r StoreReplica) Age(ctx context.Context) time.Duration {
	t, ok, err := r.Store.ReplicaFreshness(ctx)
	if err != nil || !ok {
		return time.Duration(math.MaxInt64)
	}
	return r.Clock.Since(t)
}
