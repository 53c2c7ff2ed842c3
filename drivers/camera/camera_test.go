package camera

import (
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"onepass/device"
	"onepass/drivers/camera/camtest"
)

// jkm1Like is as long as a real JKM1 code (about 300 alphanumeric characters).
var jkm1Like = "JKM1:" + strings.Repeat("6BFOXN*TS0BI$ZD-PHRTHDC8:", 12)

// repoModels is the CNN models folder committed beside this package: tests use it directly.
const repoModels = "wechat_qrcode"

// newDecoder makes a decoder for a models setting as the config writes it: "" is the default
// (the CNN models, found in the source tree), ModelsNone the model-free decoder.
func newDecoder(t testing.TB, models string) *Decoder {
	t.Helper()
	if models == "" {
		models = repoModels
	}
	d, err := NewDecoder(ResolveModels(models))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// bothDecoders are the two decoders a kiosk can run: with the CNN models (the default) and
// model-free (`models = "none"`, or the fallback when the models are missing or corrupt).
var bothDecoders = []string{"cnn", ModelsNone}

func decoderFor(t testing.TB, name string) *Decoder {
	if name == "cnn" {
		return newDecoder(t, "")
	}
	return newDecoder(t, name)
}

func renderQR(t testing.TB, text string, level byte, px int) gocv.Mat {
	t.Helper()
	m, err := RenderQR(text, level, px)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestLooks reads codes as the kiosk camera sees them on paper and on phone screens, with both
// decoders (model-free is what a kiosk falls back to without its models).
func TestLooks(t *testing.T) {
	for _, name := range bothDecoders {
		t.Run(name, func(t *testing.T) { testLooks(t, decoderFor(t, name)) })
	}
}

func testLooks(t *testing.T, dec *Decoder) {
	paper := renderQR(t, jkm1Like, 'Q', 4)
	phone := renderQR(t, jkm1Like, 'M', 4)
	short := renderQR(t, "https://example.org/hall/12", 'M', 4)
	cases := []struct {
		name string
		code gocv.Mat
		look camtest.Look
	}{
		{"paper clean", paper, camtest.Look{}},
		{"paper perspective and rotation", paper, camtest.Look{Tilt: 0.25, Rotate: 15}},
		{"paper blur and noise", paper, camtest.Look{Blur: 1.5, Noise: 6}},
		{"paper low contrast", paper, camtest.Look{Contrast: 0.3}},
		{"paper glare", paper, camtest.Look{Glare: 0.6}},
		{"paper small", paper, camtest.Look{Width: 150}},
		{"phone tilted", phone, camtest.Look{Screen: true, Width: 200, Rotate: -10}},
		{"phone dark mode", phone, camtest.Look{Screen: true, Invert: true}},
		{"phone glare and noise", phone, camtest.Look{Screen: true, Glare: 0.5, Noise: 5}},
		{"640x480 small short code", short, camtest.Look{Frame: image.Pt(640, 480), Width: 90, Noise: 4}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.look.Seed = uint64(i + 1)
			frame := camtest.Render(tc.code, gocv.NewMat(), tc.look)
			defer frame.Close()
			p := NewPipeline(dec)
			defer p.Close()
			codes, err := p.Still(frame)
			if err != nil {
				t.Fatal(err)
			}
			want := jkm1Like
			if tc.code.Ptr() == short.Ptr() {
				want = "https://example.org/hall/12"
			}
			if len(codes) != 1 || codes[0].Text != want {
				if dir := os.Getenv("ONEPASS_KEEP_FRAMES"); dir != "" {
					gocv.IMWrite(filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".png"), frame)
				}
				t.Fatalf("read %d codes %q; want the code (set ONEPASS_KEEP_FRAMES=DIR to keep the frame)", len(codes), texts(codes))
			}
		})
	}
}

func texts(cs []Code) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Text)
	}
	return out
}

