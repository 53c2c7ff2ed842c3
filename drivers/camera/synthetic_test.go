package camera

import (
	"fmt"
	"image"
	"math"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"onepass/drivers/camera/camtest"
)

// syntheticConditions are the faults of the synthetic set: a JKM1-sized code from our own encoder
// (RenderQR, skip2/go-qrcode) rendered into a busy 1280×720 scene by camtest.
func syntheticConditions(modules int) []struct {
	name string
	look camtest.Look
} {
	return []struct {
		name string
		look camtest.Look
	}{
		{"clean", camtest.Look{}},
		{"rotation 35°", camtest.Look{Rotate: 35, Width: 200}},
		{"perspective", camtest.Look{Tilt: 0.3, Rotate: 8}},
		{"blur", camtest.Look{Blur: 1.8}},
		{"glare", camtest.Look{Screen: true, Glare: 0.95}},
		{"low contrast", camtest.Look{Contrast: 0.1, Noise: 4}},
		{"screen moiré", camtest.Look{Screen: true, Moire: 1, Width: 180, Noise: 3}},
		{"2 px modules", camtest.Look{Width: 2 * (modules + 8), Noise: 3}},
		{"dark mode", camtest.Look{Screen: true, Invert: true, Glare: 0.4}},
	}
}

// TestSyntheticSet reads the synthetic set along each path alone and with the still-image
// strategy (without its time budget, which depends on the machine's load), logs reads per condition per path, and requires the combination to read at least as
// many as any single path on every condition, and nothing in code-free scenes.
func TestSyntheticSet(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s of decoding")
	}
	const seeds = 4
	code, modules := syntheticCode(t)
	dec := decoderFor(t, "cnn")
	p := NewPipeline(dec)
	defer p.Close()
	p.budget = 0 // the order of the paths, not the machine's load, decides (budget: BenchmarkStillPhotos)
	var table strings.Builder
	fmt.Fprintf(&table, "%-14s", "condition")
	for path := range numPaths {
		fmt.Fprintf(&table, " %10s", path)
	}
	fmt.Fprintf(&table, " %10s\n", "combined")
	for _, cond := range syntheticConditions(modules) {
		var alone [numPaths]int
		combined := 0
		for seed := range uint64(seeds) {
			l := cond.look
			l.Seed = seed + 1
			frame := camtest.Render(code, gocv.NewMat(), l)
			for path := range numPaths {
				codes, err := p.StillPath(frame, path)
				if err != nil {
					t.Fatal(err)
				}
				alone[path] += readsOf(t, codes, cond.name, path.String())
			}
			codes, err := p.Still(frame)
			if err != nil {
				t.Fatal(err)
			}
			combined += readsOf(t, codes, cond.name, "combined")
			frame.Close()
		}
		fmt.Fprintf(&table, "%-14s", cond.name)
		for path := range numPaths {
			fmt.Fprintf(&table, " %10d", alone[path])
			if alone[path] > combined {
				t.Errorf("%s: path %s alone read %d of %d, the combination %d", cond.name, path, alone[path], seeds, combined)
			}
		}
		fmt.Fprintf(&table, " %10d\n", combined)
	}
	t.Logf("reads of %d frames per condition:\n%s", seeds, table.String())
	for seed := range uint64(4) {
		scene := camtest.Scene(image.Pt(1280, 720), 100+seed)
		codes, err := p.Still(scene)
		scene.Close()
		if err != nil || len(codes) > 0 {
			t.Errorf("code-free scene %d: %q, %v; want nothing", seed, texts(codes), err)
		}
	}
}

// syntheticCode is the synthetic set's code (a JKM1-sized text at level M, 4 px modules) and its
// number of modules a side, which the "2 px modules" condition sizes itself by.
func syntheticCode(tb testing.TB) (code gocv.Mat, modules int) {
	tb.Helper()
	q, err := RenderQR(jkm1Like, 'M', 1)
	if err != nil {
		tb.Fatal(err)
	}
	modules = q.Cols() - 8 // the 4-module quiet zone on each side
	q.Close()
	return renderQR(tb, jkm1Like, 'M', 4), modules
}

// readsOf counts a correct read; any other text is a false read and fails the test.
func readsOf(t *testing.T, codes []Code, cond, path string) int {
	t.Helper()
	n := 0
	for _, c := range codes {
		if c.Text != jkm1Like {
			t.Errorf("%s, %s: read %q", cond, path, c.Text)
			continue
		}
		n = 1
	}
	return n
}

