package camera

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// photoDir holds the real photos kept beside the project (never in it).
const photoDir = "../../../shared/testdata/qr"

// samplePhotos lists the photos with a code (and their expected texts) and those without one;
// it skips when the folder is absent (a user's fresh clone has no ../shared).
func samplePhotos(t testing.TB) (photos []string, want map[string]string, empty []string) {
	if _, err := os.Stat(photoDir); err != nil {
		t.Skipf("the sample photos are not here (%v): they live beside the project, never in it", err)
	}
	all, _ := filepath.Glob(filepath.Join(photoDir, "photos", "*"))
	want = map[string]string{}
	for _, f := range all {
		if strings.HasSuffix(f, ".txt") {
			continue
		}
		b, err := os.ReadFile(strings.TrimSuffix(f, filepath.Ext(f)) + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		photos = append(photos, f)
		want[f] = string(b)
	}
	empty, _ = filepath.Glob(filepath.Join(photoDir, "no-code", "*"))
	return photos, want, empty
}

// TestSamplePhotos reads the real photos kept beside the project (../shared/testdata/qr) the way
// `onepassctl scan` does (the first path, then the second paths; here without the time budget,
// which depends on the machine's load, so every path any run could try): each decoder
// set-up reads at least its floor of the 20 byte-exact (zbarimg reads 8), never a wrong text, and
// nothing in the 16 photos without a code. With the models, the combined strategy reads at least
// as many as any single path alone (logged per path).
func TestSamplePhotos(t *testing.T) {
	photos, want, empty := samplePhotos(t)
	for _, tc := range []struct {
		decoder string
		floor   int
	}{{"cnn", 18}, {ModelsNone, 18}} {
		t.Run(tc.decoder, func(t *testing.T) {
			dec := decoderFor(t, tc.decoder)
			read := 0
			still := NewPipeline(dec)
			defer still.Close()
			still.budget = 0 // what the paths read; with the budget: BenchmarkStillPhotos
			for _, f := range photos {
				img := gocv.IMRead(f, gocv.IMReadColor)
				codes, err := still.Still(img)
				img.Close()
				if err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				for _, c := range codes {
					if c.Text == want[f] {
						read++
					} else {
						t.Errorf("%s: read %q, want %q", filepath.Base(f), c.Text, want[f])
					}
				}
			}
			t.Logf("%s: read %d of %d photos byte-exact", tc.decoder, read, len(photos))
			if read < tc.floor {
				t.Errorf("read %d of %d photos byte-exact, want at least %d", read, len(photos), tc.floor)
			}
			// Every path on the code-free photos (no budget: the most any run could try).
			for _, f := range empty {
				img := gocv.IMRead(f, gocv.IMReadColor)
				codes, err := still.Still(img)
				img.Close()
				if err != nil || len(codes) > 0 {
					t.Errorf("%s (no code): %q %v", filepath.Base(f), texts(codes), err)
				}
			}
			if tc.decoder != "cnn" {
				return
			}
			// Each path alone, on the same photos: none may read more than the combination.
			p := NewPipeline(dec)
			defer p.Close()
			for path := range numPaths {
				alone := 0
				for _, f := range photos {
					img := gocv.IMRead(f, gocv.IMReadColor)
					codes, err := p.StillPath(img, path)
					img.Close()
					if err != nil {
						t.Fatal(err)
					}
					if len(codes) == 1 && codes[0].Text == want[f] {
						alone++
					}
				}
				t.Logf("path %s alone: %d of %d", path, alone, len(photos))
				if alone > read {
					t.Errorf("path %s alone reads %d photos, the combination %d", path, alone, read)
				}
			}
		})
	}
}

// reportStillTimes sorts the wall and CPU times of the stills decoded and reports their p50 and
// p95 (wall) and p95 (CPU) in milliseconds.
func reportStillTimes(b *testing.B, took, cpu []time.Duration) {
	slices.Sort(took)
	slices.Sort(cpu)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(cpu[len(cpu)*95/100].Microseconds())/1000, "p95-cpu-ms")
}

// BenchmarkStillPhotos: every real photo (with and without a code, all ≤ 1280 px) through the
// still-image strategy; p50/p95 wall ms per image, p95 CPU ms per image (the process's, which on a
// machine shared with other builds says what an idle one would take: decoding runs on one
// thread), p95 wall ms over the photos with a code alone, and the photos read byte-exact. The
// budget varies, for the trade-off between reads and time: "first" is the first path only,
// "none" every path (docs/camera.md).
func BenchmarkStillPhotos(b *testing.B) {
	SetThreads(1)
	photos, want, empty := samplePhotos(b)
	for name, dec := range decoders(b) {
		for _, budget := range []struct {
			name string
			d    time.Duration
		}{{"first", time.Nanosecond}, {"150ms", stillBudget}, {"300ms", 300 * time.Millisecond}, {"none", 0}} {
			b.Run(name+"/budget="+budget.name, func(b *testing.B) {
				imgs := map[string]gocv.Mat{}
				for _, f := range append(slices.Clone(photos), empty...) {
					imgs[f] = gocv.IMRead(f, gocv.IMReadColor)
				}
				defer func() {
					for _, m := range imgs {
						m.Close()
					}
				}()
				var took, cpu, withCode []time.Duration
				read, falseReads := 0, 0
				for b.Loop() {
					read, falseReads = 0, 0
					for f, img := range imgs {
						p := NewPipeline(dec)
						p.budget = budget.d
						start, c0 := time.Now(), cpuTime()
						codes, err := p.Still(img)
						el := time.Since(start)
						took, cpu = append(took, el), append(cpu, cpuTime()-c0)
						if _, ok := want[f]; ok {
							withCode = append(withCode, el)
						}
						p.Close()
						if err != nil {
							b.Fatal(err)
						}
						for _, c := range codes {
							if w, ok := want[f]; ok && c.Text == w {
								read++
							} else {
								falseReads++
							}
						}
					}
				}
				reportStillTimes(b, took, cpu)
				slices.Sort(withCode)
				b.ReportMetric(float64(withCode[len(withCode)*95/100].Microseconds())/1000, "p95-code-ms")
				b.ReportMetric(float64(read), "read/20")
				b.ReportMetric(float64(falseReads), "false-reads")
			})
		}
	}
}
