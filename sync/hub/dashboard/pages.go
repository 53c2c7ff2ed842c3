package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"onepass/sync/hub"
)

func tf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// outcomes in the order the pages show them.
var outcomes = []string{"PASS", "DENY", "MANUAL", "RETRY"}

type fleetData struct {
	Rows          []kioskView
	Total         int
	Attention     int
	OnlyAttention bool
	Push          time.Duration
}

func (d *Dashboard) fleet(w http.ResponseWriter, r *http.Request, s *hub.OperatorSession) {
	v := d.view(w, r, "fleet", s)
	ds, err := d.h.Devices(r.Context())
	if err != nil {
		d.o.Logger.Warn("dashboard: fleet", "err", err)
		v.Error = v.T["error"]
		d.render(w, http.StatusServiceUnavailable, "fleet", v)
		return
	}
	only := r.URL.Query().Get("attention") == "1"
	rows, attention := fleetView(ds, d.o.Now(), d.o.PushInterval, d.o.MaxSkew, only)
	v.Data = fleetData{Rows: rows, Total: len(ds), Attention: attention, OnlyAttention: only, Push: d.o.PushInterval}
	if d.o.FleetRefresh > 0 {
		v.Refresh = int(d.o.FleetRefresh / time.Second)
	}
	d.render(w, http.StatusOK, "fleet", v)
}

// dayOf is the day a ?day=YYYY-MM-DD names in the halls' time zone (today by default) and the
// next day's start.
func (d *Dashboard) dayOf(r *http.Request) (from, to time.Time, s string) {
	now := d.o.Now().In(d.o.Location)
	from = time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, d.o.Location)
	if t, err := time.ParseInLocation(time.DateOnly, r.URL.Query().Get("day"), d.o.Location); err == nil {
		from = t
	}
	return from, from.AddDate(0, 0, 1), from.Format(time.DateOnly)
}

type share struct {
	Outcome string
	Count   int
}

type hallsData struct {
	Halls   []string
	Hall    string
	Day     string
	D       hub.HallDay
	Shares  []share
	Hourly  string // JSON for the chart
	Labels  string
	Shares4 string
	// OutcomeLabels names the outcomes in the page's language, for the chart.
	OutcomeLabels string
	Override      int
}

func (d *Dashboard) halls(w http.ResponseWriter, r *http.Request, s *hub.OperatorSession) {
	v := d.view(w, r, "halls", s)
	from, to, day := d.dayOf(r)
	data := hallsData{Day: day}
	v.Data = &data
	halls, err := d.h.Halls(r.Context())
	if err == nil {
		data.Halls = halls
		data.Hall = r.URL.Query().Get("hall")
		if !slices.Contains(halls, data.Hall) && len(halls) > 0 {
			data.Hall = halls[0]
		}
		if data.Hall != "" {
			data.D, err = d.h.HallDay(r.Context(), data.Hall, from, to)
		}
	}
	if err != nil {
		d.o.Logger.Warn("dashboard: halls", "err", err)
		v.Error = v.T["error"]
		d.render(w, http.StatusServiceUnavailable, "halls", v)
		return
	}
	labels := make([]string, 24)
	for i := range labels {
		labels[i] = strconv.Itoa(i)
	}
	counts := make([]int, 0, len(outcomes))
	var names []string
	for _, o := range outcomes {
		names = append(names, v.T[o])
		data.Shares = append(data.Shares, share{o, data.D.Outcomes[o]})
		counts = append(counts, data.D.Outcomes[o])
	}
	for _, n := range data.D.Overrides {
		data.Override += n
	}
	data.Hourly, data.Labels, data.Shares4, data.OutcomeLabels = jsonOf(data.D.Hourly), jsonOf(labels), jsonOf(counts), jsonOf(names)
	d.render(w, http.StatusOK, "halls", v)
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v) // slices and arrays of numbers and strings: cannot fail
	return string(b)
}

type auditData struct {
	Halls   []string
	Hall    string
	Day     string
	Entries []hub.AuditEntry
	More    bool
	Max     int
}

func (d *Dashboard) audit(w http.ResponseWriter, r *http.Request, s *hub.OperatorSession) {
	v := d.view(w, r, "audit", s)
	from, to, day := d.dayOf(r)
	data := auditData{Day: day}
	v.Data = &data
	halls, err := d.h.Halls(r.Context())
	if err == nil {
		data.Halls = halls
		if h := r.URL.Query().Get("hall"); slices.Contains(halls, h) {
			data.Hall = h
		}
		data.Entries, data.More, err = d.h.Audit(r.Context(), data.Hall, from, to)
		data.Max = len(data.Entries)
	}
	if err != nil {
		d.o.Logger.Warn("dashboard: audit", "err", err)
		v.Error = v.T["error"]
		d.render(w, http.StatusServiceUnavailable, "audit", v)
		return
	}
	d.render(w, http.StatusOK, "audit", v)
}
