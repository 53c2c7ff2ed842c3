package camera

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"time"

	"gocv.io/x/gocv"
)

// Timing of the frame pipeline. They are constants rather than configuration: they follow from the
// decoder's cost and how people present codes, not from the hall (docs/camera.md).
const (
	// activeFor is how long every frame is decoded after motion or a decoded code.
	activeFor = 2 * time.Second
	// idleEvery is the decode interval while nothing moves: a code held perfectly still is still read.
	idleEvery = 500 * time.Millisecond
	// idleShare caps these heartbeat decodes to this share of wall time: the model-free decoder can
	// take a quarter of a second on a busy empty scene, and an empty hall must cost next to nothing.
	idleShare = 0.05
	// forgetAfter is how long a code must be out of sight before it counts as shown again.
	forgetAfter = 2 * time.Second
	// dutyCycle caps the share of wall time spent decoding, on average over the last few decodes,
	// so a slow decode (the model-free decoder on a busy scene takes 0.1–2 s) cannot take a whole
	// core.
	dutyCycle = 0.5
	// minDecodeGap caps decoding at 20 frames a second on average: the goal is 15 with a code in
	// view, and a cap at the goal itself lands under it with any jitter (a 30 fps camera's frames
	// come every 33 ms, so a 67 ms gap decoded every second frame at best, every third when one came
	// a little early: 12–14/s measured). Two thirds of a 30 fps camera's frames, under half of the
	// CPU of decoding every one while someone moves in front of it.
	minDecodeGap = time.Second / 20
	// paceSlack is how far ahead of its average pace a decode may run (both caps are averages: a
	// frame that comes early is still decoded, the next one waits longer).
	paceSlack = minDecodeGap
	// gateWidth is the width of the grey thumbnail the motion gate compares.
	gateWidth = 160
	// gateLevel is the grey-level change that counts a thumbnail pixel as changed; gateShare the
	// share of changed pixels that counts as motion. Sensor noise, averaged by the bilinear
	// downscale (cheap: four samples per thumbnail pixel, 0.15 ms for a 720p frame),
	// stays well below both.
	gateLevel = 18
	gateShare = 0.004
	// stillBudget is the time a still image may take (the 150 ms per image): a second path
	// starts only when the time spent so far plus the last path's time (the detector's cost
	// follows the image, so the next path costs about as much) fits in it. A code-free photo
	// whose first path is slow therefore stops there.
	stillBudget = 150 * time.Millisecond
	// modelFreeSide caps the longest side of the image the model-free path gets: its cost grows
	// with the pixels and the scene's texture (0.1–2.4 s on a busy 720p frame), and the codes it
	// reads where the models fail are small, tight crops.
	modelFreeSide = 640
	// rotatedSide is the least longest side the rotated path scales a still up to, and
	// rotatedAngle the turn it gives it: a small, blurred, tilted crop (a thumbnail of a photo)
	// that no path reads as it is read once it is larger and turned, the finder patterns off the
	// pixel grid (the real photo estimate-tilt.jpg at 15°, 30°, 60° and −30°, at 200 to 800 px).
	rotatedSide  = 400
	rotatedAngle = 30
	// wechatMin and wechatMax: wechat_qrcode's decoder reads a crop at scales 1 and ½ when both
	// sides are within them, and adds a doubled try (4× the pixels) when one is shorter: the crop
	// a box is decoded from is scaled into them (wechatInput), so a box's cost is bounded.
	wechatMin = 320
	wechatMax = 640
	// boxSide is the shorter side a box's crop is scaled down to: 2.3 px a module for a version-40
	// code; wechat_qrcode itself first tries a 780 px crop at half size (issue1132 reads so).
	boxSide = 400
	// srBelow: a crop whose geometric mean side is under this goes to wechat_qrcode as it is, whose
	// super-resolution model then doubles it (the model runs only on crops this small).
	srBelow = 160
	// boxZoomBelow: a crop whose longest side is under this is doubled (cubic) for zxing-cpp,
	// which has no super-resolution: small and circle-module codes read so (issue1086,
	// qr-circles-1). A larger one zxing-cpp has seen well enough in the whole frame.
	boxZoomBelow = wechatMin
	// nsPerWork is the first guess of wechat_qrcode's cost per unit of wechatWork on an image it
	// cannot read: 0.45–0.66 µs measured on the 2-core VM (sparse scenes to dense codes). A
	// pipeline then learns it from the boxes it could not read.
	nsPerWork = 550
	// trackMargin widens the box of the code read last, on each side, by this share of its size
	// for the tracked decode of the next live frame: a code held in a hand moves a few percent of
	// its size between decodes 50 ms apart.
	trackMargin = 0.5
)

