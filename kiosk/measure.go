package kiosk

import (
	"slices"
	"time"

	"onepass/device"
	"onepass/kiosk/policy"
)

// MeasureConfig is how the lane turns a stream of thermometer readings into one body temperature.
//
// Each reading is first corrected by the technician's calibration (OffsetC, against a reference
// source), then converted from forehead skin to body temperature with the heat-balance model
//
//	T_body = T_skin + K·(T_skin − T_amb) + CompensationOffsetC
//
// (skin loses heat to the room in proportion to the skin–room difference; the blood under it is
// warmer by that loss). The median of a stable window of body estimates is the measurement.
// The tags are the keys of onepassd's [measure] section, which decodes straight into this type.
type MeasureConfig struct {
	PresenceDeltaC float64       `toml:"presence_delta_c"` // object − ambient at or above this means someone is in front
	MinObjectC     float64       `toml:"min_object_c"`     // and the object must be at least this warm (a hot wall is not a person)
	Settle         time.Duration `toml:"settle"`           // readings this soon after a person appears are not used
	Window         int           `toml:"window"`           // this many consecutive readings …
	ToleranceC     float64       `toml:"tolerance_c"`      // … whose body estimates agree within this spread make a stable reading (their median)
	// Estimate is how a stable window becomes the value: "median" (robust to one odd reading) or
	// "mean" (for Gaussian noise as good as a median of 1.6× as many readings; the window's
	// tolerance already rejects odd readings). "" means "median".
	Estimate string `toml:"estimate"`

	OffsetC             float64 `toml:"offset_c"`              // calibration offset added to the sensor's object reading (technician-set)
	CompensationK       float64 `toml:"compensation_k"`        // K above: the site's skin-to-body heat-balance weight
	CompensationOffsetC float64 `toml:"compensation_offset_c"` // added after the heat-balance correction (the site's clinical calibration)
	AmbientOffsetC      float64 `toml:"ambient_offset_c"`      // added to the sensor's die temperature to estimate the room temperature

	AmbientMinC float64 `toml:"ambient_min_c"` // a reading taken in a room outside [AmbientMinC, AmbientMaxC] is remeasured
	AmbientMaxC float64 `toml:"ambient_max_c"`
	RangeMinC   float64 `toml:"range_min_c"` // a body estimate outside [RangeMinC, RangeMaxC] (rounded to 0.1 °C; the
	RangeMaxC   float64 `toml:"range_max_c"` // edges are inside) is remeasured, never judged as a pass or a fever

	// FaultGrace is how long a part a pass depends on (thermometer, reader, camera) may be down
	// before the lane stops asking people to use it and sends them to the staff lane instead: a
	// short glitch (a reconnect) should not turn everyone away.
	FaultGrace time.Duration `toml:"fault_grace"`
}

// DefaultCompensationK is the heat-balance weight h/(ρc) that Exergen's temporal-artery patent
// gives for the forehead at its minimum, "about 0.19" (US 7,787,938, claims 4–6; the axillary
// patent US 6,056,435 uses 0.13). At 25 °C it maps a forehead reading of 34.75 °C to 36.6 °C. It
// is a starting point from a published model, not a calibration of our optics: every site sets
// compensation_offset_c (and, with enough data, compensation_k) from reference measurements
// (README, "Calibrating the thermometer").
const DefaultCompensationK = 0.19

// DefaultMeasure follows specs/thermometer.md §3.5 for presence (Tobj − Ta ≥ 2 °C and Tobj ≥ 28 °C),
// a room of 10…40 °C (the medical accuracy box is 16…40 °C; colder halls still read, with the
// standard accuracy) and a plausible body range of 34–43 °C. The stability rule stays the
// datasheet's: readings of the first 0.65 s skipped (the settling time of the DCH/DCI parts at
// their factory filter), then the median of four within 0.3 °C. A faster profile (the sensor's
// filter at IIR off/FIR 1024, settle 150 ms, the mean of six within 0.7 °C, 150 ms poll) is
// measured in docs/thermometer.md §5 but not the default: it reads a head still arriving, and in
// --sim showed 36.6 °C as 36.5 every time, a bias that lets 37.3 pass as 37.2.
func DefaultMeasure() MeasureConfig {
	return MeasureConfig{
		PresenceDeltaC: 2, MinObjectC: 28, Settle: 650 * time.Millisecond, Window: 4, ToleranceC: 0.3,
		CompensationK: DefaultCompensationK, AmbientMinC: 10, AmbientMaxC: 40, RangeMinC: 34, RangeMaxC: 43,
		FaultGrace: 10 * time.Second,
	}
}

