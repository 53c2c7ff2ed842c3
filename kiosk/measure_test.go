package kiosk

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"

	"onepass/device"
	"onepass/drivers/mlx90614"
	"onepass/drivers/mlx90614/mlxsim"
	"onepass/kiosk/policy"
)

func TestCompensation(t *testing.T) {
	def := DefaultMeasure()
	cal := def
	cal.OffsetC = 0.2 // the sensor reads a reference source 0.2 °C low
	site := def
	site.CompensationOffsetC = -0.3 // the site's people measure 0.3 °C lower on the clinical thermometer
	room := def
	room.AmbientOffsetC = -3 // the sensor's can sits 3 °C above the room
	noK := def
	noK.CompensationK = 0
	tests := []struct {
		name        string
		cfg         MeasureConfig
		object, amb float64
		want        float64
	}{
		{"default, 25 °C room", def, 34.748, 25, 36.6},
		{"default, forehead as warm as the body", def, 37, 25, 39.28},
		{"default, cold room", def, 33.0, 12, 36.99},
		{"default, hot room", def, 35.85, 32, 36.58},
		{"calibration offset", cal, 34.548, 25, 36.6},
		{"site offset", site, 34.748, 25, 36.3},
		{"room below the sensor", room, 34.748, 25, 37.17},
		{"no compensation", noK, 36.6, 25, 36.6},
	}
	for _, tt := range tests {
		got := tt.cfg.Body(tt.object, tt.amb)
		if math.Abs(got-tt.want) > 0.005 {
			t.Errorf("%s: Body(%g, %g) = %.3f, want %.2f", tt.name, tt.object, tt.amb, got, tt.want)
		}
		if back := tt.cfg.ObjectFor(got, tt.amb); math.Abs(back-tt.object) > 1e-9 {
			t.Errorf("%s: ObjectFor(%.3f) = %.4f, want %g", tt.name, got, back, tt.object)
		}
	}
}

// feed gives the measurer one reading per poll interval and returns how many readings it took to
// become stable (0: never).
func feed(m *measurer, start time.Time, readings ...device.TempReading) int {
	for i, r := range readings {
		if m.add(start.Add(time.Duration(i)*250*time.Millisecond), r) {
			return i + 1
		}
	}
	return 0
}

// fourRule is the rule of the first release (650 ms settle, the median of four within 0.3 °C):
// the mechanics tests below count readings against it.
func fourRule() MeasureConfig {
	cfg := DefaultMeasure()
	cfg.Settle, cfg.Window, cfg.ToleranceC, cfg.Estimate = 650*time.Millisecond, 4, 0.3, "median"
	return cfg
}

// The mean of the window, rounded once; the median of the same window differs.
func TestMeasurerMean(t *testing.T) {
	for _, tt := range []struct {
		estimate string
		want     float64
	}{{"mean", 36.8}, {"median", 36.6}, {"", 36.6}} {
		cfg := fourRule()
		cfg.Settle, cfg.Estimate, cfg.ToleranceC = 0, tt.estimate, 1
		m := &measurer{cfg: cfg}
		var readings []device.TempReading
		for _, body := range []float64{36.55, 36.6, 36.62, 37.4} { // mean 36.79, median 36.61
			readings = append(readings, device.TempReading{ObjectC: cfg.ObjectFor(body, 25), AmbientC: 25})
		}
		if n := feed(m, time.Unix(0, 0), readings...); n != 4 || m.temp().C != tt.want {
			t.Errorf("estimate %q: stable at %d with %+v, want 4 with %.1f", tt.estimate, n, m.temp(), tt.want)
		}
	}
}