// TestLiveSecondPaths: in live video, while nothing is read, every other decode takes the next
// second path (inverted, equalised), so the first path keeps half the decodes; once a
// code is read, no second path runs.
func TestLiveSecondPaths(t *testing.T) {
	dec := decoderFor(t, "cnn")
	p := NewPipeline(dec)
	defer p.Close()
	empty := camtest.Scene(image.Pt(640, 480), 7)
	defer empty.Close()
	code := renderQR(t, "https://example.org/hall/12", 'M', 4)
	withCode := camtest.Render(code, empty, camtest.Look{Frame: image.Pt(640, 480)})
	defer withCode.Close()
	at := time.Unix(1e9, 0)
	for range 6 {
		if _, err := p.Frame(empty, at); err != nil {
			t.Fatal(err)
		}
		// Past every gap (a heartbeat waits 20× the last decode's time, over a second on a loaded
		// machine): each frame is decoded.
		at = at.Add(time.Minute)
	}
	want := [numPaths]int{PathCNN: 3, PathInverted: 2, PathEqualised: 1}
	if p.Tries != want {
		t.Errorf("empty scene: tries by path %v, want %v", p.Tries, want)
	}
	p.Tries = [numPaths]int{}
	for range 4 {
		if _, err := p.Frame(withCode, at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	// The first frame may still be a second path's turn; after a read no second path runs: the
	// first path, then the tracked crop around what it read (TestLiveTracking).
	second := p.Tries[PathInverted] + p.Tries[PathEqualised]
	if second > 1 || p.Reads[PathCNN]+p.TrackReads < 3 {
		t.Errorf("code in view: tries %v reads %v, tracked reads %d; want the code read on (nearly) every frame, no second path after a read",
			p.Tries, p.Reads, p.TrackReads)
	}
}

// TestStillBudget: a still image starts no path whose worst case would overrun the budget: on a
// code-free 640×480 scene with the real budget, zxing-cpp and the boxes, but none of the
// wechat_qrcode paths on the whole picture (each could cost 200 ms on one false box); with a
// budget spent at once, the first path alone; without a limit, every path before giving up.
func TestStillBudget(t *testing.T) {
	dec := decoderFor(t, "cnn")
	scene := camtest.Scene(image.Pt(640, 480), 3)
	defer scene.Close()
	for _, tc := range []struct {
		budget time.Duration
		want   [numPaths]int
	}{
		{time.Nanosecond, [numPaths]int{PathZXing: 1}},
		{stillBudget, [numPaths]int{PathZXing: 1, PathBoxes: 1}},
		{0, [numPaths]int{1, 1, 1, 1, 1, 1, 1, 1}},
	} {
		p := NewPipeline(dec)
		p.budget = tc.budget
		if _, err := p.Still(scene); err != nil {
			t.Fatal(err)
		}
		if p.Tries != tc.want {
			t.Errorf("budget %v: tries by path %v, want %v", tc.budget, p.Tries, tc.want)
		}
		p.Close()
	}
}

// TestWechatInput: a box's crop goes to wechat_qrcode's decoder with both sides in
// [wechatMin, wechatMax) and the shorter at most boxSide (two scales, bounded work), or as it is
// when small enough for the super-resolution model; the work estimate follows the decoder's scales.
func TestWechatInput(t *testing.T) {
	for _, tc := range []struct{ w, h int }{
		{780, 781}, {640, 480}, {530, 510}, {350, 375}, {300, 292}, {200, 200}, {170, 160},
		{100, 100}, {1280, 300}, {2000, 2000}, {321, 639},
	} {
		s := wechatInput(tc.w, tc.h)
		w, h := int(float64(tc.w)*s), int(float64(tc.h)*s)
		if math.Sqrt(float64(tc.w*tc.h)) < srBelow {
			if s != 1 {
				t.Errorf("%dx%d: scaled by %.2f, want as it is (super-resolution)", tc.w, tc.h, s)
			}
			continue
		}
		if max(w, h) >= wechatMax || min(w, h) > boxSide+1 {
			t.Errorf("%dx%d: scaled to %dx%d, want the longer side under %d and the shorter at most %d", tc.w, tc.h, w, h, wechatMax, boxSide)
		}
		if tc.w < 3*tc.h && tc.h < 3*tc.w && min(w, h) < wechatMin-1 {
			t.Errorf("%dx%d: scaled to %dx%d, want the shorter side at least %d (else a third, doubled try)", tc.w, tc.h, w, h, wechatMin)
		}
	}
	if a, b := wechatWork(319, 400), wechatWork(320, 400); a < 3*b {
		t.Errorf("work %v under %d px, %v at it: want the doubled try counted", a, wechatMin, b)
	}
}

// TestPathCorners: every path reports the code where it is in the frame it was given, however it
// transformed the frame (a border, a scale, a turn): the centre of its corners within a few pixels
// of the first path's. (The CNN detector's corners are its box around the code, so after a turn
// they are that box turned back, not the symbol's corners.)
func TestPathCorners(t *testing.T) {
	dec := decoderFor(t, "cnn")
	p := NewPipeline(dec)
	defer p.Close()
	code := renderQR(t, "https://example.org/hall/12", 'M', 4)
	centre := func(c [4]image.Point) (float64, float64) {
		var x, y float64
		for _, pt := range c {
			x, y = x+float64(pt.X)/4, y+float64(pt.Y)/4
		}
		return x, y
	}
	for _, size := range []image.Point{{640, 480}, {260, 220}} { // 260 px: the rotated path scales it up
		frame := camtest.Render(code, gocv.NewMat(), camtest.Look{Frame: size, Width: size.Y / 2, Offset: image.Pt(size.X/10, 0)})
		ref, err := p.StillPath(frame, PathCNN)
		if err != nil || len(ref) != 1 {
			t.Fatalf("%v: first path read %d codes, %v", size, len(ref), err)
		}
		rx, ry := centre(ref[0].Corner)
		for path := range numPaths {
			if path == PathModelFree {
				continue // the model-free detector reports the whole image as the code's box
			}
			codes, err := p.StillPath(frame, path)
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) != 1 {
				t.Errorf("%v, %s: read %d codes, want 1", size, path, len(codes))
				continue
			}
			x, y := centre(codes[0].Corner)
			if d := math.Hypot(x-rx, y-ry); d > 6 {
				t.Errorf("%v, %s: corners %v centred %.0f px from the first path's %v", size, path, codes[0].Corner, d, ref[0].Corner)
			}
		}
		frame.Close()
	}
}

// BenchmarkStillSynthetic times the still-image strategy within its budget on the synthetic set at
// the largest size the issue names (1280×720): every condition's 4 seeds and 4 code-free scenes,
// each image a fresh pipeline as `onepassctl scan` runs it. Reports wall p50/p95 per image, the
// p95 of CPU, reads of the 36 with a code, and false reads.
func BenchmarkStillSynthetic(b *testing.B) {
	SetThreads(1)
	code, modules := syntheticCode(b)
	type still struct {
		cond  string
		frame gocv.Mat
	}
	var stills []still
	for _, cond := range syntheticConditions(modules) {
		for seed := range uint64(4) {
			l := cond.look
			l.Seed = seed + 1
			stills = append(stills, still{cond.name, camtest.Render(code, gocv.NewMat(), l)})
		}
	}
	for seed := range uint64(4) {
		stills = append(stills, still{"", camtest.Scene(image.Pt(1280, 720), 100+seed)})
	}
	defer func() {
		for _, s := range stills {
			s.frame.Close()
		}
	}()
	for name, dec := range decoders(b) {
		b.Run(name+"/budget=150ms", func(b *testing.B) {
			var took, cpu []time.Duration
			read, falseReads := 0, 0
			missed := map[string]int{}
			for b.Loop() {
				read, falseReads = 0, 0
				clear(missed)
				for _, s := range stills {
					p := NewPipeline(dec)
					p.budget = stillBudget
					start, c0 := time.Now(), cpuTime()
					codes, err := p.Still(s.frame)
					took, cpu = append(took, time.Since(start)), append(cpu, cpuTime()-c0)
					p.Close()
					if err != nil {
						b.Fatal(err)
					}
					got := false
					for _, c := range codes {
						if s.cond != "" && c.Text == jkm1Like {
							got = true
						} else {
							falseReads++
						}
					}
					if got {
						read++
					} else if s.cond != "" {
						missed[s.cond]++
					}
				}
			}
			reportStillTimes(b, took, cpu)
			b.ReportMetric(float64(read), "read/36")
			b.ReportMetric(float64(falseReads), "false-reads")
			if len(missed) > 0 {
				b.Logf("missed within the budget, by condition: %v", missed)
			}
		})
	}
}
