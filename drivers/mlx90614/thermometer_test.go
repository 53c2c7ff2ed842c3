package mlx90614

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/host/v3/fs"

	"onepass/device"
	"onepass/drivers/mlx90614/mlxsim"
)

const poll = 250 * time.Millisecond

type rig struct {
	t     *testing.T
	clock *clockwork.FakeClock
	sim   *mlxsim.Sensor
	th    *Thermometer
	opens int
	fail  error // what opening the bus returns while set
}

func newRig(t *testing.T, o mlxsim.Options) *rig {
	t.Helper()
	r := &rig{t: t, clock: clockwork.NewFakeClock()}
	o.Clock = r.clock
	r.sim = mlxsim.New(o)
	r.th = NewThermometer(Config{Bus: "/dev/i2c-1", Address: DefaultAddr}, ThermometerOptions{
		Clock: r.clock,
		Dev:   Opts{Sleep: r.clock.Advance},
		Open: func(bus string) (i2c.BusCloser, error) {
			r.opens++
			if r.fail != nil {
				return nil, r.fail
			}
			return r.sim, nil
		},
	})
	t.Cleanup(func() { r.th.Close() })
	return r
}

// read advances one poll interval and reads.
func (r *rig) read() (device.TempReading, error) {
	r.clock.Advance(poll)
	return r.th.Read(context.Background())
}

func (r *rig) mustRead() device.TempReading {
	r.t.Helper()
	v, err := r.read()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return v
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestPersonStepsInAndOut(t *testing.T) {
	r := newRig(t, mlxsim.Options{NoiseC: 0.1, Seed: 1})
	if v := r.mustRead(); !near(v.ObjectC, 25, 0.5) || !near(v.AmbientC, 25, 0.02) || v.Sensor != "mlx90614@/dev/i2c-1:0x5A" {
		t.Fatalf("empty lane: %+v", v)
	}
	r.sim.Person(36.6)
	var got []float64
	for range 12 { // 3 s
		got = append(got, r.mustRead().ObjectC)
	}
	// Two empty readings (the lane is empty when the person arrives), a rise, then the person.
	if !near(got[0], 25, 0.5) || got[2] < 30 || !near(got[len(got)-1], 36.6, 0.45) {
		t.Errorf("readings while stepping in: %.2f", got)
	}
	var sum float64
	for _, c := range got[6:] {
		sum += c
	}
	if mean := sum / 6; !near(mean, 36.6, 0.15) {
		t.Errorf("settled mean %.3f, want 36.6 ± noise", mean)
	}
	r.sim.Leave()
	for range 6 {
		r.mustRead()
	}
	if v := r.mustRead(); !near(v.ObjectC, 25, 0.5) {
		t.Errorf("after leaving: %.2f", v.ObjectC)
	}
	if h := r.th.Health(); h.State != device.OK {
		t.Errorf("health %s", h)
	}
	if st := r.th.Stats(); st.Transactions != 2*20 {
		t.Errorf("%d transactions for 20 readings: want 2 each on a clean bus", st.Transactions)
	}
}

func TestAmbient(t *testing.T) {
	for _, amb := range []float64{5, 12, 25, 34, 40} {
		r := newRig(t, mlxsim.Options{AmbientC: amb, GapReads: -1, Tau: -1})
		r.sim.Person(36.6)
		v := r.mustRead()
		if !near(v.AmbientC, amb, 0.02) || !near(v.ObjectC, 36.6, 0.02) {
			t.Errorf("room %g °C: read %+v", amb, v)
		}
	}
}

func TestHealthFollowsTheBus(t *testing.T) {
	r := newRig(t, mlxsim.Options{Ripple: []float64{0, 0.04, -0.04}})
	r.mustRead()
	if h := r.th.Health(); h.State != device.OK {
		t.Fatalf("start: %s", h)
	}

	// A flaky contact: retries hide it from the lane, Health does not.
	for range 3 {
		r.sim.Inject(mlxsim.BadPEC, 1)
		r.mustRead()
	}
	if h := r.th.Health(); h.State != device.Degraded || !strings.Contains(h.Reason, "PEC errors 3") {
		t.Errorf("after retried PEC errors: %s", h)
	}

	// The sensor stops answering: degraded at once, down after five failed reads, and the bus
	// is closed and reopened with backoff rather than hammered.
	r.sim.Inject(mlxsim.NACK, -1)
	_, err := r.read()
	if !errors.Is(err, mlxsim.ErrNACK) || r.th.Health().State != device.Degraded {
		t.Fatalf("first failed read: %v, %s", err, r.th.Health())
	}
	for range downAfter - 1 {
		r.read()
	}
	h := r.th.Health()
	if h.State != device.Down || !strings.Contains(h.Reason, "no valid reading in 5 tries") {
		t.Fatalf("after %d failed reads: %s", downAfter, h)
	}
	tx := r.sim.Transactions()
	opens := r.opens
	r.th.Read(context.Background()) // within the backoff: the bus is left alone
	if r.sim.Transactions() != tx || r.opens != opens {
		t.Errorf("read during backoff touched the bus")
	}

	// After the backoff the bus is reopened; the sensor still does not answer and stays down
	// (not "degraded": it has not given a reading since).
	r.clock.Advance(time.Second)
	if _, err := r.th.Read(context.Background()); err == nil || r.opens != opens+1 {
		t.Fatalf("reopen: %v (opens %d → %d)", err, opens, r.opens)
	}
	if h := r.th.Health(); h.State != device.Down || !strings.Contains(h.Reason, "no valid reading in 6 tries") {
		t.Fatalf("still unanswered after reopening: %s", h)
	}

	// Fixed: the next read succeeds.
	r.sim.Clear()
	if _, err := r.read(); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	for range healthWindow {
		r.mustRead()
	}
	if h := r.th.Health(); h.State != device.OK {
		t.Errorf("after %d clean reads: %s", healthWindow, h)
	}
}

func TestErrorFlagIsNotAReading(t *testing.T) {
	r := newRig(t, mlxsim.Options{Ripple: []float64{0, 0.04}})
	r.sim.Inject(mlxsim.ErrorFlag, 1)
	if _, err := r.read(); !errors.Is(err, ErrFlag) {
		t.Fatalf("flagged reading: %v", err)
	}
	if h := r.th.Health(); h.State != device.Degraded || !strings.Contains(h.Reason, "error flags 1") {
		t.Errorf("health %s", h)
	}
	if _, err := r.read(); err != nil {
		t.Errorf("next reading: %v", err)
	}
}

func TestStuckValues(t *testing.T) {
	r := newRig(t, mlxsim.Options{NoiseC: 0.1, Seed: 7})
	r.mustRead()
	r.sim.Stick(true)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		_, err = r.read()
	}
	// The reading taken before the freeze has the same words: it is the first of the forty.
	if !errors.Is(err, ErrStuck) || n != stuckAfter-1 {
		t.Fatalf("frozen sensor: %v after %d reads", err, n)
	}
	if h := r.th.Health(); h.State != device.Down || !strings.Contains(h.Reason, "frozen") {
		t.Errorf("health %s", h)
	}
	r.sim.Stick(false)
	if _, err := r.read(); err != nil || r.th.Health().State != device.OK {
		t.Errorf("unfrozen: %v, %s", err, r.th.Health())
	}
}

