package wire

import "time"

// UnixMS is t in unix milliseconds, the protocol's and both databases' time encoding; the zero
// time is 0 ("none", as in an expiry that never comes).
func UnixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromUnixMS is the inverse of UnixMS: 0 is the zero time, anything else a UTC time.
func FromUnixMS(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
