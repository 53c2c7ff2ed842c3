package mlx90614

import (
	"context"
	"testing"

	"github.com/jonboulle/clockwork"
	"periph.io/x/conn/v3/i2c"

	"onepass/drivers/mlx90614/mlxsim"
)

// BenchmarkRead is one Thermometer.Read (Ta and Tobj1, PEC-checked) over the emulated bus: the
// driver's own cost per reading, and the transactions it puts on the bus.
func BenchmarkRead(b *testing.B) {
	for _, bc := range []struct {
		name  string
		fault mlxsim.Fault
	}{{"clean", 0}, {"every-read-one-bad-PEC", mlxsim.BadPEC}} {
		b.Run(bc.name, func(b *testing.B) {
			clock := clockwork.NewFakeClock()
			sim := mlxsim.New(mlxsim.Options{Clock: clock, NoiseC: 0.1, Seed: 1})
			th := NewThermometer(Config{Bus: "sim", Address: DefaultAddr}, ThermometerOptions{
				Clock: clock, Dev: Opts{Sleep: clock.Advance},
				Open: func(string) (i2c.BusCloser, error) { return sim, nil },
			})
			defer th.Close()
			ctx := context.Background()
			reads := 0
			for b.Loop() {
				if bc.fault != 0 {
					sim.Inject(bc.fault, 1)
				}
				if _, err := th.Read(ctx); err != nil {
					b.Fatal(err)
				}
				reads++
			}
			b.ReportMetric(float64(th.Stats().Transactions)/float64(reads), "tx/read")
		})
	}
}
