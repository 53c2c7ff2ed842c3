package main

import (
	"context"

	"onepass/device"
	"onepass/drivers/sim"
)

// simSignal gives --sim its signal: the in-memory part of the rig. It returns the part the lane uses and,
// where a protocol simulator stands behind a real driver, points the rig's commands at it.
func simSignal(ctx context.Context, rig *sim.Rig) (device.Signal, error) {
	return rig.Signal, nil
}
