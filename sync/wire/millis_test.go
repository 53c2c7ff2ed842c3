package wire

import (
	"testing"
	"time"
)

func TestUnixMS(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    time.Time
		ms   int64
	}{
		{"zero time is 0", time.Time{}, 0},
		{"epoch plus one ms", time.UnixMilli(1).UTC(), 1},
		{"before 1970", time.UnixMilli(-1500).UTC(), -1500},
		{"a day in 2025", time.Date(2025, 3, 1, 8, 30, 0, 0, time.UTC), 1740817800000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := UnixMS(tc.t); got != tc.ms {
				t.Errorf("UnixMS(%v) = %d, want %d", tc.t, got, tc.ms)
			}
			if got := FromUnixMS(tc.ms); !got.Equal(tc.t) || got.Location() != time.UTC {
				t.Errorf("FromUnixMS(%d) = %v, want %v in UTC", tc.ms, got, tc.t)
			}
		})
	}
	// Sub-millisecond parts are cut, and any zone comes back as UTC.
	in := time.Date(2025, 3, 1, 16, 30, 0, 999_999, time.FixedZone("CST", 8*3600))
	if got := FromUnixMS(UnixMS(in)); !got.Equal(in.Truncate(time.Millisecond)) || got.Location() != time.UTC {
		t.Errorf("round trip of %v = %v", in, got)
	}
}
