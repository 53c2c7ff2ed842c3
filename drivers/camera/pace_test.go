package camera

import (
	"image"
	"testing"
	"time"

	"onepass/drivers/camera/camtest"
)

// TestPacer: live decoding on a 30 fps camera whose frames come with a little jitter. The caps are
// averages, so the rate is the cap's (20/s) when decodes are cheap, whatever the jitter, and the duty
// cycle's when they are dear; one slow decode holds decoding back for about twice its time.
func TestPacer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		took     func(i int) time.Duration
		min, max float64 // decodes per second over 10 s
	}{
		{"cheap decodes", func(int) time.Duration { return 10 * time.Millisecond }, 19.5, 20.5},
		{"decodes at the duty cap's edge", func(int) time.Duration { return 25 * time.Millisecond }, 19, 20.5},
		{"dear decodes", func(int) time.Duration { return 40 * time.Millisecond }, 12, 13},
		{"one slow decode in many", func(i int) time.Duration {
			if i == 10 {
				return 2 * time.Second
			}
			return 10 * time.Millisecond
		}, 11.5, 13}, // 4 s held back (2 s at a 50 % duty cycle), then 20/s again
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c pacer
			start := time.Unix(1e9, 0)
			decodes := 0
			for f := range 300 { // 10 s at 30 fps, each frame up to 3 ms early or late
				jitter := time.Duration((f*37)%7-3) * time.Millisecond
				now := start.Add(time.Duration(f)*time.Second/30 + jitter)
				if c.ready(now) {
					c.spent(now, tc.took(decodes))
					decodes++
				}
			}
			if rate := float64(decodes) / 10; rate < tc.min || rate > tc.max {
				t.Errorf("%.1f decodes/s, want %.1f–%.1f", rate, tc.min, tc.max)
			}
		})
	}
}

// TestLiveTracking: once the first path reads a code in live video, the next decodes read the crop
// around it with the model-free detector; when the code leaves that crop, the next decode is the
// full first path again, which finds it where it went.
func TestLiveTracking(t *testing.T) {
	dec := decoderFor(t, "cnn")
	p := NewPipeline(dec)
	defer p.Close()
	scene := camtest.Scene(image.Pt(1280, 720), 5)
	defer scene.Close()
	code := renderQR(t, "https://example.org/hall/12", 'M', 4)
	left := camtest.Render(code, scene, camtest.Look{Frame: image.Pt(1280, 720), Width: 260, Offset: image.Pt(-340, 0)})
	defer left.Close()
	right := camtest.Render(code, scene, camtest.Look{Frame: image.Pt(1280, 720), Width: 260, Offset: image.Pt(340, 0)})
	defer right.Close()
	at := time.Unix(1e9, 0)
	for range 4 {
		if _, err := p.Frame(left, at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	if p.Tries[PathCNN] != 1 || p.Reads[PathCNN] != 1 || p.TrackTries != 3 || p.TrackReads != 3 {
		t.Fatalf("code held still: first path %d tries %d reads, tracked %d tries %d reads; want 1 1 3 3",
			p.Tries[PathCNN], p.Reads[PathCNN], p.TrackTries, p.TrackReads)
	}
	// The code moves across the frame: the tracked crop misses it, the first path finds it.
	for range 2 {
		if _, err := p.Frame(right, at); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	if p.TrackTries != 4 || p.TrackReads != 3 || p.Tries[PathCNN] != 2 || p.Reads[PathCNN] != 2 {
		t.Errorf("code moved: first path %d tries %d reads, tracked %d tries %d reads; want 2 2 4 3",
			p.Tries[PathCNN], p.Reads[PathCNN], p.TrackTries, p.TrackReads)
	}
	if r := p.track; !r.Overlaps(image.Rect(980-130, 360-130, 980+130, 360+130)) {
		t.Errorf("tracking %v after the move, want around the code at (980, 360)", r)
	}

	// Two codes in view: no tracking (the tracked decode reads one code per crop), every decode
	// is the first path's and reads both.
	other := renderQR(t, "https://example.org/hall/34", 'M', 4)
	both := camtest.Render(other, right, camtest.Look{Frame: image.Pt(1280, 720), Width: 260, Offset: image.Pt(-340, 0)})
	defer both.Close()
	p.Reset()
	p.Tries, p.Reads, p.TrackTries, p.TrackReads = [numPaths]int{}, [numPaths]int{}, 0, 0
	seen := map[string]bool{}
	for range 3 {
		codes, err := p.Frame(both, at)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			seen[c.Text] = true
		}
		at = at.Add(time.Minute)
	}
	if p.TrackTries != 0 || p.Reads[PathCNN] != 3 || len(seen) != 2 {
		t.Errorf("two codes: first path %d reads, tracked %d tries, codes %v; want 3 reads, no tracking, both codes",
			p.Reads[PathCNN], p.TrackTries, seen)
	}
}
