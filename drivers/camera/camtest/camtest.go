// Package camtest makes camera frames for tests and benchmarks of the code scanner: a QR code on
// printed paper or on a phone screen, placed in a busy scene, with the faults real cameras see
// (perspective, rotation, blur, sensor noise, glare, low contrast, small codes, dark mode).
// Every frame is generated from a seed, so a failing case can be looked at again.
package camtest

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"

	"gocv.io/x/gocv"
)

// Look describes how a code appears in a frame. The zero value is a clean, upright printed code
// 240 pixels wide in a 1280×720 frame.
type Look struct {
	Frame    image.Point // frame size; default 1280×720
	Width    int         // width of the code (quiet zone included) in the frame, pixels; default 240
	Tilt     float64     // perspective: the far edge is this much shorter (0–0.5)
	Rotate   float64     // in-plane rotation, degrees
	Blur     float64     // Gaussian blur sigma, pixels
	Noise    float64     // sensor noise sigma, grey levels
	Contrast float64     // 0 or 1: full contrast; 0.25: dark grey on light grey
	Glare    float64     // 0–1: a bright spot over part of the code
	Screen   bool        // on a phone screen (lit display, dark bezel) instead of paper
	Invert   bool        // light modules on a dark background (dark-mode screens)
	Moire    float64     // 0–1: strength of the stripes a phone screen's pixel grid beats into
	Offset   image.Point // shift of the code's centre from the frame's centre
	Seed     uint64
}

func (l *Look) defaults() {
	if l.Frame == (image.Point{}) {
		l.Frame = image.Pt(1280, 720)
	}
	if l.Width == 0 {
		l.Width = 240
	}
	if l.Contrast == 0 {
		l.Contrast = 1
	}
}

// Scene draws an empty, edge-rich scene (a hall seen by the kiosk camera): shapes, lines and
// lettering on a shaded background, as a BGR frame.
func Scene(size image.Point, seed uint64) gocv.Mat {
	rng := rand.New(rand.NewPCG(seed, 0x6f6e6570617373))
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(150, 160, 170, 0), size.Y, size.X, gocv.MatTypeCV8UC3)
	rc := func() color.RGBA {
		return color.RGBA{uint8(40 + rng.IntN(200)), uint8(40 + rng.IntN(200)), uint8(40 + rng.IntN(200)), 0}
	}
	pt := func() image.Point { return image.Pt(rng.IntN(size.X), rng.IntN(size.Y)) }
	for range 12 {
		a, b := pt(), pt()
		gocv.Rectangle(&m, image.Rectangle{Min: a, Max: b}.Canon(), rc(), -1)
	}
	for range 25 {
		gocv.Line(&m, pt(), pt(), rc(), 1+rng.IntN(4))
	}
	for range 8 {
		gocv.Circle(&m, pt(), 5+rng.IntN(size.Y/6), rc(), 1+rng.IntN(3))
	}
	for _, s := range []string{"SERVICE HALL", "WAIT HERE", "EXIT", "NO 12"} {
		gocv.PutText(&m, s, pt(), gocv.FontHersheySimplex, 0.6+rng.Float64()*1.5, rc(), 2)
	}
	k := 3 + 2*rng.IntN(2)
	gocv.GaussianBlur(m, &m, image.Pt(k, k), 0, 0, gocv.BorderDefault)
	return m
}

// Render puts code (a grey image of a QR code with its quiet zone, as camera.RenderQR makes it)
// into scene with the look and returns the BGR frame. scene may be empty: a fresh Scene is drawn.
func Render(code gocv.Mat, scene gocv.Mat, l Look) gocv.Mat {
	l.defaults()
	rng := rand.New(rand.NewPCG(l.Seed, 0x636f6465))
	var frame gocv.Mat
	if scene.Empty() {
		frame = Scene(l.Frame, l.Seed)
	} else {
		frame = gocv.NewMat()
		gocv.Resize(scene, &frame, l.Frame, 0, 0, gocv.InterpolationArea)
	}

	// The object: the code on paper (a white margin) or on a phone (lit display in a dark body).
	obj, codeRect := carrier(code, l)
	defer obj.Close()

	// Where the object's corners land in the frame: scaled so the code is l.Width wide, rotated,
	// the far (top) edge shortened for perspective.
	scale := float64(l.Width) / float64(codeRect.Dx())
	ow, oh := float64(obj.Cols())*scale, float64(obj.Rows())*scale
	cx := float64(l.Frame.X)/2 + float64(l.Offset.X)
	cy := float64(l.Frame.Y)/2 + float64(l.Offset.Y)
	// Centre the code (not the object) at (cx, cy).
	ccx := (float64(codeRect.Min.X+codeRect.Max.X)/2 - float64(obj.Cols())/2) * scale
	ccy := (float64(codeRect.Min.Y+codeRect.Max.Y)/2 - float64(obj.Rows())/2) * scale
	top := 1 - l.Tilt
	corners := [4][2]float64{
		{-ow / 2 * top, -oh / 2}, {ow / 2 * top, -oh / 2}, {ow / 2, oh / 2}, {-ow / 2, oh / 2},
	}
	a := l.Rotate * math.Pi / 180
	sin, cos := math.Sin(a), math.Cos(a)
	var dst [4]gocv.Point2f
	for i, c := range corners {
		x, y := c[0]-ccx, c[1]-ccy
		dst[i] = gocv.Point2f{X: float32(cx + x*cos - y*sin), Y: float32(cy + x*sin + y*cos)}
	}
	W, H := float32(obj.Cols()), float32(obj.Rows())
	srcV := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{{X: 0, Y: 0}, {X: W, Y: 0}, {X: W, Y: H}, {X: 0, Y: H}})
	dstV := gocv.NewPoint2fVectorFromPoints(dst[:])
	defer srcV.Close()
	defer dstV.Close()
	tf := gocv.GetPerspectiveTransform2f(srcV, dstV)
	defer tf.Close()

	warped := gocv.NewMat()
	defer warped.Close()
	gocv.WarpPerspectiveWithParams(obj, &warped, tf, l.Frame, gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	mask := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), obj.Rows(), obj.Cols(), gocv.MatTypeCV8UC1)
	defer mask.Close()
	wmask := gocv.NewMat()
	defer wmask.Close()
	gocv.WarpPerspectiveWithParams(mask, &wmask, tf, l.Frame, gocv.InterpolationNearestNeighbor, gocv.BorderConstant, color.RGBA{})
	warped.CopyToWithMask(&frame, wmask)

	if l.Glare > 0 {
		glare := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), l.Frame.Y, l.Frame.X, gocv.MatTypeCV8UC3)
		r := max(8, l.Width/3)
		at := image.Pt(int(cx)+rng.IntN(r)-r/2, int(cy)+rng.IntN(r)-r/2)
		v := 255 * l.Glare
		gocv.Circle(&glare, at, r, color.RGBA{uint8(v), uint8(v), uint8(v), 0}, -1)
		k := 2*(r/2) + 1
		gocv.GaussianBlur(glare, &glare, image.Pt(k, k), 0, 0, gocv.BorderDefault)
		gocv.Add(frame, glare, &frame)
		glare.Close()
	}
	if l.Moire > 0 {
		addMoire(&frame, l.Moire, rng)
	}
	if l.Blur > 0 {
		gocv.GaussianBlur(frame, &frame, image.Point{}, l.Blur, l.Blur, gocv.BorderDefault)
	}
	if l.Noise > 0 {
		AddNoise(&frame, l.Noise, rng)
	}
	return frame
}

