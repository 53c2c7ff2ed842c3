package main

import (
	"context"

	"onepass/device"
	"onepass/drivers/sim"
)

// simReader gives --sim its reader: the in-memory part of the rig. It returns the part the lane uses and,
// where a protocol simulator stands behind a real driver, points the rig's commands at it.
func simReader(ctx context.Context, rig *sim.Rig) (device.CardReader, error) {
	return rig.Reader, nil
}
