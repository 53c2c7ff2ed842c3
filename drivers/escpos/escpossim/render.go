package escpossim

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"

	"github.com/golang/freetype/truetype"
	"github.com/skip2/go-qrcode"
	"golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// FontPaths are where a CJK font is looked for when none is given (scripts/dev-setup.sh installs
// the first).
var FontPaths = []string{
	"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
	"/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
	"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
}

// Renderer draws receipts as the printer's head would: 8 dots per mm, font A 12×24 dots,
// magnification by whole dots, the printer's own QR code.
type Renderer struct {
	Width int // paper width in dots: 576 (80 mm, default) or 384 (58 mm)
	face  font.Face
	cjk   bool
}

const baseH = 24 // font A height in dots

// NewRenderer loads the CJK font at path ("" = the first of FontPaths found). Without one it
// still renders: ASCII in a built-in bitmap font and other characters as boxes.
func NewRenderer(path string) (*Renderer, error) {
	r := &Renderer{Width: 576, face: basicfont.Face7x13}
	paths := FontPaths
	if path != "" {
		paths = []string{path}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			if path != "" {
				return nil, fmt.Errorf("escpossim: font: %w", err)
			}
			continue
		}
		face, err := loadFace(b)
		if err != nil {
			return nil, fmt.Errorf("escpossim: font %s: %w", p, err)
		}
		r.face, r.cjk = face, true
		break
	}
	return r, nil
}

func loadFace(b []byte) (font.Face, error) {
	// freetype reads TrueType collections such as wqy-microhei.ttc, whose table layout
	// x/image/font/sfnt refuses; sfnt covers OpenType (CFF) fonts.
	if tf, err := truetype.Parse(b); err == nil {
		return truetype.NewFace(tf, &truetype.Options{Size: 22, Hinting: font.HintingFull}), nil
	}
	var f *opentype.Font
	if c, err := opentype.ParseCollection(b); err == nil {
		if f, err = c.Font(0); err != nil {
			return nil, err
		}
	} else if f, err = opentype.Parse(b); err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: 22, DPI: 72, Hinting: font.HintingFull})
}

// CJK reports whether Chinese glyphs are drawn (a CJK font was found).
func (r *Renderer) CJK() bool { return r.cjk }

// block is one drawn piece of the receipt.
type block struct {
	img   image.Image
	align int
	h     int
}

// Image renders a receipt on white paper.
func (r *Renderer) Image(rc Receipt) *image.Gray {
	var blocks []block
	total := 16
	for _, e := range rc.Elements {
		var b block
		if e.QR != "" {
			b = r.qr(e)
		} else {
			b = r.text(e)
		}
		blocks = append(blocks, b)
		total += b.h
	}
	total += 16
	img := image.NewGray(image.Rect(0, 0, r.Width, total))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	y := 16
	for _, b := range blocks {
		if b.img != nil {
			w := b.img.Bounds().Dx()
			x := 8
			switch b.align {
			case 1:
				x = (r.Width - w) / 2
			case 2:
				x = r.Width - w - 8
			}
			draw.Draw(img, image.Rect(x, y, x+w, y+b.img.Bounds().Dy()), b.img, b.img.Bounds().Min, draw.Over)
		}
		y += b.h
	}
	return img
}

// PNG renders a receipt as PNG.
func (r *Renderer) PNG(rc Receipt) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, r.Image(rc)); err != nil {
		return nil, fmt.Errorf("escpossim: png: %w", err)
	}
	return buf.Bytes(), nil
}

func (r *Renderer) text(e Element) block {
	h := baseH*e.H + 6
	if e.Text == "" {
		return block{h: h}
	}
	// Draw at 1× and scale by whole dots, as the printer magnifies its bitmap font.
	w := r.measure(e.Text)
	line := image.NewGray(image.Rect(0, 0, w+2, baseH))
	fg, bg := image.Black, image.White
	if e.Reverse {
		fg, bg = image.White, image.Black
	}
	draw.Draw(line, line.Bounds(), bg, image.Point{}, draw.Src)
	r.drawText(line, e.Text, fg, 0)
	if e.Bold {
		r.drawText(line, e.Text, fg, 1)
	}
	sw, sh := (w+2)*e.W, baseH*e.H
	if sw > r.Width-16 {
		sw = r.Width - 16 // the printer wraps; a test picture clips
	}
	scaled := image.NewGray(image.Rect(0, 0, sw, sh))
	draw.NearestNeighbor.Scale(scaled, scaled.Bounds(), line, line.Bounds(), draw.Src, nil)
	return block{img: scaled, align: e.Align, h: h}
}

func (r *Renderer) measure(s string) int {
	w := 0
	for _, c := range s {
		if adv, ok := r.face.GlyphAdvance(c); ok && (r.cjk || c < 0x80) {
			w += adv.Ceil()
		} else {
			w += baseH // a box
		}
	}
	return w
}

func (r *Renderer) drawText(dst *image.Gray, s string, fg image.Image, dx int) {
	d := &font.Drawer{Dst: dst, Src: fg, Face: r.face}
	asc := r.face.Metrics().Ascent.Ceil()
	x := dx
	for _, c := range s {
		adv, ok := r.face.GlyphAdvance(c)
		if !ok || (!r.cjk && c >= 0x80) {
			// No glyph: an outlined box, as a printer prints a character its font lacks.
			col := fg.At(0, 0)
			for i := 2; i < baseH-2; i++ {
				dst.Set(x+2, i, col)
				dst.Set(x+baseH-3, i, col)
				dst.Set(x+2+i-2, 2, col)
				dst.Set(x+2+i-2, baseH-3, col)
			}
			x += baseH
			continue
		}
		d.Dot = fixed.P(x, (baseH+asc)/2)
		d.DrawString(string(c))
		x += adv.Ceil()
	}
}

func (r *Renderer) qr(e Element) block {
	q, err := qrcode.New(e.QR, qrcode.Medium)
	if err != nil {
		// The printer prints nothing for data it cannot encode.
		return block{h: 8}
	}
	q.DisableBorder = true
	bm := q.Bitmap()
	size := max(e.QRSize, 1)
	n := len(bm) * size
	quiet := 4 * size
	img := image.NewGray(image.Rect(0, 0, n+2*quiet, n+2*quiet))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for y, row := range bm {
		for x, on := range row {
			if on {
				draw.Draw(img, image.Rect(quiet+x*size, quiet+y*size, quiet+(x+1)*size, quiet+(y+1)*size),
					&image.Uniform{color.Black}, image.Point{}, draw.Src)
			}
		}
	}
	return block{img: img, align: e.Align, h: img.Bounds().Dy() + 4}
}
