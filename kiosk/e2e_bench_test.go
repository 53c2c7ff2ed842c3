package kiosk

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"

	"onepass/drivers/idcard"
	"onepass/drivers/idcard/idcardsim"
	"onepass/drivers/mlx90614"
	"onepass/drivers/mlx90614/mlxsim"
)

// BenchmarkCardAndPersonToResult is a citizen's whole time at the lane, at real timing: the card
// is placed and the person steps in front at the same moment, at a random point of both poll
// cycles, and the clock stops when the result View (showing) comes out of the running lane. The
// parts are the real ones: the ga467 driver at its default poll on a pseudo-terminal to the reader
// simulator paced at 115200 baud (118 ms of wire per read), the mlx90614 driver on the emulated
// bus with the sensor's filter model on the real clock (a result every 145 ms, 0.1 °C rms at the
// factory filter, the head arriving in 50 ms), the lane's state machine and policy, and the
// durable visit append to a real SQLite file. "default" is the daemon's defaults; "fast" the
// opt-in fast profile (docs/thermometer.md §5: IIR bypassed, 150 ms poll, mean of 6, trend 0.15);
// "0.8s" the fastest unbiased rule (settle 0, mean of 4 within 1 °C, trend 0.3). Reports p50-ms
// and p90-ms (wall time), and err-°C, the mean |shown − true| after rounding.
//
//	go test -run '^$' -bench CardAndPersonToResult -benchtime 20x ./kiosk/
func BenchmarkCardAndPersonToResult(b *testing.B) {
	quick := fastProfile(0)
	quick.cfg.Settle, quick.cfg.Window, quick.cfg.ToleranceC, quick.cfg.TrendC = 0, 4, 1.0, 0.3
	for _, bc := range []struct {
		name string
		p    profile
	}{
		{"default", profile{cfg: DefaultMeasure(), poll: DefaultConfig().PollEvery}},
		{"fast", fastProfile(0)},
		{"0.8s", quick},
	} {
		b.Run(bc.name, func(b *testing.B) { benchLane(b, bc.p) })
	}
}

func benchLane(b *testing.B, p profile) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.DiscardHandler)

	reader := idcardsim.New(idcardsim.Options{Paced: true})
	pty, err := reader.OpenPTY()
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	rd, err := idcard.Open(ctx, idcard.Options{Port: pty.Path(), Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()

	sensor := mlxsim.New(mlxsim.Options{NoiseC: 0.1, Seed: 42, Filter: true, GapReads: -1, Skin: p.cfg.ObjectFor})
	th := mlx90614.NewThermometer(mlx90614.Config{Bus: "sim", Address: mlx90614.DefaultAddr, IIR: p.iir, FIR: p.fir},
		mlx90614.ThermometerOptions{Logger: quiet, Open: func(string) (i2c.BusCloser, error) { return sensor, nil }})
	defer th.Close()
	if _, err := th.Read(ctx); err != nil { // opens the driver, which writes the filter if asked
		b.Fatal(err)
	}
	sensor.PowerCycle() // the new filter applies, as after the kiosk's reboot

	cfg := DefaultConfig()
	cfg.Policy.AbsentStatus = "green"
	cfg.Measure, cfg.PollEvery = p.cfg, p.poll
	cfg.ShowFor = 300 * time.Millisecond // only to get to the next citizen sooner
	o := benchOptions(ctx, b)
	o.Logger = quiet
	lane := New(cfg, Parts{Reader: rd, Thermometer: th}, o)
	views := lane.Subscribe(ctx)
	go lane.Run(ctx)

	waitFor := func(what string, pred func(View) bool) View {
		timeout := time.After(15 * time.Second)
		for {
			select {
			case v := <-views:
				if pred(v) {
					return v
				}
			case <-timeout:
				b.Fatalf("no %s view in 15 s", what)
			}
		}
	}
	card := idcardsim.CardRequest{ID: goodID, Name: "张三"}.Card(time.Now())
	const body = 36.6
	var took []time.Duration
	var errSum float64
	for b.Loop() {
		b.StopTimer()
		// The previous citizen takes the card and leaves; the lane shows idle and the sensor has
		// seen the empty lane for a while.
		reader.Remove()
		sensor.Leave()
		for deadline := time.Now().Add(15 * time.Second); lane.View().State != PhaseIdle; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("not idle in 15 s: %+v", lane.View())
			}
		}
		time.Sleep(time.Second + rand.N(250*time.Millisecond))
		for len(views) > 0 {
			<-views // the earlier citizen's views
		}
		b.StartTimer()
		t0 := time.Now()
		reader.Place(card)
		sensor.Person(body)
		v := waitFor("showing", func(v View) bool { return v.State == PhaseShowing })
		took = append(took, time.Since(t0))
		if v.TempC == nil {
			b.Fatalf("result without a temperature: %+v", v)
		}
		errSum += abs(*v.TempC - body)
	}
	slices.Sort(took)
	n := len(took)
	b.ReportMetric(float64(took[n/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[n*9/10].Microseconds())/1000, "p90-ms")
	b.ReportMetric(errSum/float64(n), "err-°C")
	if m := lane.Metrics(); m.VisitsLogged < uint64(n) {
		b.Fatalf("logged %d visits for %d passes", m.VisitsLogged, n)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
