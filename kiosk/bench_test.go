package kiosk

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"onepass/device"
	"onepass/drivers/idcard/idcardsim"
	"onepass/identity"
	"onepass/sync/store"
)

// benchOptions is what a benchmarked lane logs to and decides with: a real SQLite file (closed
// when the benchmark ends) with a fresh, empty replica, a sealer and a deployment key.
func benchOptions(ctx context.Context, b *testing.B) Options {
	b.Helper()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "onepass.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	_, pub, _ := identity.NewPlatformKey()
	sealer, _ := identity.NewSealer(pub)
	db.SetMeta(ctx, store.MetaReplicaIssuedAt, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	return Options{Log: db, Replica: StoreReplica{Store: db, Clock: clockwork.NewRealClock()},
		Keys: Keys{Deployment: bytes.Repeat([]byte{1}, 32), Sealer: sealer}, Logger: slog.New(slog.DiscardHandler)}
}

// BenchmarkDecisionPath measures one pass through the running lane: from the temperature reading
// that completes a pass (the card is already read) to the View the UI receives, including the person
// key, the sealed ID, the replica lookup and the durable (synchronous=FULL) visit append to a real
// SQLite file. Reports p50 and p99 in microseconds.
func BenchmarkDecisionPath(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := DefaultConfig()
	cfg.Policy.AbsentStatus = "green"
	cfg.Measure.Settle = 0 // readings arrive microseconds apart here; the measurement has its own benchmarks
	lane := New(cfg, Parts{}, benchOptions(ctx, b))
	views := lane.Subscribe(ctx)
	go lane.Run(ctx)

	card := idcardsim.CardRequest{ID: goodID, Name: "张三"}.Card(time.Now())
	temp := func(c float64) event {
		return event{at: time.Now(), temp: &device.TempReading{ObjectC: cfg.Measure.ObjectFor(c, 25), AmbientC: 25}}
	}
	waitFor := func(pred func(View) bool) {
		for v := range views {
			if pred(v) {
				return
			}
		}
	}
	var lat []time.Duration
	for b.Loop() {
		b.StopTimer()
		lane.deliver(ctx, event{at: time.Now(), card: &card})
		waitFor(func(v View) bool { return v.State == PhaseMeasuring })
		lane.deliver(ctx, temp(25)) // the previous person leaves
		for range cfg.Measure.Window - 1 {
			lane.deliver(ctx, temp(36.6))
		}
		b.StartTimer()
		t0 := time.Now()
		lane.deliver(ctx, temp(36.6))
		waitFor(func(v View) bool { return v.State == PhaseShowing })
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	if m := lane.Metrics(); m.VisitsLogged < uint64(len(lat)) {
		b.Fatalf("logged %d visits for %d passes", m.VisitsLogged, len(lat))
	}
}