// Path is one way of decoding a frame: the CNN detector on the grey frame (live video's first path) or a
// second path tried when that finds nothing.
type Path int

// The decode paths, in the order a still image tries them (docs/camera.md: what each reads).
const (
	PathCNN       Path = iota // the decoder as configured (CNN models by default) on the grey frame
	PathInverted              // the inverted frame: dark-mode screens
	PathModelFree             // the model-free detector, on a frame at most modelFreeSide px
	PathEqualised             // CLAHE-equalised frame: low contrast, shadows, glare
	PathPadded                // a replicated border around the frame: a code cut tight by the picture's edge
	PathRotated               // padded, scaled up to rotatedSide when smaller, turned by rotatedAngle: small tilted crops
	PathZXing                 // zxing-cpp on the frame and on the inverted frame: a few ms; tight, sheared, tiny codes
	PathBoxes                 // the CNN detector's boxes: zxing-cpp on each crop, then wechat_qrcode's decoder within the budget
	numPaths
)

var pathNames = [numPaths]string{"cnn", "inverted", "model-free", "equalised", "padded", "rotated", "zxing", "boxes"}

func (p Path) String() string {
	if p < 0 || p >= numPaths {
		return fmt.Sprintf("path(%d)", int(p))
	}
	return pathNames[p]
}

// livePaths: while nothing is read, every other decode of live video takes the next of these, so
// the frame rate stays that of the first path. Not the model-free path: on busy scenes it costs
// 0.1–0.5 s a decode even at 640 px, and on the real photos and the synthetic set it read nothing
// the others missed. Not the padded or rotated ones: a camera frame is never a tight crop, and a
// code in a full frame is large enough for the CNN detector at any angle (synthetic set).
var livePaths = []Path{PathInverted, PathEqualised}

// stillPaths: a still image tries these in order while the budget allows (Still). A still (a
// photo, a crop, a screenshot) is often cut tight around the code, without the quiet zone the
// detectors need: the padded frame read more of the real photos than the bare one (16 vs 12 of
// 20, all 12 among them), so it goes first: with the budget, a path of ~100 ms (the CNN detector
// on some small photos) leaves no room for a second one. The bare frame comes next: it reads glare
// the border hides from the detector (synthetic set).
// The rotated path comes last: it is the dearest on a large image, and it read only what the
// others missed on small ones.
//
// zxing-cpp and the boxes come before all of them: zxing-cpp reads most stills in a few
// milliseconds (11 of the 20 real photos, 3 more inverted), and the boxes path is the CNN path
// with its cost bounded (decodeBoxes). Together they read 18 of the 20 photos; the older paths
// follow for what the budget leaves.
var stillPaths = []Path{PathZXing, PathBoxes, PathPadded, PathCNN, PathInverted, PathEqualised, PathModelFree, PathRotated}

