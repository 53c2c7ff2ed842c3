package wire

import "time"

// Telemetry is a kiosk's report of its own state. It travels with the pushes (Upload.Telemetry,
// POST /v1/visits), so a kiosk needs no extra connection to be watched; the hub keeps the latest
// report per device and a short history for the operators' dashboard.
type Telemetry struct {
	At           time.Time     `json:"at"`                     // when the kiosk took the report, on its clock
	Version      string        `json:"version"`                // the daemon's version string
	UptimeS      int64         `json:"uptime_s"`               // seconds since the daemon started
	Parts        []PartHealth  `json:"parts"`                  // every configured part
	OutboxDepth  int64         `json:"outbox_depth"`           // records waiting for upload
	OutboxOldest time.Time     `json:"outbox_oldest,omitzero"` // the oldest waiting record's time
	ReplicaAgeS  int64         `json:"replica_age_s"`          // age of the status replica; -1 when none yet
	ClockSkewMs  int64         `json:"clock_skew_ms"`          // kiosk clock minus hub clock, last measured
	SkewKnown    bool          `json:"skew_known"`             // the kiosk has measured its skew: clock_skew_ms 0 means none
	Paper        string        `json:"paper"`                  // printer paper: ok, low, out, unknown or none (no printer)
	Queues       []QueueLength `json:"queues,omitempty"`       // waiting tickets per service, today
}

// PartHealth is one part's health as device.Health reports it: state ok, degraded, down,
// not_configured (or unused: configured, broken, and not needed for a pass).
type PartHealth struct {
	Part   string    `json:"part"`
	State  string    `json:"state"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
}

// SkewMeasured reports whether the report's clock_skew_ms is a measurement: skew_known, or a
// skew other than 0 from a kiosk older than skew_known (only a measurement sets one).
func (t Telemetry) SkewMeasured() bool { return t.SkewKnown || t.ClockSkewMs != 0 }

// QueueLength is how many tickets of one service wait to be called.
type QueueLength struct {
	Service string `json:"service"`
	Waiting int    `json:"waiting"`
}
