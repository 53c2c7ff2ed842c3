package camera

import (
	"fmt"

	"github.com/skip2/go-qrcode"
	"gocv.io/x/gocv"
)

// RenderQR draws text as a black-on-white QR code with modulePx pixels per module and the standard
// four-module quiet zone, as a single-channel Mat. level is the error-correction level: 'L', 'M',
// 'Q' or 'H'. Used for the self-test pattern, the simulator and tests.
func RenderQR(text string, level byte, modulePx int) (gocv.Mat, error) {
	lv, ok := map[byte]qrcode.RecoveryLevel{'L': qrcode.Low, 'M': qrcode.Medium, 'Q': qrcode.High, 'H': qrcode.Highest}[level]
	if !ok {
		return gocv.NewMat(), fmt.Errorf("qr: error-correction level %q: want L, M, Q or H", level)
	}
	if modulePx < 1 {
		return gocv.NewMat(), fmt.Errorf("qr: %d pixels per module", modulePx)
	}
	q, err := qrcode.New(text, lv)
	if err != nil {
		return gocv.NewMat(), fmt.Errorf("qr: %w", err)
	}
	bits := q.Bitmap()
	n := len(bits) * modulePx
	buf := make([]byte, n*n)
	for y := range n {
		row := bits[y/modulePx]
		for x := range n {
			if !row[x/modulePx] {
				buf[y*n+x] = 255
			}
		}
	}
	return gocv.NewMatFromBytes(n, n, gocv.MatTypeCV8UC1, buf)
}
