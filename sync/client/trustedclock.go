package client

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"onepass/sync/store"
)

// MetaReader reads what sync recorded in the store's meta table (sync/store.Store).
type MetaReader interface {
	Meta(ctx context.Context, key string) (value []byte, ok bool, err error)
}

// TrustedClock is what sync learned about time, for judging validity times without trusting the
// device clock alone. Its fields fit kiosk/healthcode.TrustedTime (sync does not import kiosk;
// the daemon's assembly joins the two).
type TrustedClock struct {
	// Skew is device minus platform as last measured against the hub; measured is false
	// before the first measurement.
	Skew func(ctx context.Context) (skew time.Duration, measured bool, err error)
	// Floors are signed times already seen (the hub's time floor, the replica's issue time): the
	// true time is not before them, whatever the device clock says.
	Floors []func(ctx context.Context) (time.Time, error)
}

// StoredClock reads the trusted clock from the meta keys the client writes (store.MetaClockSkew,
// store.MetaTimeFloor, store.MetaReplicaIssuedAt). Every call reads the store afresh, so a sync
// that ran since is seen at once.
func StoredClock(db MetaReader) TrustedClock {
	skew := func(ctx context.Context) (time.Duration, bool, error) {
		v, ok, err := db.Meta(ctx, store.MetaClockSkew)
		if err != nil || !ok {
			return 0, false, err
		}
		ms, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %q is not milliseconds", store.MetaClockSkew, v)
		}
		// The store holds hub minus kiosk; a skew here is device minus platform.
		return -time.Duration(ms) * time.Millisecond, true, nil
	}
	floor := func(key string) func(context.Context) (time.Time, error) {
		return func(ctx context.Context) (time.Time, error) {
			v, ok, err := db.Meta(ctx, key)
			if err != nil || !ok {
				return time.Time{}, err
			}
			at, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: %q is not a time", key, v)
			}
			return at, nil
		}
	}
	return TrustedClock{Skew: skew, Floors: []func(context.Context) (time.Time, error){
		floor(store.MetaTimeFloor), floor(store.MetaReplicaIssuedAt)}}
}