func TestMissingBusIsNotAnError(t *testing.T) {
	clock := clockwork.NewFakeClock()
	sim := mlxsim.New(mlxsim.Options{Clock: clock})
	present := false
	th := NewThermometer(Config{Bus: "/dev/i2c-1", Address: DefaultAddr}, ThermometerOptions{
		Clock: clock,
		Open: func(bus string) (i2c.BusCloser, error) {
			if !present {
				return nil, errors.New(`i2creg: can't open unknown bus: "/dev/i2c-1"`)
			}
			return sim, nil
		},
	})
	defer th.Close()
	if h := th.Health(); h.State != device.Down || !strings.Contains(h.Reason, "unknown bus") {
		t.Fatalf("health without a bus: %s", h)
	}
	if _, err := th.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "retrying in") {
		t.Fatalf("read without a bus: %v", err)
	}
	if err := th.SelfTest(context.Background()); err == nil {
		t.Error("self-test passed without a bus")
	}
	present = true
	clock.Advance(time.Second)
	if _, err := th.Read(context.Background()); err != nil {
		t.Fatalf("read once the bus is there: %v", err)
	}
	if err := th.SelfTest(context.Background()); err != nil {
		t.Errorf("self-test: %v", err)
	}
	if h := th.Health(); h.State != device.OK {
		t.Errorf("health %s", h)
	}
}

// The registered driver, opened by name as the daemon does, reaches the emulator through
// i2creg.Open, the same call that opens /dev/i2c-1 on a kiosk.
func TestRegisteredDriver(t *testing.T) {
	sim := mlxsim.New(mlxsim.Options{AmbientC: 22})
	unregister, err := sim.Register("mlxsim-driver-test")
	if err != nil {
		t.Fatal(err)
	}
	defer unregister()
	ctx := context.Background()
	th, err := device.OpenThermometer(ctx, "mlx90614", device.Params{"bus": "mlxsim-driver-test", "address": int64(0x5A)})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	v, err := th.Read(ctx)
	if err != nil || !near(v.AmbientC, 22, 0.02) {
		t.Fatalf("read %+v, %v", v, err)
	}

	tests := []struct {
		params device.Params
		err    string // "" = opens (perhaps down)
	}{
		{device.Params{}, ""}, // /dev/i2c-1 at 0x5A; down on a machine without it
		{device.Params{"bus": "mlxsim-driver-test", "address": "0x5A"}, ""},
		{device.Params{"address": 0x80}, "7-bit"},
		{device.Params{"address": 0}, "0x01…0x7F"},
		{device.Params{"address": "fifty"}, "7-bit address"},
		{device.Params{"address": 90.5}, "integer"},
		{device.Params{"bus": ""}, "bus: must not be empty"},
		{device.Params{"bsu": "/dev/i2c-0"}, `unknown key "bsu"`},
	}
	for _, tt := range tests {
		th, err := device.OpenThermometer(ctx, "mlx90614", tt.params)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%v: %v", tt.params, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%v: error %v, want %q", tt.params, err, tt.err)
		}
		if err == nil {
			th.Close()
		}
	}
}

// TestMain keeps the tests off real hardware: with file I/O inhibited, periph's host drivers
// cannot open a /dev/i2c-N even on a kiosk.
func TestMain(m *testing.M) {
	fs.Inhibit()
	os.Exit(m.Run())
}

// FuzzAddress parses config values: an accepted address is a 7-bit one and prints back as itself.
func FuzzAddress(f *testing.F) {
	for _, s := range []string{`90`, `"0x5A"`, `"0x5a"`, `"90"`, `0`, `127`, `128`, `-1`, `90.5`, `"fifty"`, `null`, `1e2`, `"0o132"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Address
		if err := a.UnmarshalJSON(b); err != nil {
			return
		}
		if a > 0x7F {
			t.Fatalf("%s parsed as %d", b, a)
		}
		var back Address
		if err := back.Set(a.String()); err != nil || back != a {
			t.Fatalf("%s → %s → %v, %v", b, a, back, err)
		}
	})
}
