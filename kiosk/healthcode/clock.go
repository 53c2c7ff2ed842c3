package healthcode

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrTimeUntrusted is returned when the device clock cannot be trusted to judge validity.
var ErrTimeUntrusted = errors.New("time untrusted")

// Clock gives the verifier the time to judge validity by.
type Clock interface {
	// Now returns the trusted time, or an error wrapping ErrTimeUntrusted.
	Now(ctx context.Context) (time.Time, error)
}

// DefaultMaxSkew is how far the device clock may be from the platform's. Phone codes live minutes,
// so the tolerance is minutes (specs/sync-protocol.md, "Freshness and time").
const DefaultMaxSkew = 2 * time.Minute

// TrustedTime is the device clock checked against signed times, never the device clock alone:
//   - Skew, when sync has measured it, is the device clock minus the platform's; beyond MaxSkew the
//     device clock is not trusted; within it the time is corrected by it;
//   - Floors are signed times already seen (the trust list's and the status head's issued_at): a
//     time well before one of them means the clock was set back, and is not trusted.
type TrustedTime struct {
	Device  func() time.Time
	Skew    func(ctx context.Context) (skew time.Duration, measured bool, err error)
	Floors  []func(ctx context.Context) (time.Time, error)
	MaxSkew time.Duration
}

// Now implements Clock.
func (t TrustedTime) Now(ctx context.Context) (time.Time, error) {
	now := time.Now()
	if t.Device != nil {
		now = t.Device()
	}
	maxSkew := t.MaxSkew
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	if t.Skew != nil {
		skew, ok, err := t.Skew(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: clock skew unknown: %v", ErrTimeUntrusted, err)
		}
		if ok {
			if skew > maxSkew || skew < -maxSkew {
				return time.Time{}, fmt.Errorf("%w: the device clock is %s off the platform's (limit %s)", ErrTimeUntrusted, skew.Round(time.Second), maxSkew)
			}
			now = now.Add(-skew)
		}
	}
	for _, f := range t.Floors {
		floor, err := f(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %v", ErrTimeUntrusted, err)
		}
		if now.Before(floor.Add(-maxSkew)) {
			return time.Time{}, fmt.Errorf("%w: the device clock (%s) is before a signed time already seen (%s)", ErrTimeUntrusted, now.UTC().Format(time.RFC3339), floor.UTC().Format(time.RFC3339))
		}
		if now.Before(floor) {
			now = floor
		}
	}
	return now, nil
}
