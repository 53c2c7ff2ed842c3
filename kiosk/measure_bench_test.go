package kiosk

import (
	"context"
	"math"
	"testing"

	"onepass/drivers/mlx90614/mlxsim"
)

// BenchmarkMeasurement is one person measured end to end through the real mlx90614 driver over
// the emulated sensor: the person steps in (the sensor's reading rising with a 150 ms time
// constant, 0.1 °C rms thermopile noise as in the datasheet's DCH/DCI rows), the lane polls every
// 250 ms of simulated time until the measurement is stable, then the person leaves. Reported:
//
//   - ns/op: wall time of one measurement with the emulated bus (the CPU cost of our code),
//   - tx/measurement: bus transactions from the person appearing to the stable reading,
//   - reads/measurement and sim-ms/measurement: readings from the first one that sees the person
//     to the stable one, and that count × the poll interval: the time a citizen stands there,
//   - abs-err-°C: mean |measured − true body temperature|.
func BenchmarkMeasurement(b *testing.B) {
	cfg := DefaultMeasure()
	e := newEmulated(b, cfg, mlxsim.Options{NoiseC: 0.1, Seed: 42})
	m := &measurer{cfg: cfg}
	var reads, tx, n int
	var absErr float64
	for b.Loop() {
		e.sim.Person(36.6)
		// The two empty readings between people are the simulator's; they are not counted.
		for range 2 {
			e.clock.Advance(e.poll)
			r, _ := e.th.Read(context.Background())
			m.add(e.clock.Now(), r)
		}
		before := e.th.Stats().Transactions
		k := e.measure(b, m, 100)
		if k == 0 {
			b.Fatal("no stable reading in 100 readings")
		}
		reads += k
		tx += int(e.th.Stats().Transactions - before)
		absErr += math.Abs(m.value - 36.6)
		n++
		e.sim.Leave()
		for range 3 {
			e.clock.Advance(e.poll)
			r, _ := e.th.Read(context.Background())
			m.add(e.clock.Now(), r)
		}
	}
	b.ReportMetric(float64(tx)/float64(n), "tx/measurement")
	b.ReportMetric(float64(reads)/float64(n), "reads/measurement")
	b.ReportMetric(float64(reads)/float64(n)*float64(e.poll.Milliseconds()), "sim-ms/measurement")
	b.ReportMetric(absErr/float64(n), "abs-err-°C")
}
