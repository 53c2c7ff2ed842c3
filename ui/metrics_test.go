package ui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"onepass/device"
	"onepass/kiosk"
	"onepass/kiosk/policy"
)

func TestMetrics(t *testing.T) {
	k := newFake(idleView())
	k.metrics = kiosk.Metrics{
		Lane:          `east "1"`,
		Passes:        map[policy.Outcome]uint64{policy.Pass: 7, policy.Deny: 2},
		LatencyCounts: []uint64{1, 2, 0, 3, 0, 0, 0, 0, 0, 0, 1}, // per bucket; the last is +Inf
		LatencySum:    3.0425,
		LatencyCount:  7,
		Health: map[string]device.Health{
			"reader": {State: device.OK}, "camera": {State: device.Degraded},
			"printer": {State: device.NotConfigured}, "store": {State: device.Down},
		},
		VisitsLogged: 9,
		LogFailures:  1,
	}
	ts := newTestServer(t, k, Options{})
	resp, body := get(t, ts.URL+"/metrics")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("status %d content type %q", resp.StatusCode, ct)
	}

	// Parse the exposition: every sample line is name{labels} value, and every family has HELP
	// and TYPE before its samples.
	sampleRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$`)
	types := map[string]string{}
	helps := map[string]bool{}
	samples := map[string]float64{}
	var order []string
	for _, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		if f, ok := strings.CutPrefix(line, "# HELP "); ok {
			helps[strings.Fields(f)[0]] = true
			continue
		}
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			p := strings.Fields(f)
			types[p[0]] = p[1]
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad line %q", line)
		}
		family := m[1]
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(family, suf); ok && types[b] == "histogram" {
				family = b
			}
		}
		if types[family] == "" || !helps[family] {
			t.Errorf("sample %q before its HELP and TYPE", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		key := m[1] + m[2]
		samples[key] = v
		order = append(order, key)
	}

	for name, typ := range map[string]string{
		"onepass_passes_total": "counter", "onepass_pass_latency_seconds": "histogram", "onepass_part_health": "gauge",
		"onepass_visits_logged_total": "counter", "onepass_visit_log_failures_total": "counter",
	} {
		if types[name] != typ {
			t.Errorf("TYPE %s = %q, want %s", name, types[name], typ)
		}
	}
	for key, want := range map[string]float64{
		`onepass_passes_total{lane="east \"1\"",outcome="PASS"}`:   7,
		`onepass_passes_total{lane="east \"1\"",outcome="DENY"}`:   2,
		`onepass_passes_total{lane="east \"1\"",outcome="MANUAL"}`: 0,
		`onepass_passes_total{lane="east \"1\"",outcome="RETRY"}`:  0,
		`onepass_pass_latency_seconds_sum`:                         3.0425,
		`onepass_pass_latency_seconds_count`:                       7,
		`onepass_part_health{part="reader"}`:                       1,
		`onepass_part_health{part="camera"}`:                       0.5,
		`onepass_part_health{part="store"}`:                        0,
		`onepass_part_health{part="printer"}`:                      -1,
		`onepass_visits_logged_total`:                              9,
		`onepass_visit_log_failures_total`:                         1,
	} {
		if got, ok := samples[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}

	// Buckets: one per LatencyBuckets bound plus +Inf, in order, cumulative.
	var les []string
	var counts []float64
	for _, key := range order {
		if le, ok := strings.CutPrefix(key, `onepass_pass_latency_seconds_bucket{le="`); ok {
			les = append(les, strings.TrimSuffix(le, `"}`))
			counts = append(counts, samples[key])
		}
	}
	want := []float64{1, 3, 3, 6, 6, 6, 6, 6, 6, 6, 7}
	if len(les) != len(kiosk.LatencyBuckets)+1 || les[0] != "0.001" || les[9] != "1" || les[10] != "+Inf" {
		t.Fatalf("bucket bounds %v", les)
	}
	for i := range want {
		if counts[i] != want[i] {
			t.Fatalf("cumulative buckets %v, want %v", counts, want)
		}
	}
}

// An empty snapshot (a lane that has not decided anything yet) is still a valid exposition.
func TestMetricsEmpty(t *testing.T) {
	ts := newTestServer(t, newFake(idleView()), Options{})
	_, body := get(t, ts.URL+"/metrics")
	for _, want := range []string{
		`onepass_passes_total{lane="",outcome="PASS"} 0`,
		`onepass_pass_latency_seconds_bucket{le="+Inf"} 0`,
		`onepass_pass_latency_seconds_count 0`,
		`onepass_visits_logged_total 0`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("missing %q in\n%s", want, body)
		}
	}
}
