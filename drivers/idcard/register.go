package idcard

import (
	"context"

	"onepass/device"
)

func init() { device.RegisterCardReader("ga467", open) }

// params is the [reader] section for driver = "ga467".
type params struct {
	Port         string          `json:"port"`
	Baud         int             `json:"baud"`
	PollInterval device.Duration `json:"poll_interval"`
	Fingerprint  bool            `json:"fingerprint"`
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
