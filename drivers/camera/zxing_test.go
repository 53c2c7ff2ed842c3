package camera

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// TestDecodeZXing: zxing-cpp reads a rendered code with its text and corners in the image, a
// region of a larger frame included (the shim reads the Mat's row step), and refuses a colour image.
func TestDecodeZXing(t *testing.T) {
	code := renderQR(t, jkm1Like, 'M', 4)
	frame := gocv.NewMatWithSize(code.Rows()+100, code.Cols()+160, gocv.MatTypeCV8UC1)
	defer frame.Close()
	frame.SetTo(gocv.NewScalar(255, 0, 0, 0))
	at := image.Rect(120, 60, 120+code.Cols(), 60+code.Rows())
	dst := frame.Region(at)
	code.CopyTo(&dst)
	dst.Close()
	for name, img := range map[string]gocv.Mat{"frame": frame, "region": frame.Region(image.Rect(100, 40, frame.Cols(), frame.Rows()))} {
		codes, err := DecodeZXing(img)
		if err != nil || len(codes) != 1 || codes[0].Text != jkm1Like {
			t.Fatalf("%s: %d codes %q, %v; want the code", name, len(codes), texts(codes), err)
		}
		for _, c := range codes[0].Corner {
			if !c.In(image.Rect(0, 0, img.Cols()+1, img.Rows()+1)) {
				t.Errorf("%s: corner %v outside the %dx%d image", name, c, img.Cols(), img.Rows())
			}
		}
		if name == "region" {
			img.Close()
		}
	}
	colour := gocv.NewMat()
	defer colour.Close()
	gocv.CvtColor(code, &colour, gocv.ColorGrayToBGR)
	if _, err := DecodeZXing(colour); err == nil {
		t.Error("a 3-channel image was decoded; want an error")
	}
}

// FuzzDecodeZXing: any grey picture, a damaged code included, gives codes or nothing, never a
// crash, and every corner within reach of the image.
func FuzzDecodeZXing(f *testing.F) {
	code, err := RenderQR("JKM1:FUZZ", 'L', 2)
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := code.DataPtrUint8()
	f.Add(uint8(code.Cols()), append([]byte(nil), seed...))
	code.Close()
	f.Add(uint8(30), make([]byte, 900))
	f.Fuzz(func(t *testing.T, width uint8, px []byte) {
		w := int(width)
		if w == 0 || len(px) < w || len(px) > 1<<16 {
			return
		}
		h := len(px) / w
		img, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC1, px[:w*h])
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		codes, err := DecodeZXing(img)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			for _, q := range c.Corner {
				if q.X < -w || q.X > 2*w || q.Y < -h || q.Y > 2*h {
					t.Errorf("corner %v far outside the %dx%d image", q, w, h)
				}
			}
		}
	})
}
