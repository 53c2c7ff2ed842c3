package dashboard

import (
	"context"
	"time"

	"onepass/sync/hub"
	"onepass/sync/wire"
)

// telemetryFleet seeds the fleet's telemetry for the tests until the hub stores the kiosks'
// reports (issue 17, branch i17a): it adds reports to what hub.Devices returns. When the hub
// has its own call to store a report, the tests call that instead and this file goes.
type telemetryFleet struct {
	h       *hub.Hub
	reports map[string]*wire.Telemetry
	at      time.Time
}

func (f *telemetryFleet) Devices(ctx context.Context) ([]hub.Device, error) {
	ds, err := f.h.Devices(ctx)
	for i := range ds {
		if t := f.reports[ds[i].ID]; t != nil {
			ds[i].Telemetry, ds[i].TelemetryAt = t, f.at
		}
	}
	return ds, err
}
