package client_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"onepass/sync/client"
	"onepass/sync/hub"
	"onepass/sync/store"
)

// The sync benchmarks run the hub in a child process (a re-executed test binary), so that the
// benchmark process is the kiosk alone and its peak memory is the kiosk's.
//
//	go test -run '^$' -bench 'Sync' -benchtime 1x ./sync/client
//
// BenchmarkSync1M sets up a hub with 1,000,000 persons (a minute or so, not measured) and reports:
// the snapshot (download + apply) time and the kiosk's peak RSS during it, the time to apply a
// delta of 10,000 changes to that replica, and status lookup p50/p99 in it.
// BenchmarkUpload100k reports visits per second uploading 100,000 queued visits over loopback.

type benchHub struct {
	admin *hub.Hub
	child *child
	url   string
}

func startBenchHub(b *testing.B, persons int) *benchHub {
	b.Helper()
	dir := b.TempDir()
	if err := hub.Init(dir, hub.InitOptions{}); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	c := startChild(b, hubChildEnv+"="+dir+"|"+addr+"|"+strconv.Itoa(persons))
	select {
	case l := <-c.lines:
		if l != "ready" {
			b.Fatalf("hub child: %q %s", l, c.stderr)
		}
	case <-time.After(10 * time.Minute):
		b.Fatalf("hub child did not fill %d persons in time", persons)
	}
	admin, err := hub.Open(bg, dir, hub.Options{Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close(); c.kill(b) })
	return &benchHub{admin: admin, child: c, url: "https://" + addr}
}

// enrolledKiosk is a fresh kiosk database enrolled at the hub; the caller closes it. b must be
// the top benchmark: its temporary directory outlives the sub-benchmarks.
func (h *benchHub) enrolledKiosk(b *testing.B) *kiosk {
	b.Helper()
	dir := b.TempDir()
	db, err := store.Open(bg, filepath.Join(dir, "onepass.db"))
	if err != nil {
		b.Fatal(err)
	}
	k := &kiosk{t: b, dir: dir, db: db}
	if _, err := client.Enroll(bg, h.url, mustToken(b, h.admin), filepath.Join(k.dir, "sync"), h.admin.RootSPKI()); err != nil {
		b.Fatal(err)
	}
	k.connect(&hubServer{url: h.url, hub: h.admin}, func(c *client.Config) { c.Logger = discardLogger() })
	return k
}

// resetPeakRSS and peakRSS use Linux's VmHWM, which "echo 5 > /proc/self/clear_refs" resets.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

func (k *kiosk) close() {
	k.c.Close()
	k.db.Close()
}

// cpuTime is the process's user + system CPU time: the kiosk's work, whatever else loads the
// machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkSync1M(top *testing.B) {
	const persons = 1_000_000
	h := startBenchHub(top, persons)
	var k *kiosk
	top.Cleanup(func() {
		if k != nil {
			k.close()
		}
	})
	top.Run("snapshot", func(b *testing.B) {
		var total, cpu time.Duration
		var peak float64
		for b.Loop() {
			b.StopTimer()
			if k != nil {
				k.close()
			}
			k = h.enrolledKiosk(top)
			resetPeakRSS()
			b.StartTimer()
			c0, t0 := cpuTime(), time.Now()
			if err := k.c.Pull(bg); err != nil {
				b.Fatal(err)
			}
			total += time.Since(t0)
			cpu += cpuTime() - c0
			peak = max(peak, peakRSS())
		}
		if n, _ := k.db.StatusCount(bg); n != persons {
			b.Fatalf("replica holds %d persons", n)
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s/snapshot")
		b.ReportMetric(peak, "peak-RSS-MB")
		b.ReportMetric(cpu.Seconds()/float64(b.N), "kiosk-cpu-s")
		b.ReportMetric(float64(persons)*float64(b.N)/total.Seconds(), "rows/s")
	})
	if k == nil {
		top.Fatal("snapshot did not run")
	}
	top.Run("delta10k", func(b *testing.B) {
		var total time.Duration
		round := 0
		for b.Loop() {
			b.StopTimer()
			changes(b, h.admin, persons, round)
			round++
			b.StartTimer()
			t0 := time.Now()
			if err := k.c.Pull(bg); err != nil {
				b.Fatal(err)
			}
			total += time.Since(t0)
		}
		b.ReportMetric(total.Seconds()*1000/float64(b.N), "ms/delta")
	})
	top.Run("lookup", func(b *testing.B) {
		// Each iteration is 100,000 lookups of random persons, so that the percentiles mean
		// something even with -benchtime 1x.
		const lookups = 100_000
		var lat []time.Duration
		rng := rand.New(rand.NewPCG(1, 2))
		keys := make([][]byte, lookups)
		for i := range keys {
			keys[i] = pkey(rng.IntN(persons))
		}
		for b.Loop() {
			for _, key := range keys {
				t0 := time.Now()
				if _, _, err := k.db.Status(bg, key); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-µs")
	})
}

// changes makes 10,000 status changes at the hub: 7,000 updates, 2,000 new persons, 1,000
// removals.
func changes(b *testing.B, h *hub.Hub, persons, round int) {
	b.Helper()
	at := time.Now()
	es := make([]hub.StatusEntry, 0, 10_000)
	base := round * 10_000
	for i := range 7000 {
		es = append(es, hub.StatusEntry{PersonKey: pkey((base + i*97) % persons), Status: 1 + (i+round)%3, AsOf: at, Reason: "delta"})
	}
	for i := range 2000 {
		es = append(es, hub.StatusEntry{PersonKey: pkey(persons + base + i), Status: 3, AsOf: at})
	}
	for i := range 1000 {
		es = append(es, hub.StatusEntry{PersonKey: pkey((base + 500_000 + i*13) % persons), Delete: true})
	}
	if _, err := h.PutStatus(bg, es...); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkUpload100k(b *testing.B) {
	const visits = 100_000
	h := startBenchHub(b, 0)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		k := h.enrolledKiosk(b)
		for i := 0; i < visits; i += 10_000 {
			vs := make([]*store.Visit, 10_000)
			for j := range vs {
				t := 36.5
				vs[j] = &store.Visit{Lane: "1", Method: "card", PersonKey: pkey(i + j), SealedID: bytes.Repeat([]byte{7}, 66),
					MaskedName: "张*", TempC: &t, Outcome: "PASS", Reason: "ok"}
			}
			if err := k.db.AppendBatch(bg, vs); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		t0 := time.Now()
		n, err := k.c.Push(bg)
		total += time.Since(t0)
		if err != nil || n != visits {
			b.Fatalf("pushed %d: %v", n, err)
		}
		b.StopTimer()
		k.close()
		b.StartTimer()
	}
	got, _ := h.admin.VisitIDs(bg)
	if len(got) != visits*b.N {
		b.Fatalf("hub holds %d visits, want %d", len(got), visits*b.N)
	}
	b.ReportMetric(float64(visits*b.N)/total.Seconds(), "visits/s")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/100k")
}
