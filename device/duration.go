package device

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a driver parameter written as a Go duration string ("1s", "250ms"), as the rest of
// the config file writes durations. Drivers use it in their config structs so that Params.Decode
// parses every duration once and names the key of one that does not parse. A parameter whose
// absence means something other than zero (a default that is not zero, or zero meaning "off")
// is a *Duration: nil when the key is absent.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts a duration string only (a bare number has no unit, so it is refused);
// null leaves the value as it was.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration: want a string like \"1s\" or \"250ms\"", b)
	}
	return d.UnmarshalText([]byte(s))
}

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"1s\" or \"250ms\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back in the same form.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Or is the duration, or def when the key was absent (d is nil).
func (d *Duration) Or(def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}