func TestNoCodeNoResult(t *testing.T) {
	for _, name := range bothDecoders {
		dec := decoderFor(t, name)
		for seed := range uint64(3) {
			scene := camtest.Scene(image.Pt(640, 480), seed)
			codes, err := dec.Decode(scene)
			scene.Close()
			if err != nil || len(codes) != 0 {
				t.Errorf("%s, scene %d: %q, %v; want nothing", name, seed, texts(codes), err)
			}
		}
	}
}

// TestCNNReadsWhatModelFreeMisses: the default decoder really runs the CNN detector. A small code
// turned 45° in a busy 720p scene is read by the models every time and missed by the model-free
// decoder, so a decoder that silently fell back would fail here. Each decoder on the bare frame
// (the first path): the still strategy's second paths (a border, a turn) may read it model-free.
func TestCNNReadsWhatModelFreeMisses(t *testing.T) {
	code := renderQR(t, jkm1Like, 'Q', 4)
	read := map[string]int{}
	for _, name := range bothDecoders {
		dec := decoderFor(t, name)
		for _, seed := range []uint64{1, 3} {
			frame := camtest.Render(code, gocv.NewMat(), camtest.Look{Width: 140, Rotate: 45, Seed: seed})
			p := NewPipeline(dec)
			codes, err := p.StillPath(frame, PathCNN)
			p.Close()
			frame.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(codes) == 1 && codes[0].Text == jkm1Like {
				read[name]++
			}
		}
	}
	if read["cnn"] != 2 || read[ModelsNone] >= read["cnn"] {
		t.Errorf("read %v of 2 frames; want the CNN models to read both and the model-free decoder fewer", read)
	}
}

// TestPipelineGate: the same code held in view is one scan; decoding runs every frame while
// something moves and only a few times a second in a still scene.
func TestPipelineGate(t *testing.T) {
	dec := newDecoder(t, "")
	code := renderQR(t, "HELD CODE", 'M', 5)
	// A plain wall: decoding it is quick, which keeps this test short.
	scene := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(120, 130, 140, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer scene.Close()
	held := camtest.Render(code, scene, camtest.Look{Frame: image.Pt(640, 480), Width: 200, Seed: 1})
	defer held.Close()
	p := NewPipeline(dec)
	defer p.Close()
	t0 := time.Unix(1_700_000_000, 0)
	frame := time.Second / 15
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * frame) }

	// 10 s of an empty, still scene at 15 fps.
	i := 0
	for ; i < 150; i++ {
		codes, err := p.Frame(scene, at(i))
		if err != nil || len(codes) != 0 {
			t.Fatalf("empty frame %d: %q %v", i, texts(codes), err)
		}
	}
	// The first frame counts as motion (no reference yet): 2 s of decoding every frame, then
	// one decode per idleEvery for the remaining 8 s.
	if max := 30 + 8*int(time.Second/idleEvery) + 1; p.Decodes > max || p.Decodes < 8 {
		t.Errorf("%d decodes in 10 s of a still scene; want at most %d and some heartbeat decodes", p.Decodes, max)
	}
	if p.Motion != 1 {
		t.Errorf("motion in %d frames of a still scene; want only the first", p.Motion)
	}

	// A code is held in view for 3 s: one scan.
	scans := 0
	for end := i + 45; i < end; i++ {
		codes, err := p.Frame(held, at(i))
		if err != nil {
			t.Fatal(err)
		}
		scans += len(codes)
	}
	if scans != 1 {
		t.Errorf("a code held 3 s gave %d scans; want 1", scans)
	}
	// Taken away for 3 s and shown again: a second scan.
	for end := i + 45; i < end; i++ {
		p.Frame(scene, at(i))
	}
	for end := i + 15; i < end; i++ {
		codes, _ := p.Frame(held, at(i))
		scans += len(codes)
	}
	if scans != 2 {
		t.Errorf("shown again after 3 s: %d scans in all; want 2", scans)
	}
}

