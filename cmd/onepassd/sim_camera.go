package main

import (
	"context"

	"onepass/device"
	"onepass/drivers/sim"
)

// simCamera gives --sim its camera: the in-memory part of the rig. It returns the part the lane uses and,
// where a protocol simulator stands behind a real driver, points the rig's commands at it.
func simCamera(ctx context.Context, rig *sim.Rig) (device.CodeScanner, error) {
	return rig.Scanner, nil
}
