package policy

import "math"

// RoundC rounds a temperature to the 0.1 °C the screen shows, halves away from zero (37.25 → 37.3). Every
// temperature is rounded once, by this, before anything is decided: the value decided on is the
// value shown, stored and uploaded, so 37.29 (shown 37.3) is a fever as 37.3 is.
func RoundC(c float64) float64 {
	if math.IsNaN(c) || math.IsInf(c, 0) {
		return c
	}
	// First to whole micro-degrees, so a decimal half that binary cannot hold exactly (37.15 is
	// 37.14999…) still rounds up as it reads.
	micro := math.Round(c * 1e6)
	return math.Round(micro/1e5) / 10
}

// StableTemp is a stable reading as the policy judges it: rounded once (RoundC), then inside the
// plausible body range [minC, maxC], edges included (43.0 °C is a fever, not a remeasure), or
// out of range. An out-of-range reading keeps its rounded value for the log line only: it is no
// body temperature, so the lane neither shows nor stores it.
func StableTemp(c, minC, maxC float64) Temp {
	r := RoundC(c)
	if !(r >= RoundC(minC) && r <= RoundC(maxC)) { // NaN is out of range too
		return Temp{State: TempOutOfRange, C: r}
	}
	return Temp{State: TempStable, C: r}
}