func TestSensorNoiseIsNotMotion(t *testing.T) {
	dec := newDecoder(t, "")
	scene := camtest.Scene(image.Pt(1280, 720), 3)
	defer scene.Close()
	p := NewPipeline(dec)
	defer p.Close()
	rng := camtestRand(9)
	moved := 0
	for range 10 {
		f := scene.Clone()
		camtest.AddNoise(&f, 4, rng)
		if p.moved(f) {
			moved++
		}
		f.Close()
	}
	if moved != 1 {
		t.Errorf("sensor noise counted as motion in %d of 10 frames; want only the first", moved)
	}
	// A person stepping in is motion.
	person := scene.Clone()
	defer person.Close()
	gocv.Rectangle(&person, image.Rect(400, 100, 800, 720), color.RGBA{40, 50, 60, 0}, -1)
	if !p.moved(person) {
		t.Error("a person stepping in is not motion")
	}
}

func TestToUTF8(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"ascii", []byte("JKM1:ABC"), "JKM1:ABC"},
		{"utf-8", []byte("健康码 ok"), "健康码 ok"},
		{"gb18030", []byte{0xbd, 0xa1, 0xbf, 0xb5, 0xc2, 0xeb}, "健康码"},
		{"gb18030 sentence", []byte{0xc7, 0xeb, 0xb3, 0xf6, 0xca, 0xbe, 0xbd, 0xa1, 0xbf, 0xb5, 0xc2, 0xeb}, "请出示健康码"},
		{"shift_jis", []byte{0x83, 0x65, 0x83, 0x58, 0x83, 0x67, 0x93, 0xfa, 0x96, 0x7b, 0x8c, 0xea}, "テスト日本語"},
		{"shift_jis mecard", append([]byte("MECARD:N:"), 0x91, 0xaa, 0x8e, 0x8e, ';', ';'), "MECARD:N:測試;;"},
		{"latin-1", []byte{'c', 'a', 'f', 0xe9}, "café"},
	}
	for _, tc := range cases {
		if got := ToUTF8(tc.raw); got != tc.want {
			t.Errorf("%s: ToUTF8(% x) = %q, want %q", tc.name, tc.raw, got, tc.want)
		}
	}
}

func FuzzToUTF8(f *testing.F) {
	f.Add([]byte("JKM1:ABC"))
	f.Add([]byte{0xbd, 0xa1, 0xbf, 0xb5, 0xc2, 0xeb})
	f.Add([]byte{0x83, 0x65, 0x83, 0x58, 0x83, 0x67})
	f.Add([]byte{0xff, 0xfe, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := ToUTF8(b)
		if !strings.ContainsRune(s, 0xfffd) && len(b) > 0 && s == "" {
			t.Errorf("non-empty input %x gave empty text", b)
		}
		if !isValidUTF8(s) {
			t.Errorf("ToUTF8(%x) = %q is not UTF-8", b, s)
		}
	})
}

func TestConfig(t *testing.T) {
	cases := []struct {
		params device.Params
		err    string
	}{
		{device.Params{"device": "/dev/video0", "source": "file:/tmp"}, "either device or source"},
		{device.Params{"source": "/tmp/x"}, "want file:PATH"},
		{device.Params{"fps": 500}, "fps 500"},
		{device.Params{"width": 100, "height": 100}, "width×height"},
		{device.Params{"colour": true}, `unknown key "colour"`},
		{device.Params{"hold": "forever"}, `key "hold": "forever" is not a duration`},
		{device.Params{"hold": "0s"}, "hold 0s: want"},
		{device.Params{"hold": "2m"}, "hold 2m0s: want"},
	}
	for _, tc := range cases {
		_, err := device.OpenCodeScanner(context.Background(), DriverName, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: error %v, want one mentioning %q", tc.params, err, tc.err)
		}
	}
}

