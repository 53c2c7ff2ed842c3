package ui

import (
	"context"
	"net/http"

	"onepass/device"
	"onepass/ui/api"
)

// Status is the body of GET /api/status: what a technician asks first (`onepassctl status`).
// The daemon fills in what only it knows through Options.Status; the server adds the lane's
// state, the parts' health and the overall health (the same judgement as /healthz). The type
// lives in ui/api with the rest of the local API.
type Status = api.Status

// StatusFunc reports the daemon's side of Status (version, start time, database figures).
type StatusFunc func(ctx context.Context) Status

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.o.Status(r.Context())
	v := s.k.View()
	st.Lane, st.State, st.Parts = v.Lane, string(v.State), v.Health
	if st.Parts == nil {
		st.Parts = map[string]device.Health{}
	}
	st.Health, _ = overall(st.Parts)
	writeJSON(w, http.StatusOK, st)
}

// overall is the kiosk's health from its parts: "down" (503) only when the store is down, since
// without it no visit can be logged and nobody may pass; any other fault degrades the kiosk but
// it still works (staff lane, the other identification method). Unconfigured parts do not count.
func overall(parts map[string]device.Health) (string, int) {
	status := "ok"
	for _, p := range parts {
		if p.State == device.Degraded || p.State == device.Down {
			status = "degraded"
		}
	}
	if parts["store"].State == device.Down {
		return "down", http.StatusServiceUnavailable
	}
	return status, http.StatusOK
}
