package device

import "time"

// HealthState is the coarse condition of a part.
type HealthState string

// Health states, from best to worst.
const (
	OK            HealthState = "ok"
	Degraded      HealthState = "degraded"
	Down          HealthState = "down"
	NotConfigured HealthState = "not_configured"
)

// Health is a part's condition with a reason a technician can act on ("down: port gone").
type Health struct {
	State  HealthState `json:"state"`
	Reason string      `json:"reason,omitempty"`
	Since  time.Time   `json:"since"`
}

// Healthy reports an OK health since t.
func Healthy(t time.Time) Health { return Health{State: OK, Since: t} }

func (h Health) String() string {
	if h.Reason == "" {
		return string(h.State)
	}
	return string(h.State) + ": " + h.Reason
}

// Score maps a state to a number for metrics: 1 ok, 0.5 degraded, 0 down, -1 not configured.
func (s HealthState) Score() float64 {
	switch s {
	case OK:
		return 1
	case Degraded:
		return 0.5
	case NotConfigured:
		return -1
	}
	return 0
}
