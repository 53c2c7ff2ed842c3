package idcard

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"onepass/device"
)

func init() { device.RegisterCardReader("ga467", open) }

// params is the [reader] section for driver = "ga467".
type params struct {
	Port         string   `json:"port"`
	Baud         int      `json:"baud"`
	PollInterval duration `json:"poll_interval"`
	Fingerprint  bool     `json:"fingerprint"`
}

// duration reads "200ms" style strings, as the rest of the config file writes durations.
type duration struct{ time.Duration }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration like \"200ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"200ms\"", s)
	}
	d.Duration = v
	return nil
}

func open(ctx context.Context, p device.Params) (device.CardReader, error) {
	var c params
	if err := p.Decode(&c); err != nil {
		return nil, err
	}
	r, err := Open(ctx, Options{Port: c.Port, Baud: c.Baud, PollInterval: c.PollInterval.Duration, Fingerprint: c.Fingerprint})
	if err != nil {
		return nil, err // not a typed nil: the daemon checks the part against nil
	}
	return r, nil
}
