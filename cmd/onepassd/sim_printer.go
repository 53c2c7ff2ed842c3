package main

import (
	"context"

	"onepass/device"
	"onepass/drivers/sim"
)

// simPrinter gives --sim its printer: the in-memory part of the rig. It returns the part the lane uses and,
// where a protocol simulator stands behind a real driver, points the rig's commands at it.
func simPrinter(ctx context.Context, rig *sim.Rig) (device.TicketPrinter, error) {
	return rig.Printer, nil
}
