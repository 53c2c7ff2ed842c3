package client

import "time"

// HealthState is the sync part's coarse condition. The values are the strings the rest of the
// kiosk uses for a part's health (device.HealthState), so the daemon maps them one to one and
// the JSON of Status stays what it was.
type HealthState string

// Health states of the sync part, from best to worst.
const (
	OK       HealthState = "ok"
	Degraded HealthState = "degraded"
	Down     HealthState = "down"
)

// Health is the sync part's condition with a reason a technician can act on.
type Health struct {
	State  HealthState `json:"state"`
	Reason string      `json:"reason,omitempty"`
	Since  time.Time   `json:"since"`
}

func (h Health) String() string {
	if h.Reason == "" {
		return string(h.State)
	}
	return string(h.State) + ": " + h.Reason
}