func TestMeasurer(t *testing.T) {
	cfg := fourRule()
	at := func(body, amb float64) device.TempReading {
		return device.TempReading{ObjectC: cfg.ObjectFor(body, amb), AmbientC: amb}
	}
	empty := device.TempReading{ObjectC: 25.1, AmbientC: 25}
	rep := func(r device.TempReading, n int) []device.TempReading {
		out := make([]device.TempReading, n)
		for i := range out {
			out[i] = r
		}
		return out
	}
	tests := []struct {
		name     string
		readings []device.TempReading
		stableAt int // reading number that completes the measurement; 0 = never
		want     policy.Temp
	}{
		{"empty lane", rep(empty, 20), 0, policy.Temp{State: policy.TempPending}},
		{"hot wall, not a person", rep(device.TempReading{ObjectC: 27.5, AmbientC: 22}, 20), 0, policy.Temp{State: policy.TempPending}},
		// Three readings within the 0.65 s settling time are skipped, then a window of four.
		{"steady person", rep(at(36.6, 25), 10), 7, policy.Temp{State: policy.TempStable, C: 36.6}},
		{"fever", rep(at(38.1, 25), 10), 7, policy.Temp{State: policy.TempStable, C: 38.1}},
		{"noisy within tolerance", []device.TempReading{at(30, 25), at(33, 25), at(35, 25), at(36.5, 25), at(36.7, 25), at(36.6, 25), at(36.75, 25)}, 7,
			policy.Temp{State: policy.TempStable, C: 36.7}}, // the median 36.65, rounded once
		{"never steady", []device.TempReading{at(36, 25), at(36, 25), at(36, 25), at(36.8, 25), at(36, 25), at(36.8, 25), at(36, 25), at(36.8, 25)}, 0,
			policy.Temp{State: policy.TempPending}},
		{"too cold to be a body", rep(at(33, 25), 8), 7, policy.Temp{State: policy.TempOutOfRange, C: 33}},
		{"too hot to be a body", rep(at(43.5, 25), 8), 7, policy.Temp{State: policy.TempOutOfRange, C: 43.5}},
		{"room too cold for the sensor", rep(at(36.6, 5), 8), 7, policy.Temp{State: policy.TempOutOfRange, C: 36.6}},
		{"leaves before stable", append(rep(at(36.6, 25), 4), rep(empty, 4)...), 0, policy.Temp{State: policy.TempPending}},
	}
	for _, tt := range tests {
		m := &measurer{cfg: cfg}
		n := feed(m, time.Unix(0, 0), tt.readings...)
		got := m.temp() // rounded to 0.1 °C by the measurer itself
		if n != tt.stableAt || got != tt.want {
			t.Errorf("%s: stable at reading %d with %+v; want %d with %+v", tt.name, n, got, tt.stableAt, tt.want)
		}
	}
}

func TestMeasurerEpisodes(t *testing.T) {
	cfg := DefaultMeasure()
	m := &measurer{cfg: cfg}
	p := device.TempReading{ObjectC: cfg.ObjectFor(36.6, 25), AmbientC: 25}
	t0 := time.Unix(0, 0)
	feed(m, t0, p, p, p, p, p, p, p)
	if !m.stable || m.episode != 1 {
		t.Fatalf("first person: stable %v, episode %d", m.stable, m.episode)
	}
	// Staying in front does not start a new episode or a new measurement.
	if m.add(t0.Add(2*time.Second), p) || m.episode != 1 {
		t.Error("a second stable reading for the same person")
	}
	m.add(t0.Add(3*time.Second), device.TempReading{ObjectC: 25, AmbientC: 25})
	if m.present || m.stable {
		t.Error("still present after leaving")
	}
	if n := feed(m, t0.Add(4*time.Second), p, p, p, p, p, p, p); n != 7 || m.episode != 2 || m.gen != 2 {
		t.Errorf("second person: stable at %d, episode %d, gen %d", n, m.episode, m.gen)
	}
}

// emulated runs the real driver over the emulated sensor on a fake clock.
type emulated struct {
	clock *clockwork.FakeClock
	sim   *mlxsim.Sensor
	th    *mlx90614.Thermometer
	poll  time.Duration
}

func newEmulated(tb testing.TB, cfg MeasureConfig, o mlxsim.Options) *emulated {
	e := &emulated{clock: clockwork.NewFakeClock(), poll: 250 * time.Millisecond}
	o.Clock, o.Skin = e.clock, cfg.ObjectFor
	e.sim = mlxsim.New(o)
	e.th = mlx90614.NewThermometer(mlx90614.Config{Bus: "sim", Address: mlx90614.DefaultAddr}, mlx90614.ThermometerOptions{
		Clock: e.clock, Dev: mlx90614.Opts{Sleep: e.clock.Advance},
		Open: func(string) (i2c.BusCloser, error) { return e.sim, nil },
	})
	tb.Cleanup(func() { e.th.Close() })
	return e
}

// newEmulatedFilter is newEmulated with the driver setting the sensor's filter (iir, fir; 0, 0
// leaves it) and the sensor power-cycled so the setting applies, as after the kiosk's reboot.
func newEmulatedFilter(tb testing.TB, cfg MeasureConfig, o mlxsim.Options, iir float64, fir int) *emulated {
	e := &emulated{clock: clockwork.NewFakeClock(), poll: 250 * time.Millisecond}
	o.Clock, o.Skin = e.clock, cfg.ObjectFor
	e.sim = mlxsim.New(o)
	e.th = mlx90614.NewThermometer(mlx90614.Config{Bus: "sim", Address: mlx90614.DefaultAddr, IIR: iir, FIR: fir}, mlx90614.ThermometerOptions{
		Clock: e.clock, Dev: mlx90614.Opts{Sleep: e.clock.Advance}, Logger: slog.New(slog.DiscardHandler),
		Open: func(string) (i2c.BusCloser, error) { return e.sim, nil },
	})
	e.sim.PowerCycle()
	tb.Cleanup(func() { e.th.Close() })
	return e
}