// carrier draws the object that carries the code and returns it with the code's place in it.
func carrier(code gocv.Mat, l Look) (gocv.Mat, image.Rectangle) {
	c := gocv.NewMat()
	defer c.Close()
	gocv.CvtColor(code, &c, gocv.ColorGrayToBGR)
	if l.Invert {
		gocv.BitwiseNot(c, &c)
	}
	// Contrast: modules and background move toward the middle grey.
	lo, hi := 128*(1-l.Contrast), 128+127*l.Contrast
	c.ConvertToWithParams(&c, gocv.MatTypeCV8UC3, float32((hi-lo)/255), float32(lo))
	n := c.Cols()
	if !l.Screen {
		// Paper: a sheet with a margin and a faint print line below the code.
		m := n / 5
		paperV := 128 + 110*l.Contrast
		obj := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(paperV, paperV, paperV+3, 0), n+2*m+m, n+2*m, gocv.MatTypeCV8UC3)
		r := image.Rect(m, m, m+n, m+n)
		roi := obj.Region(r)
		c.CopyTo(&roi)
		roi.Close()
		gocv.Line(&obj, image.Pt(m, n+m+m/2), image.Pt(n+m, n+m+m/2), color.RGBA{90, 90, 90, 0}, max(1, n/100))
		return obj, r
	}
	// Phone: a dark body, a lit display (slightly blue) with the code in its upper half.
	bezel, top := n/12, n/2
	dw, dh := n+n/4, 2*n
	bodyW, bodyH := dw+2*bezel, dh+2*bezel
	obj := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(25, 22, 20, 0), bodyH, bodyW, gocv.MatTypeCV8UC3)
	dispV := 255.0
	if l.Invert {
		dispV = 0
	}
	disp := obj.Region(image.Rect(bezel, bezel, bezel+dw, bezel+dh))
	disp.SetTo(gocv.NewScalar(dispV, dispV*0.97, dispV*0.95, 0))
	disp.Close()
	x := bezel + (dw-n)/2
	r := image.Rect(x, bezel+top, x+n, bezel+top+n)
	roi := obj.Region(r)
	c.CopyTo(&roi)
	roi.Close()
	return obj, r
}

// addMoire adds the beat of a screen's pixel grid against the sensor's: slanted stripes a few
// pixels apart, of amplitude strength×48 grey levels, with a random period and angle.
func addMoire(m *gocv.Mat, strength float64, rng *rand.Rand) {
	period := 3 + 3*rng.Float64()
	a := (20 + 50*rng.Float64()) * math.Pi / 180
	kx, ky := 2*math.Pi*math.Cos(a)/period, 2*math.Pi*math.Sin(a)/period
	rows, cols, ch := m.Rows(), m.Cols(), m.Channels()
	buf := make([]byte, rows*cols*ch)
	for y := range rows {
		for x := range cols {
			v := uint8(128 + strength*48*math.Sin(kx*float64(x)+ky*float64(y)))
			for c := range ch {
				buf[(y*cols+x)*ch+c] = v
			}
		}
	}
	pattern, err := gocv.NewMatFromBytes(rows, cols, m.Type(), buf)
	if err != nil {
		return
	}
	defer pattern.Close()
	gocv.AddWeighted(*m, 1, pattern, 1, -128, m)
}

// AddNoise adds Gaussian sensor noise of the given sigma (grey levels) to a frame, from rng.
func AddNoise(m *gocv.Mat, sigma float64, rng *rand.Rand) {
	n := m.Rows() * m.Cols() * m.Channels()
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = uint8(max(0, min(255, 128+rng.NormFloat64()*sigma)))
	}
	noise, err := gocv.NewMatFromBytes(m.Rows(), m.Cols(), m.Type(), buf)
	if err != nil {
		return
	}
	defer noise.Close()
	gocv.AddWeighted(*m, 1, noise, 1, -128, m)
}
