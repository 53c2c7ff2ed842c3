package main

// SimStatusRequest is the body of POST /api/sim/status: in --sim, the embedded hub sets a person's
// status (stored as person key and sealed ID, like the real platform) and the kiosk pulls it
// through a signed delta before the request returns (see sync.go).
type SimStatusRequest struct {
	ID     string `json:"id"`
	Type   int    `json:"type,omitempty"` // certificate type, default 10 (resident card)
	Status string `json:"status"`         // green, yellow, red, unknown (removes the person)
}
