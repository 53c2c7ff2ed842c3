package camera

import (
	"context"
	"image"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"onepass/drivers/camera/camtest"
)

// decoders are the two decoder set-ups measured: model-free ("none") and with the CNN models
// committed beside this package (the default).
func decoders(b *testing.B) map[string]*Decoder {
	return map[string]*Decoder{"models=none": newDecoder(b, ModelsNone), "models=cnn": newDecoder(b, repoModels)}
}

// BenchmarkPipelineCodeInView: frames with a code in view go through the pipeline back to back;
// decodes/s is the most frames the pipeline decodes per second under its duty-cycle cap, ms/decode
// the decoder's time per frame.
func BenchmarkPipelineCodeInView(b *testing.B) {
	SetThreads(1)
	code, err := RenderQR(jkm1Like, 'Q', 4)
	if err != nil {
		b.Fatal(err)
	}
	defer code.Close()
	for name, dec := range decoders(b) {
		for _, size := range []image.Point{{1280, 720}, {640, 480}} {
			frames := noisyFrames(code, size, 4)
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				p := NewPipeline(dec)
				defer p.Close()
				i, read := 0, 0
				start := time.Now()
				for b.Loop() {
					codes, err := p.Frame(frames[i%len(frames)], time.Now())
					if err != nil {
						b.Fatal(err)
					}
					read += len(codes)
					i++
				}
				el := time.Since(start).Seconds()
				b.ReportMetric(float64(p.Decodes)/el, "decodes/s")
				if p.Decodes > 0 {
					b.ReportMetric(float64(p.DecodeTime.Microseconds())/1000/float64(p.Decodes), "ms/decode")
					b.ReportMetric(float64(p.TrackReads)/float64(p.Decodes), "tracked-share")
				}
				if read == 0 {
					b.Fatal("the code in view was never read")
				}
			})
			for _, f := range frames {
				f.Close()
			}
		}
	}
}

func sizeName(p image.Point) string {
	return map[image.Point]string{{1280, 720}: "1280x720", {640, 480}: "640x480"}[p]
}

// noisyFrames renders the code held in a scene, n frames with fresh sensor noise.
func noisyFrames(code gocv.Mat, size image.Point, n int) []gocv.Mat {
	scene := camtest.Scene(size, 11)
	defer scene.Close()
	out := make([]gocv.Mat, n)
	for i := range out {
		l := camtest.Look{Frame: size, Width: size.Y / 2, Noise: 3, Seed: uint64(i + 1)}
		if code.Empty() {
			f := scene.Clone()
			camtest.AddNoise(&f, 3, rand.New(rand.NewPCG(uint64(i), 2)))
			out[i] = f
			continue
		}
		out[i] = camtest.Render(code, scene, l)
	}
	return out
}

// fakeCamera delivers generated frames at a camera's pace, copying each into the frame buffer as a
// capture would. Like a camera, it keeps its own clock: a frame every interval whenever it is read
// (not an interval after the last read, which slowed a 30 fps camera to 25–28 fps under decoding),
// and when the reader falls behind by more than a frame the missed ones are dropped, as V4L2's
// small queue does.
type fakeCamera struct {
	frames   []gocv.Mat
	interval time.Duration
	next     time.Time
	i        int
}

func (f *fakeCamera) Read(ctx context.Context, m *gocv.Mat) (bool, error) {
	if err := sleepUntil(ctx, f.next); err != nil {
		return false, err
	}
	f.next = f.next.Add(f.interval)
	if now := time.Now(); f.next.Before(now.Add(-f.interval)) {
		f.next = now.Add(f.interval)
	}
	f.frames[f.i%len(f.frames)].CopyTo(m)
	f.i++
	return false, nil
}