// Pipeline turns frames into scans: grey conversion, a motion gate on a thumbnail, decoding while
// something happens (and a few times a second otherwise), and de-duplication of a code held in view.
// `onepassctl scan` and the daemon run exactly this. It is used by one goroutine at a time.
type Pipeline struct {
	dec *Decoder

	grey, thumb, small, prev, diff, inv gocv.Mat
	havePrev                            bool
	clahe                               *gocv.CLAHE   // made on first use of PathEqualised
	budget                              time.Duration // stillBudget; 0: no limit (tests of the paths' order)
	deadline                            time.Time     // the running Still's start plus budget; zero: none
	nsPerWork                           float64       // what wechat_qrcode took per unit of wechatWork on boxes it could not read
	detectTook                          time.Duration // the CNN detector's last run

	activeUntil time.Time       // decode every frame until then
	nextIdle    time.Time       // next decode while idle
	pace        pacer           // the rate and duty caps
	secondNext  bool            // the next decode takes a second path (the last one read nothing)
	nextSecond  int             // which of livePaths it takes
	track       image.Rectangle // where the last live decode read a code; empty: none
	seen        map[string]time.Time

	// Counters for metrics and benchmarks.
	Frames, Decodes, Motion int
	DecodeTime              time.Duration
	// Tries counts decodes by path, Reads those that read a code.
	Tries, Reads [numPaths]int
	// TrackTries counts the tracked decodes of live video (the crop around the code read last),
	// TrackReads those that read it again.
	TrackTries, TrackReads int
}

// NewPipeline makes a pipeline around a decoder; Close frees its buffers (not the decoder).
func NewPipeline(dec *Decoder) *Pipeline {
	return &Pipeline{
		dec: dec, grey: gocv.NewMat(), thumb: gocv.NewMat(), small: gocv.NewMat(), prev: gocv.NewMat(), diff: gocv.NewMat(),
		inv: gocv.NewMat(), seen: map[string]time.Time{}, budget: stillBudget, nsPerWork: nsPerWork,
	}
}

// Close frees the pipeline's image buffers.
func (p *Pipeline) Close() error {
	for _, m := range []*gocv.Mat{&p.grey, &p.thumb, &p.small, &p.prev, &p.diff, &p.inv} {
		m.Close()
	}
	if p.clahe != nil {
		p.clahe.Close()
		p.clahe = nil
	}
	return nil
}

// Reset forgets the codes seen and the motion reference: a new scene starts.
func (p *Pipeline) Reset() {
	clear(p.seen)
	p.havePrev = false
	p.track = image.Rectangle{}
	p.activeUntil, p.nextIdle = time.Time{}, time.Time{}
}

// toGrey converts m into p.grey (BGR, BGRA or already grey).
func (p *Pipeline) toGrey(m gocv.Mat) error {
	switch m.Channels() {
	case 1:
		m.CopyTo(&p.grey)
	case 3:
		gocv.CvtColor(m, &p.grey, gocv.ColorBGRToGray)
	case 4:
		gocv.CvtColor(m, &p.grey, gocv.ColorBGRAToGray)
	default:
		return fmt.Errorf("frame with %d channels", m.Channels())
	}
	return nil
}

// moved compares a grey thumbnail of the frame with the previous one. The thumbnail is made before
// the grey conversion, so a frame that is not decoded costs a downscale and a tiny conversion only.
func (p *Pipeline) moved(m gocv.Mat) bool {
	w, h := m.Cols(), m.Rows()
	th := max(1, h*gateWidth/max(w, 1))
	gocv.Resize(m, &p.thumb, image.Pt(gateWidth, th), 0, 0, gocv.InterpolationLinear)
	switch p.thumb.Channels() {
	case 1:
		p.thumb.CopyTo(&p.small)
	case 3:
		gocv.CvtColor(p.thumb, &p.small, gocv.ColorBGRToGray)
	default:
		gocv.CvtColor(p.thumb, &p.small, gocv.ColorBGRAToGray)
	}
	if !p.havePrev || p.prev.Cols() != p.small.Cols() || p.prev.Rows() != p.small.Rows() {
		p.small.CopyTo(&p.prev)
		p.havePrev = true
		return true
	}
	gocv.AbsDiff(p.small, p.prev, &p.diff)
	gocv.Threshold(p.diff, &p.diff, gateLevel, 255, gocv.ThresholdBinary)
	changed := gocv.CountNonZero(p.diff)
	p.prev, p.small = p.small, p.prev
	return float64(changed) > gateShare*float64(gateWidth*th)
}