// measure polls until the measurer is stable or maxReads readings passed. It returns the readings
// taken from the first one that saw the person to the stable one (0 if never stable).
func (e *emulated) measure(tb testing.TB, m *measurer, maxReads int) int {
	firstPresent := -1
	for i := range maxReads {
		e.clock.Advance(e.poll)
		r, err := e.th.Read(context.Background())
		if err != nil {
			tb.Fatalf("read %d: %v", i, err)
		}
		stable := m.add(e.clock.Now(), r)
		if m.present && firstPresent < 0 {
			firstPresent = i
		}
		if stable {
			return i - firstPresent + 1
		}
	}
	return 0
}

// The real driver over the emulated sensor with datasheet noise (0.1 °C rms), people of known body
// temperature stepping in and out in cold, normal and hot rooms.
func TestMeasurementThroughTheDriver(t *testing.T) {
	tests := []struct {
		name    string
		ambient float64
		body    float64
		want    policy.TempState
	}{
		{"normal, 25 °C", 25, 36.6, policy.TempStable},
		{"fever, 25 °C", 25, 38.1, policy.TempStable},
		{"low normal, 22 °C", 22, 36.2, policy.TempStable},
		{"cold hall, 12 °C", 12, 36.6, policy.TempStable},
		{"fever, cold hall", 12, 38.1, policy.TempStable},
		{"hot hall, 31 °C", 31, 36.6, policy.TempStable},
		{"fever, hot hall", 31, 38.1, policy.TempStable},
		{"unheated hall, 5 °C: out of the sensor's conditions", 5, 36.6, policy.TempOutOfRange},
		{"hypothermic", 25, 33, policy.TempOutOfRange},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultMeasure()
			e := newEmulated(t, cfg, mlxsim.Options{AmbientC: tt.ambient, NoiseC: 0.1, Seed: uint64(i + 1)})
			m := &measurer{cfg: cfg}
			if n := e.measure(t, m, 8); n != 0 || m.present {
				t.Fatalf("a reading without anybody in front (%d)", n)
			}
			for person := range 3 { // several people in a row, each stepping in and out
				e.sim.Person(tt.body)
				n := e.measure(t, m, 40)
				got := m.temp()
				if n == 0 || got.State != tt.want || math.Abs(got.C-tt.body) > 0.25 {
					t.Fatalf("person %d: %+v after %d readings, want state %v near %.1f", person, got, n, tt.want, tt.body)
				}
				if tt.want == policy.TempStable && (got.C >= policy.Default().FeverC) != (tt.body >= 37.3) {
					t.Errorf("person %d at %.1f judged %.2f", person, tt.body, got.C)
				}
				e.sim.Leave()
				for range 4 {
					e.clock.Advance(e.poll)
					r, _ := e.th.Read(context.Background())
					m.add(e.clock.Now(), r)
				}
				if m.present {
					t.Fatalf("person %d still present after leaving", person)
				}
			}
		})
	}
}

// The daemon's defaults end to end: the driver sets the sensor's filter (IIR bypassed), the
// emulated part converts every 145 ms with the datasheet's noise, the lane polls every 150 ms.
// Several people in a row are measured within 0.25 °C.
func TestMeasurementWithTheSensorFilter(t *testing.T) {
	cfg := DefaultMeasure()
	for i, body := range []float64{36.6, 37.8, 36.2, 37.4} {
		e := newEmulatedFilter(t, cfg, mlxsim.Options{NoiseC: 0.1, Seed: uint64(10 + i), Filter: true}, mlx90614.DefaultIIR, mlx90614.DefaultFIR)
		e.poll = DefaultConfig().PollEvery
		m := &measurer{cfg: cfg}
		for person := range 3 {
			e.sim.Person(body)
			n := e.measure(t, m, 40)
			got := m.temp()
			if n == 0 || got.State != policy.TempStable || math.Abs(got.C-body) > 0.25 {
				t.Fatalf("body %.1f, person %d: %+v after %d readings", body, person, got, n)
			}
			e.sim.Leave()
			for range 4 {
				e.clock.Advance(e.poll)
				r, _ := e.th.Read(context.Background())
				m.add(e.clock.Now(), r)
			}
		}
	}
}

// Above about 34 °C the forehead is barely warmer than the room: the presence rule (object ≥ room
// + 2 °C) no longer sees anyone, so no reading is taken and the pass times out to RETRY (manual
// measurement), never a guess.
func TestTooHotToSeeAPerson(t *testing.T) {
	cfg := DefaultMeasure()
	e := newEmulated(t, cfg, mlxsim.Options{AmbientC: 36, NoiseC: 0.1, Seed: 3})
	m := &measurer{cfg: cfg}
	e.sim.Person(36.6)
	if n := e.measure(t, m, 40); n != 0 || m.present {
		t.Errorf("a measurement in a 36 °C room: %+v after %d readings", m.temp(), n)
	}
}