func (f *fakeCamera) Close() error { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleCPU runs the whole scanner for 5 s on a 15 fps 1280×720 camera looking at an empty,
// still scene with sensor noise, and reports the process CPU use as a share of one core (target:
// under 15 %). Run it with -benchtime 1x.
func BenchmarkIdleCPU(b *testing.B) {
	SetThreads(1)
	for name, dec := range decoders(b) {
		b.Run(name, func(b *testing.B) {
			frames := noisyFrames(gocv.NewMat(), image.Pt(1280, 720), 8)
			defer func() {
				for _, f := range frames {
					f.Close()
				}
			}()
			var cpuPct float64
			for b.Loop() {
				cam := &fakeCamera{frames: frames, interval: time.Second / 15}
				s := start(Config{Width: 1280, Height: 720, FPS: 15}, "bench", dec, "", slog.New(slog.DiscardHandler), func() (source, error) { return cam, nil })
				time.Sleep(activeFor + time.Second) // the first frame counts as motion: let it pass
				c0, t0 := cpuTime(), time.Now()
				time.Sleep(5 * time.Second)
				cpuPct = 100 * float64(cpuTime()-c0) / float64(time.Since(t0))
				s.cancel()
				<-s.done
			}
			b.ReportMetric(cpuPct, "%cpu")
		})
	}
}

// BenchmarkScannerCodeInView runs the whole scanner for 5 s on a 30 fps camera that shows a code the
// whole time: decoded/s is the frame rate the scanner sustains with a code in view, %cpu its cost
// in share of one core. Run it with -benchtime 1x.
func BenchmarkScannerCodeInView(b *testing.B) {
	SetThreads(1)
	code, err := RenderQR(jkm1Like, 'Q', 4)
	if err != nil {
		b.Fatal(err)
	}
	defer code.Close()
	for name, dec := range decoders(b) {
		for _, size := range []image.Point{{1280, 720}, {640, 480}} {
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				frames := noisyFrames(code, size, 4)
				defer func() {
					for _, f := range frames {
						f.Close()
					}
				}()
				var rate, cpuPct float64
				for b.Loop() {
					cam := &fakeCamera{frames: frames, interval: time.Second / 30}
					s := start(Config{Width: size.X, Height: size.Y, FPS: 30}, "bench", dec, "", slog.New(slog.DiscardHandler),
						func() (source, error) { return cam, nil })
					time.Sleep(time.Second)
					d0 := s.decodes.Load()
					c0, t0 := cpuTime(), time.Now()
					time.Sleep(5 * time.Second)
					el := time.Since(t0)
					cpuPct = 100 * float64(cpuTime()-c0) / float64(el)
					rate = float64(s.decodes.Load()-d0) / el.Seconds()
					s.cancel()
					<-s.done
				}
				b.ReportMetric(rate, "decoded/s")
				b.ReportMetric(cpuPct, "%cpu")
			})
		}
	}
}

// BenchmarkScannerMotionNoCode runs the scanner for 5 s on a 30 fps camera that sees motion in
// every frame but no code (a person walking past): the worst steady cost. Run with -benchtime 1x.
func BenchmarkScannerMotionNoCode(b *testing.B) {
	SetThreads(1)
	for name, dec := range decoders(b) {
		b.Run(name+"/1280x720", func(b *testing.B) {
			var frames []gocv.Mat
			for seed := range uint64(4) {
				frames = append(frames, camtest.Scene(image.Pt(1280, 720), 100+seed))
			}
			defer func() {
				for _, f := range frames {
					f.Close()
				}
			}()
			var rate, cpuPct float64
			for b.Loop() {
				cam := &fakeCamera{frames: frames, interval: time.Second / 30}
				s := start(Config{Width: 1280, Height: 720, FPS: 30}, "bench", dec, "", slog.New(slog.DiscardHandler),
					func() (source, error) { return cam, nil })
				time.Sleep(time.Second)
				d0, c0, t0 := s.decodes.Load(), cpuTime(), time.Now()
				time.Sleep(5 * time.Second)
				el := time.Since(t0)
				cpuPct = 100 * float64(cpuTime()-c0) / float64(el)
				rate = float64(s.decodes.Load()-d0) / el.Seconds()
				s.cancel()
				<-s.done
			}
			b.ReportMetric(rate, "decoded/s")
			b.ReportMetric(cpuPct, "%cpu")
		})
	}
}
