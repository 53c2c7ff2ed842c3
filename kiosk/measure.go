package kiosk

import (
	"slices"

	"onepass/device"
	"onepass/kiosk/policy"
)

// MeasureConfig is how the lane turns a stream of thermometer readings into one temperature.
type MeasureConfig struct {
	PresenceDeltaC float64 // object − ambient at or above this means someone is in front
	MinObjectC     float64 // and the object must be at least this warm (a hot wall is not a person)
	Window         int     // this many consecutive readings …
	ToleranceC     float64 // … agreeing within this spread make a stable reading (their median)
	OffsetC        float64 // calibration offset added to the median (technician-set)
	RangeMinC      float64 // a stable reading outside [RangeMinC, RangeMaxC] is remeasured,
	RangeMaxC      float64 // never judged as a pass or a fever
}

// DefaultMeasure follows specs/thermometer.md §3.5 (presence at Tobj − Ta ≥ 2 °C and Tobj ≥ 28 °C;
// stable at max − min ≤ 0.3 °C; plausible body range 34–43 °C).
func DefaultMeasure() MeasureConfig {
	return MeasureConfig{PresenceDeltaC: 2, MinObjectC: 28, Window: 4, ToleranceC: 0.3, RangeMinC: 34, RangeMaxC: 43}
}

// measurer follows presence episodes (a person stepping in, staying, leaving) and finds one stable
// temperature per episode.
type measurer struct {
	cfg     MeasureConfig
	present bool
	episode int // increases when a person steps in
	gen     int // increases whenever a new stable reading is sought (new episode or restart)
	window  []float64
	stable  bool
	value   float64
}

// add feeds one reading and reports whether a stable reading appeared with it.
func (m *measurer) add(r device.TempReading) (stableNow bool) {
	present := r.ObjectC-r.AmbientC >= m.cfg.PresenceDeltaC && r.ObjectC >= m.cfg.MinObjectC
	if !present {
		m.present, m.stable, m.window = false, false, m.window[:0]
		return false
	}
	if !m.present {
		m.present, m.stable, m.window = true, false, m.window[:0]
		m.episode++
		m.gen++
	}
	if m.stable {
		return false
	}
	m.window = append(m.window, r.ObjectC)
	if len(m.window) > m.cfg.Window {
		m.window = m.window[1:]
	}
	if len(m.window) < m.cfg.Window {
		return false
	}
	lo, hi := slices.Min(m.window), slices.Max(m.window)
	if hi-lo > m.cfg.ToleranceC {
		return false
	}
	m.stable, m.value = true, median(m.window)+m.cfg.OffsetC
	return true
}

// restart forgets the stable reading of the current episode so a new pass measures afresh
// (the previous person may still stand in front while the next one shows a card).
func (m *measurer) restart() {
	m.stable, m.window = false, m.window[:0]
	m.gen++
}

// temp is the measurement as the policy sees it.
func (m *measurer) temp() policy.Temp {
	if !m.stable {
		return policy.Temp{State: policy.TempPending}
	}
	if m.value < m.cfg.RangeMinC || m.value > m.cfg.RangeMaxC {
		return policy.Temp{State: policy.TempOutOfRange, C: m.value}
	}
	return policy.Temp{State: policy.TempStable, C: m.value}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