// Frame runs one camera frame taken at now through the pipeline and returns the codes that are
// new: seen for the first time, or again after being out of sight for a while.
func (p *Pipeline) Frame(m gocv.Mat, now time.Time) ([]Code, error) {
	if m.Empty() {
		return nil, fmt.Errorf("empty frame")
	}
	if c := m.Channels(); c != 1 && c != 3 && c != 4 {
		return nil, fmt.Errorf("frame with %d channels", c)
	}
	p.Frames++
	if p.moved(m) {
		p.Motion++
		p.activeUntil = now.Add(activeFor)
	}
	if now.Before(p.activeUntil) || !now.Before(p.nextIdle) {
		if !p.pace.ready(now) {
			return nil, nil
		}
		if err := p.toGrey(m); err != nil {
			return nil, err
		}
		start := time.Now()
		var codes []Code
		var err error
		if !p.track.Empty() {
			codes, err = p.decodeTracked()
		} else {
			path := PathCNN
			if p.secondNext {
				path = livePaths[p.nextSecond%len(livePaths)]
				p.nextSecond++
			}
			codes, err = p.decodePath(path)
		}
		took := time.Since(start)
		p.Decodes++
		p.DecodeTime += took
		p.nextIdle = now.Add(max(idleEvery, time.Duration(float64(took)/idleShare)))
		p.pace.spent(now, took)
		if err != nil {
			return nil, err
		}
		// Alternate the first path with a second one while nothing is read. Track a code the
		// first path read, in the same crop while the tracked decode reads it (the model-free
		// detector reports its whole input as the box, so its corners would only grow the crop).
		// Only a code alone: the model-free detector reads one code per image, so with two in view
		// the other would go unseen and be reported again once tracking ends.
		tracked := !p.track.Empty()
		p.secondNext = len(codes) == 0 && !p.secondNext && !tracked
		switch {
		case len(codes) != 1:
			p.track = image.Rectangle{}
		case !tracked:
			p.track = trackBox(codes, p.grey.Cols(), p.grey.Rows())
		}
		if len(codes) > 0 {
			p.activeUntil = now.Add(activeFor)
		}
		return p.fresh(codes, now), nil
	}
	return nil, nil
}

// pacer holds live decoding to minDecodeGap and dutyCycle on average. Each cap is a pace (a token
// bucket): the time at which the decodes so far would have been spent at the cap's rate. A decode
// may run up to paceSlack ahead of both, so a frame that arrives a little early is decoded rather
// than skipped for the next one, and one slow decode does not halve the rate by itself.
type pacer struct {
	rateAt time.Time // decodes so far at minDecodeGap each
	dutyAt time.Time // decode time so far over dutyCycle
}

// ready says whether a frame at now may be decoded.
func (c *pacer) ready(now time.Time) bool {
	return !now.Before(c.rateAt.Add(-paceSlack)) && !now.Before(c.dutyAt.Add(-paceSlack))
}

