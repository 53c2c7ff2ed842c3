package kiosk

import (
	"sync"
	"time"

	"onepass/device"
	"onepass/kiosk/policy"
)

// LatencyBuckets are the upper bounds (seconds) of the decision latency histogram: the time from
// the input that completed a pass (card, code or stable temperature) to the View that shows it.
var LatencyBuckets = []float64{0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// Metrics is a snapshot of the lane's counters, rendered by the UI as Prometheus text.
type Metrics struct {
	Lane          string
	Passes        map[policy.Outcome]uint64
	LatencyCounts []uint64 // per bucket of LatencyBuckets, not cumulative; last entry is +Inf
	LatencySum    float64  // seconds
	LatencyCount  uint64
	Health        map[string]device.Health
	VisitsLogged  uint64
	LogFailures   uint64
}

type counters struct {
	mu            sync.Mutex
	passes        map[policy.Outcome]uint64
	latencyCounts []uint64
	latencySum    float64
	latencyCount  uint64
	visitsLogged  uint64
	logFailures   uint64
}

func newCounters() *counters {
	return &counters{passes: map[policy.Outcome]uint64{}, latencyCounts: make([]uint64, len(LatencyBuckets)+1)}
}

func (c *counters) observe(o policy.Outcome, latency time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passes[o]++
	s := latency.Seconds()
	i := 0
	for i < len(LatencyBuckets) && s > LatencyBuckets[i] {
		i++
	}
	c.latencyCounts[i]++
	c.latencySum += s
	c.latencyCount++
}

func (c *counters) logged(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.visitsLogged++
	} else {
		c.logFailures++
	}
}

func (c *counters) snapshot() Metrics {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := Metrics{
		Passes:        make(map[policy.Outcome]uint64, len(c.passes)),
		LatencyCounts: append([]uint64(nil), c.latencyCounts...),
		LatencySum:    c.latencySum,
		LatencyCount:  c.latencyCount,
		VisitsLogged:  c.visitsLogged,
		LogFailures:   c.logFailures,
	}
	for k, v := range c.passes {
		m.Passes[k] = v
	}
	return m
}
