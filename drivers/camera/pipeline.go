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
	numPaths
)

var pathNames = [numPaths]string{"cnn", "inverted", "model-free", "equalised", "padded", "rotated"}

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
var stillPaths = []Path{PathPadded, PathCNN, PathInverted, PathEqualised, PathModelFree, PathRotated}

// Pipeline turns frames into scans: grey conversion, a motion gate on a thumbnail, decoding while
// something happens (and a few times a second otherwise), and de-duplication of a code held in view.
// `onepassctl scan` and the daemon run exactly this. It is used by one goroutine at a time.
type Pipeline struct {
	dec *Decoder

	grey, thumb, small, prev, diff, inv gocv.Mat
	havePrev                            bool
	clahe                               *gocv.CLAHE   // made on first use of PathEqualised
	budget                              time.Duration // stillBudget; 0: no limit (tests of the paths' order)

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
		inv: gocv.NewMat(), seen: map[string]time.Time{}, budget: stillBudget,
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
	for i := range codes {
		for k := range codes[i].Corner {
			codes[i].Corner[k] = codes[i].Corner[k].Add(r.Min)
		}
	}
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
		for i := range codes {
			for k := range codes[i].Corner {
				codes[i].Corner[k] = codes[i].Corner[k].Sub(image.Pt(b, b))
			}
		}
	case PathRotated:
		codes, err = p.decodeRotated()
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
	for i := range codes {
		for k, q := range codes[i].Corner {
			qx, qy := float64(q.X)-tx, float64(q.Y)-ty
			x := (e*qx-bb*qy)/det - float64(b)
			y := (-d*qx+a*qy)/det - float64(b)
			codes[i].Corner[k] = image.Pt(int(math.Round(x/scale)), int(math.Round(y/scale)))
		}
	}
	return codes, nil
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
	start, last := time.Now(), time.Duration(0)
	for _, path := range stillPaths {
		spent := time.Since(start)
		if p.budget > 0 && last > 0 && spent+last > p.budget {
			break
		}
		codes, err := p.decodePath(path)
		if err != nil || len(codes) > 0 {
			return codes, err
		}
		last = time.Since(start) - spent
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