// Body is the body-temperature estimate for one reading.
func (m MeasureConfig) Body(objectC, ambientC float64) float64 {
	skin, room := objectC+m.OffsetC, ambientC+m.AmbientOffsetC
	return skin + m.CompensationK*(skin-room) + m.CompensationOffsetC
}

// ObjectFor inverts Body: the object reading a sensor reporting ambientC gives for a person whose
// body temperature is bodyC. The simulator uses it to put a person of a given temperature in front
// of the emulated sensor.
func (m MeasureConfig) ObjectFor(bodyC, ambientC float64) float64 {
	room := ambientC + m.AmbientOffsetC
	skin := (bodyC - m.CompensationOffsetC + m.CompensationK*room) / (1 + m.CompensationK)
	return skin - m.OffsetC
}

// measurer follows presence episodes (a person stepping in, staying, leaving) and finds one stable
// temperature per episode.
type measurer struct {
	cfg     MeasureConfig
	present bool
	since   time.Time // when the person appeared
	episode int       // increases when a person steps in
	gen     int       // increases whenever a new stable reading is sought (new episode or restart)
	window  []float64 // body estimates
	ambient []float64 // room estimates of the same readings
	stable  bool
	value   float64 // the body temperature
	room    float64 // the room temperature it was taken at
}

// add feeds one reading taken at `at` and reports whether a stable reading appeared with it.
func (m *measurer) add(at time.Time, r device.TempReading) (stableNow bool) {
	present := r.ObjectC-r.AmbientC >= m.cfg.PresenceDeltaC && r.ObjectC >= m.cfg.MinObjectC
	if !present {
		m.present, m.stable = false, false
		m.clearWindow()
		return false
	}
	if !m.present {
		m.present, m.stable, m.since = true, false, at
		m.clearWindow()
		m.episode++
		m.gen++
	}
	if m.stable || at.Sub(m.since) < m.cfg.Settle {
		return false
	}
	m.window = append(m.window, m.cfg.Body(r.ObjectC, r.AmbientC))
	m.ambient = append(m.ambient, r.AmbientC+m.cfg.AmbientOffsetC)
	if len(m.window) > m.cfg.Window {
		m.window, m.ambient = m.window[1:], m.ambient[1:]
	}
	if len(m.window) < m.cfg.Window {
		return false
	}
	lo, hi := slices.Min(m.window), slices.Max(m.window)
	if hi-lo > m.cfg.ToleranceC {
		return false
	}
	m.stable, m.value, m.room = true, median(m.window), median(m.ambient)
	if m.cfg.Estimate == "mean" {
		m.value = mean(m.window)
	}
	return true
}

func (m *measurer) clearWindow() { m.window, m.ambient = m.window[:0], m.ambient[:0] }

// restart forgets the stable reading of the current episode so a new pass measures afresh
// (the previous person may still stand in front while the next one shows a card).
func (m *measurer) restart() {
	m.stable = false
	m.clearWindow()
	m.gen++
}

// temp is the measurement as the policy sees it: rounded to 0.1 °C once (policy.StableTemp),
// the value that is then decided on, shown and stored.
func (m *measurer) temp() policy.Temp {
	if !m.stable {
		return policy.Temp{State: policy.TempPending}
	}
	t := policy.StableTemp(m.value, m.cfg.RangeMinC, m.cfg.RangeMaxC)
	if m.room < m.cfg.AmbientMinC || m.room > m.cfg.AmbientMaxC {
		t.State = policy.TempOutOfRange
	}
	return t
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
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
