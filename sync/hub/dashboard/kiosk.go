package dashboard

import (
	"net/http"
	"slices"
	"sort"
	"time"

	"onepass/sync/hub"
	"onepass/sync/wire"
)

// historyWindow is how far back the kiosk page looks in the device's telemetry history.
const historyWindow = 24 * time.Hour

// change is one entry of a kiosk's timeline: a part's state (or the paper) as first reported or
// as changed from one kept report to the next.
type change struct {
	At       time.Time // the report's time, on the kiosk's clock
	Part     string    // "" for the paper
	From, To string    // From "" for the first report in the window
	Reason   string
	Colour   string
}

type kioskData struct {
	K       kioskView
	Found   bool
	T       *wire.Telemetry // the latest report; nil before the first
	At      time.Time       // when the hub received it
	Uptime  time.Duration
	Oldest  time.Time
	Changes []change // newest first
	Reports int      // history entries in the window
	Labels  string   // JSON for the outbox chart: the reports' times
	Depths  string   // JSON: outbox depth of each report
}

// timeline turns the kept reports (oldest first) into the part-state changes.
func timeline(hist []wire.Telemetry) []change {
	var out []change
	parts := map[string]string{}
	paper := ""
	for i, t := range hist {
		ps := slices.Clone(t.Parts)
		sort.Slice(ps, func(a, b int) bool { return ps[a].Part < ps[b].Part })
		for _, p := range ps {
			prev, seen := parts[p.Part]
			if i > 0 && seen && prev == p.State {
				continue
			}
			out = append(out, change{At: t.At, Part: p.Part, From: prev, To: p.State, Reason: p.Reason, Colour: partColour(p.State)})
			parts[p.Part] = p.State
		}
		if i == 0 || t.Paper != paper {
			c := change{At: t.At, From: paper, To: t.Paper, Colour: green}
			switch t.Paper {
			case "out":
				c.Colour = red
			case "low":
				c.Colour = amber
			case "unknown", "none":
				c.Colour = grey
			}
			out = append(out, c)
			paper = t.Paper
		}
	}
	// Newest first; within a report, parts by name and the paper last.
	slices.SortStableFunc(out, func(a, b change) int { return b.At.Compare(a.At) })
	return out
}

func (d *Dashboard) kiosk(w http.ResponseWriter, r *http.Request, s *hub.OperatorSession) {
	v := d.view(w, r, "kiosk", s)
	id := r.URL.Query().Get("id")
	data := kioskData{K: kioskView{ID: id}}
	v.Data = &data
	ds, err := d.h.Devices(r.Context())
	var hist []wire.Telemetry
	if err == nil {
		for _, dev := range ds {
			if dev.ID != id {
				continue
			}
			data.Found = true
			now := d.o.Now()
			data.K = assess(dev, now, d.o.PushInterval, d.o.MaxSkew)
			data.T, data.At = dev.Telemetry, dev.TelemetryAt
			hist, err = d.h.TelemetryHistory(r.Context(), id, now.Add(-historyWindow))
			break
		}
	}
	if err != nil {
		d.o.Logger.Warn("dashboard: kiosk", "device", id, "err", err)
		v.Error = v.T["error"]
		d.render(w, http.StatusServiceUnavailable, "kiosk", v)
		return
	}
	if !data.Found {
		d.render(w, http.StatusNotFound, "kiosk", v)
		return
	}
	if t := data.T; t != nil {
		data.Uptime = time.Duration(t.UptimeS) * time.Second
		if t.OutboxDepth > 0 {
			data.Oldest = t.OutboxOldest
		}
	}
	data.Changes, data.Reports = timeline(hist), len(hist)
	labels, depths := make([]string, 0, len(hist)), make([]int64, 0, len(hist))
	for _, t := range hist {
		labels = append(labels, t.At.In(d.o.Location).Format("15:04"))
		depths = append(depths, t.OutboxDepth)
	}
	data.Labels, data.Depths = jsonOf(labels), jsonOf(depths)
	d.render(w, http.StatusOK, "kiosk", v)
}
