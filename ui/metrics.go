package ui

import (
	"bufio"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"onepass/kiosk"
	"onepass/kiosk/policy"
)

// metrics writes the Prometheus text exposition format 0.0.4 by hand: a handful of series does
// not justify a client library and its dependencies on the device.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	b := bufio.NewWriter(w)
	writeMetrics(b, s.k.Metrics())
	if err := b.Flush(); err != nil {
		s.log.Debug("metrics: write", "err", err)
	}
}

// outcomes are always exported, even at zero, so that rate() works from the first scrape.
var outcomes = []policy.Outcome{policy.Pass, policy.Deny, policy.Manual, policy.Retry}

func writeMetrics(w *bufio.Writer, m kiosk.Metrics) {
	family := func(name, typ, help string) {
		w.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + typ + "\n")
	}
	sample := func(name, labels string, v float64) {
		w.WriteString(name)
		if labels != "" {
			w.WriteString("{" + labels + "}")
		}
		w.WriteString(" " + num(v) + "\n")
	}

	family("onepass_passes_total", "counter", "Passes decided, by outcome.")
	outs := slices.Clone(outcomes)
	for o := range m.Passes {
		if !slices.Contains(outs, o) && o != policy.Undecided {
			outs = append(outs, o)
		}
	}
	for _, o := range outs {
		sample("onepass_passes_total", label("lane", m.Lane)+","+label("outcome", string(o)), float64(m.Passes[o]))
	}

	const lat = "onepass_pass_latency_seconds"
	family(lat, "histogram", "Time from the input that completed a pass to the view that shows it.")
	var cum uint64
	for i, le := range kiosk.LatencyBuckets {
		if i < len(m.LatencyCounts) {
			cum += m.LatencyCounts[i]
		}
		sample(lat+"_bucket", label("le", num(le)), float64(cum))
	}
	for _, c := range m.LatencyCounts[min(len(kiosk.LatencyBuckets), len(m.LatencyCounts)):] {
		cum += c // the +Inf bucket (and any surplus, should the slice be longer)
	}
	sample(lat+"_bucket", label("le", "+Inf"), float64(cum))
	sample(lat+"_sum", "", m.LatencySum)
	sample(lat+"_count", "", float64(m.LatencyCount))

	family("onepass_part_health", "gauge", "Health of each part: 1 ok, 0.5 degraded, 0 down, -1 not configured.")
	for _, p := range slices.Sorted(maps.Keys(m.Health)) {
		sample("onepass_part_health", label("part", p), m.Health[p].State.Score())
	}

	family("onepass_visits_logged_total", "counter", "Visits committed to the local outbox.")
	sample("onepass_visits_logged_total", "", float64(m.VisitsLogged))
	family("onepass_visit_log_failures_total", "counter", "Visits that could not be committed to the local outbox.")
	sample("onepass_visit_log_failures_total", "", float64(m.LogFailures))
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func label(name, value string) string { return name + `="` + labelEscaper.Replace(value) + `"` }

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