// spent counts a decode started at now that took took.
func (c *pacer) spent(now time.Time, took time.Duration) {
	c.rateAt = later(c.rateAt, now).Add(minDecodeGap)
	c.dutyAt = later(c.dutyAt, now).Add(time.Duration(float64(took) / dutyCycle))
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// fresh keeps the codes not seen within forgetAfter and remembers all of them as seen now.
func (p *Pipeline) fresh(codes []Code, now time.Time) []Code {
	for t, at := range p.seen {
		if now.Sub(at) > forgetAfter {
			delete(p.seen, t)
		}
	}
	var out []Code
	for _, c := range codes {
		if _, held := p.seen[string(c.Raw)]; !held {
			out = append(out, c)
		}
		p.seen[string(c.Raw)] = now
	}
	return out
}

// trackBox is the region the next live frame decodes after codes were read in a w×h frame: their
// corners' bounding box widened by trackMargin on each side, within the frame.
func trackBox(codes []Code, w, h int) image.Rectangle {
	var r image.Rectangle
	for _, c := range codes {
		for _, q := range c.Corner {
			r = r.Union(image.Rectangle{Min: q, Max: q.Add(image.Pt(1, 1))})
		}
	}
	m := image.Pt(int(float64(r.Dx())*trackMargin), int(float64(r.Dy())*trackMargin))
	return image.Rectangle{Min: r.Min.Sub(m), Max: r.Max.Add(m)}.Intersect(image.Rect(0, 0, w, h))
}

// decodeTracked decodes the crop of p.grey around the code read last (p.track) with the model-free
// detector: the CNN detector's cost per frame is fixed (it sees the frame at ~400×400 px whatever
// it holds) and most of a 720p decode, while the model-free one on a crop that is mostly code
// takes a few ms. A code that moved out of the crop, or one the model-free detector does not read,
// is back on the full first path at the next decode.
func (p *Pipeline) decodeTracked() ([]Code, error) {
	p.TrackTries++
	r := p.track.Intersect(image.Rect(0, 0, p.grey.Cols(), p.grey.Rows()))
	if r.Dx() < 21 || r.Dy() < 21 {
		return nil, nil
	}
	crop := p.grey.Region(r)
	defer crop.Close()
	// The decoder reads the Mat's data as one contiguous block: copy the region out.
	crop.CopyTo(&p.inv)
	codes, err := p.dec.DecodeModelFree(p.inv)
	if err != nil {
		return nil, fmt.Errorf("tracked decode: %w", err)
	}
	mapCorners(codes, func(q image.Point) image.Point { return q.Add(r.Min) })
	if len(codes) > 0 {
		p.TrackReads++
	}
	return codes, nil
}

// decodePath decodes p.grey (already converted) along one path.
func (p *Pipeline) decodePath(path Path) (codes []Code, err error) {
	if path >= 0 && path < numPaths {
		p.Tries[path]++
	}
	switch path {
	case PathCNN:
		codes, err = p.dec.Decode(p.grey)
	case PathInverted:
		gocv.BitwiseNot(p.grey, &p.inv)
		codes, err = p.dec.Decode(p.inv)
	case PathModelFree:
		if p.dec.Models() == "" {
			return nil, nil // the first path is already model-free
		}
		img := p.grey
		if side := max(p.grey.Cols(), p.grey.Rows()); side > modelFreeSide {
			f := float64(modelFreeSide) / float64(side)
			gocv.Resize(p.grey, &p.inv, image.Point{}, f, f, gocv.InterpolationArea)
			img = p.inv
		}
		codes, err = p.dec.DecodeModelFree(img)
	case PathEqualised:
		if p.clahe == nil {
			c := gocv.NewCLAHEWithParams(2, image.Pt(8, 8))
			p.clahe = &c
		}
		p.clahe.Apply(p.grey, &p.inv)
		codes, err = p.dec.Decode(p.inv)
	case PathPadded:
		b := max(p.grey.Cols(), p.grey.Rows()) / 5
		gocv.CopyMakeBorder(p.grey, &p.inv, b, b, b, b, gocv.BorderReplicate, color.RGBA{})
		codes, err = p.dec.Decode(p.inv)
		mapCorners(codes, func(q image.Point) image.Point { return q.Sub(image.Pt(b, b)) })
	case PathRotated:
		codes, err = p.decodeRotated()
	case PathZXing:
		if codes, err = DecodeZXing(p.grey); err == nil && len(codes) == 0 {
			gocv.BitwiseNot(p.grey, &p.inv)
			codes, err = DecodeZXing(p.inv)
		}
	case PathBoxes:
		codes, err = p.decodeBoxes()
	default:
		return nil, fmt.Errorf("unknown decode path %d", int(path))
	}
	if err != nil {
		return nil, fmt.Errorf("%s path: %w", path, err)
	}
	if len(codes) > 0 {
		p.Reads[path]++
	}
	return codes, nil
}

// decodeBoxes runs the CNN detector and reads its boxes, best first: zxing-cpp on each crop
// (doubled when small), then wechat_qrcode's decoder on the crop scaled by wechatInput, when the
// running Still's deadline leaves time for its predicted cost (wechatWork at the rate learnt).
// A false box on a code-free photo thus costs at most one bounded decode, often none.
func (p *Pipeline) decodeBoxes() ([]Code, error) {
	start := time.Now()
	boxes, err := p.dec.detectBoxes(p.grey)
	p.detectTook = time.Since(start)
	if err != nil {
		return nil, err
	}
	crop := gocv.NewMat()
	defer crop.Close()
	for _, b := range boxes {
		region := p.grey.Region(b.r)
		region.CopyTo(&crop)
		region.Close()
		// A small crop doubled for zxing-cpp; a larger one it has already seen, in the frame.
		var codes []Code
		scale := 2.0
		if max(b.r.Dx(), b.r.Dy()) < boxZoomBelow {
			gocv.Resize(crop, &p.inv, image.Point{}, scale, scale, gocv.InterpolationCubic)
			if codes, err = DecodeZXing(p.inv); err != nil {
				return nil, err
			}
		}
		if len(codes) == 0 {
			scale = wechatInput(b.r.Dx(), b.r.Dy())
			switch {
			case scale < 1:
				gocv.Resize(crop, &p.inv, image.Point{}, scale, scale, gocv.InterpolationArea)
			case scale > 1:
				gocv.Resize(crop, &p.inv, image.Point{}, scale, scale, gocv.InterpolationCubic)
			default:
				crop.CopyTo(&p.inv)
			}
			work := wechatWork(p.inv.Cols(), p.inv.Rows())
			if !p.deadline.IsZero() && time.Now().Add(time.Duration(work*p.nsPerWork)).After(p.deadline) {
				return nil, nil
			}
			began := time.Now()
			if codes, err = p.dec.decodeCrop(p.inv); err != nil {
				return nil, err
			}
			if len(codes) == 0 {
				p.nsPerWork = (p.nsPerWork + float64(time.Since(began))/work) / 2
			}
		}
		if len(codes) > 0 {
			mapCorners(codes, func(q image.Point) image.Point {
				return image.Pt(int(math.Round(float64(q.X)/scale)), int(math.Round(float64(q.Y)/scale))).Add(b.r.Min)
			})
			return codes, nil
		}
	}
	return nil, nil
}

// wechatInput is the scale a w×h crop is given before wechat_qrcode's decoder reads it: its
// shorter side into [wechatMin, boxSide] and its longer one under wechatMax, so the decoder
// tries two scales of at most boxSide px; a crop small enough for the super-resolution model
// stays as it is.
func wechatInput(w, h int) float64 {
	if math.Sqrt(float64(w)*float64(h)) < srBelow {
		return 1
	}
	short, long := float64(min(w, h)), float64(max(w, h))
	s := min(max(short, wechatMin), boxSide) / short
	if long*s >= wechatMax {
		s = (wechatMax - 1) / long
	}
	return s
}

// wechatWork is the pixels wechat_qrcode's decoder goes through on a w×h image it cannot read:
// each of its scales (1 and ½; and 2, by the super-resolution model or cubic, when a side is
// under wechatMin), four binarisers each. Its time is about proportional.
func wechatWork(w, h int) float64 {
	px := float64(w) * float64(h)
	if w < wechatMin || h < wechatMin {
		return px * (1 + 4 + 0.25)
	}
	return px * (1 + 0.25)
}

// worstCase is how long path may take on p.grey: wechat_qrcode's work on the whole image it
// decodes (one false box as large as the picture), at the rate learnt on unreadable boxes, plus
// the detector's time where the CNN runs. zxing-cpp's few milliseconds count as nothing.
func (p *Pipeline) worstCase(path Path) time.Duration {
	w, h := p.grey.Cols(), p.grey.Rows()
	detect := p.detectTook
	switch path {
	case PathZXing:
		return 0
	case PathBoxes:
		return detect
	case PathPadded:
		b := max(w, h) / 5
		w, h = w+2*b, h+2*b
	case PathRotated:
		if side := max(w, h); side < rotatedSide {
			w, h = w*rotatedSide/side, h*rotatedSide/side
		}
		b := max(w, h) / 6
		w, h = w+2*b, h+2*b
	case PathModelFree:
		detect = 0
		if side := max(w, h); side > modelFreeSide {
			w, h = w*modelFreeSide/side, h*modelFreeSide/side
		}
	}
	if p.dec.Models() == "" {
		detect = 0
	}
	return detect + time.Duration(wechatWork(w, h)*p.nsPerWork)
}

// decodeRotated decodes p.grey padded, scaled up to rotatedSide when smaller and turned by
// rotatedAngle, and maps the corners back into p.grey.
func (p *Pipeline) decodeRotated() ([]Code, error) {
	scale := 1.0
	if side := max(p.grey.Cols(), p.grey.Rows()); side < rotatedSide {
		scale = float64(rotatedSide) / float64(side)
		gocv.Resize(p.grey, &p.inv, image.Point{}, scale, scale, gocv.InterpolationCubic)
	} else {
		p.grey.CopyTo(&p.inv)
	}
	b := max(p.inv.Cols(), p.inv.Rows()) / 6
	padded := gocv.NewMat()
	defer padded.Close()
	gocv.CopyMakeBorder(p.inv, &padded, b, b, b, b, gocv.BorderReplicate, color.RGBA{})
	m := gocv.GetRotationMatrix2D(image.Pt(padded.Cols()/2, padded.Rows()/2), rotatedAngle, 1)
	defer m.Close()
	gocv.WarpAffineWithParams(padded, &p.inv, m, image.Pt(padded.Cols(), padded.Rows()),
		gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	codes, err := p.dec.Decode(p.inv)
	if err != nil {
		return nil, err
	}
	// q = A·(scale·x + b) + t, so x = (A⁻¹·(q − t) − b) / scale.
	a, bb, tx := m.GetDoubleAt(0, 0), m.GetDoubleAt(0, 1), m.GetDoubleAt(0, 2)
	d, e, ty := m.GetDoubleAt(1, 0), m.GetDoubleAt(1, 1), m.GetDoubleAt(1, 2)
	det := a*e - bb*d
	mapCorners(codes, func(q image.Point) image.Point {
		qx, qy := float64(q.X)-tx, float64(q.Y)-ty
		x := (e*qx-bb*qy)/det - float64(b)
		y := (-d*qx+a*qy)/det - float64(b)
		return image.Pt(int(math.Round(x/scale)), int(math.Round(y/scale)))
	})
	return codes, nil
}

// mapCorners moves every corner of codes through f: from the image a path decoded (a crop, a
// padded, scaled or turned copy) back into the frame's coordinates.
func mapCorners(codes []Code, f func(image.Point) image.Point) {
	for i := range codes {
		for k, q := range codes[i].Corner {
			codes[i].Corner[k] = f(q)
		}
	}
}

// Still decodes one still image the way the kiosk reads a code held still in front of it: the
// paths of stillPaths in turn until one reads a code or the next would overrun stillBudget.
func (p *Pipeline) Still(m gocv.Mat) ([]Code, error) {
	if m.Empty() {
		return nil, fmt.Errorf("empty image")
	}
	if err := p.toGrey(m); err != nil {
		return nil, err
	}
	start := time.Now()
	if p.budget > 0 {
		p.deadline = start.Add(p.budget)
		defer func() { p.deadline = time.Time{} }()
	}
	for i, path := range stillPaths {
		if p.budget > 0 && i > 0 && time.Since(start)+p.worstCase(path) > p.budget {
			continue
		}
		codes, err := p.decodePath(path)
		if err != nil || len(codes) > 0 {
			return codes, err
		}
	}
	return nil, nil
}

// StillPath decodes one still image along a single path, for measurements of each path alone.
func (p *Pipeline) StillPath(m gocv.Mat, path Path) ([]Code, error) {
	if m.Empty() {
		return nil, fmt.Errorf("empty image")
	}
	if err := p.toGrey(m); err != nil {
		return nil, err
	}
	return p.decodePath(path)
}