// TestMissingCameraDoesNotFailOpen: an unplugged camera is a health state, not a start failure.
func TestMissingCameraDoesNotFailOpen(t *testing.T) {
	s, err := Open(Config{Device: "/dev/video-onepass-absent"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitHealth(t, s, device.Down, "camera gone")
	if err := s.SelfTest(context.Background()); err == nil || !strings.Contains(err.Error(), "no frame") {
		t.Errorf("SelfTest without a camera: %v", err)
	}
}

func waitHealth(t *testing.T, s *Scanner, state device.HealthState, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := s.Health()
		if h.State == state && strings.Contains(h.Reason, reason) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("health %s; want %s with %q", h, state, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writePNG(t *testing.T, path string, m gocv.Mat) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	if !gocv.IMWrite(tmp, m) {
		t.Fatalf("write %s", tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestFolderSource runs the whole part: images dropped into the folder are scanned once each,
// the camera going away and coming back is seen in Health, and SelfTest passes.
func TestFolderSource(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cam")
	os.Mkdir(dir, 0o755)
	s, err := Open(Config{Source: "file:" + dir, Width: 640, Height: 480, FPS: 15, Hold: &device.Duration{Duration: 800 * time.Millisecond}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitHealth(t, s, device.OK, "")
	if err := s.SelfTest(context.Background()); err != nil {
		t.Fatalf("SelfTest: %v", err)
	}
	code := renderQR(t, "FIRST", 'M', 5)
	writePNG(t, filepath.Join(dir, "a.png"), code)
	next := func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sc, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		return sc.Text
	}
	if got := next(); got != "FIRST" {
		t.Fatalf("scan %q, want FIRST", got)
	}
	// The same code shown again (a new picture of it) is a new scan, after the first one ends.
	writePNG(t, filepath.Join(dir, "b.png"), code)
	writePNG(t, filepath.Join(dir, "c.png"), renderQR(t, "SECOND", 'M', 5))
	if got := next(); got != "FIRST" {
		t.Fatalf("scan %q, want FIRST again", got)
	}
	if got := next(); got != "SECOND" {
		t.Fatalf("scan %q, want SECOND", got)
	}
	// The camera goes away and comes back.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, s, device.Down, "camera")
	os.Mkdir(dir, 0o755)
	waitHealth(t, s, device.OK, "")
	writePNG(t, filepath.Join(dir, "d.png"), renderQR(t, "THIRD", 'M', 5))
	if got := next(); got != "THIRD" {
		t.Fatalf("scan %q after reconnecting, want THIRD", got)
	}
}

// TestScanFileVideo: a recorded video is read frame by frame; a code shown twice is two scans.
func TestScanFileVideo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clip.avi")
	vw, err := gocv.VideoWriterFile(path, "MJPG", 15, 640, 480, true)
	if err != nil || !vw.IsOpened() {
		t.Fatalf("OpenCV cannot write an MJPG video here: %v", err)
	}
	code := renderQR(t, "VIDEO CODE", 'M', 5)
	scene := camtest.Scene(image.Pt(640, 480), 5)
	defer scene.Close()
	withCode := camtest.Render(code, scene, camtest.Look{Frame: image.Pt(640, 480), Width: 220, Seed: 2})
	defer withCode.Close()
	// 1 s empty, 2 s code, 3 s empty, 1 s code.
	for _, part := range []struct {
		m gocv.Mat
		n int
	}{{scene, 15}, {withCode, 30}, {scene, 45}, {withCode, 15}} {
		for range part.n {
			vw.Write(part.m)
		}
	}
	vw.Close()
	res, err := ScanFile(context.Background(), newDecoder(t, ""), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.Frames != 105 {
		t.Errorf("%d frames read, want 105", res.Frames)
	}
	if got := texts(res.Codes); len(got) != 2 || got[0] != "VIDEO CODE" || got[1] != "VIDEO CODE" {
		t.Errorf("codes %q, want the code twice", got)
	}
}

func TestScanFileErrors(t *testing.T) {
	dec := newDecoder(t, "")
	txt := filepath.Join(t.TempDir(), "note.txt")
	os.WriteFile(txt, []byte("hello"), 0o644)
	for _, p := range []string{txt, t.TempDir(), "/nonexistent.png"} {
		if _, err := ScanFile(context.Background(), dec, p); err == nil {
			t.Errorf("ScanFile(%s): no error", p)
		}
	}
	_, err := ScanFile(context.Background(), dec, "/nonexistent.png")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}
