package sim

import (
	"context"
	"time"

	"onepass/device"
)

// stepGap is how many readings show an empty lane between two people, so the kiosk sees the
// previous person leave, as a real sensor would.
const stepGap = 2

// noise is a small, deterministic ripple on the object reading: the kiosk's stability check sees
// realistic jitter and still settles on the set value as the median.
var noise = [...]float64{0, 0.05, -0.05, 0.02, -0.02}

// Thermometer simulates an IR sensor: ambient air, and a forehead when someone steps in.
type Thermometer struct {
	part
	ambient float64
	present bool
	objectC float64
	gap     int // empty readings still to give before the new person appears
	n       int
}

// NewThermometer returns a sensor in a 25 °C room with nobody in front.
func NewThermometer() *Thermometer { return &Thermometer{part: newPart(), ambient: 25} }

// Person makes a new person with forehead temperature c step in front (after the previous one left).
func (t *Thermometer) Person(c float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.present, t.objectC, t.gap = true, c, stepGap
}

// Leave empties the lane.
func (t *Thermometer) Leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.present = false
}

// SetAmbient changes the room temperature.
func (t *Thermometer) SetAmbient(c float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ambient = c
}

// Read returns the current reading.
func (t *Thermometer) Read(ctx context.Context) (device.TempReading, error) {
	if err := ctx.Err(); err != nil {
		return device.TempReading{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := device.TempReading{ObjectC: t.ambient, AmbientC: t.ambient, At: time.Now(), Sensor: "sim"}
	switch {
	case !t.present:
	case t.gap > 0:
		t.gap--
	default:
		r.ObjectC = t.objectC + noise[t.n%len(noise)]
		t.n++
	}
	return r, nil
}
