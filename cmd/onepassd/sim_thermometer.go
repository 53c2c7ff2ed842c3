package main

import (
	"context"

	"onepass/device"
	"onepass/drivers/sim"
)

// simThermometer gives --sim its thermometer: the in-memory part of the rig. It returns the part the lane uses and,
// where a protocol simulator stands behind a real driver, points the rig's commands at it.
func simThermometer(ctx context.Context, rig *sim.Rig) (device.Thermometer, error) {
	return rig.Thermometer, nil
}
