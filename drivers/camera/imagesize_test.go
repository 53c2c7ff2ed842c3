package camera

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"

	"onepass/drivers/camera/camtest"
)

func encoded(t testing.TB, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b, image.NewRGBA(image.Rect(0, 0, 64, 48))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckImage(t *testing.T) {
	pngOK := encoded(t, func(b *bytes.Buffer, m image.Image) error { return png.Encode(b, m) })
	jpegOK := encoded(t, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) })
	bmpOK := encoded(t, func(b *bytes.Buffer, m image.Image) error { return bmp.Encode(b, m) })
	for _, tc := range []struct {
		name   string
		data   []byte
		format string
		want   string // "" fits; "too large" an *ImageSizeError; else in the error
	}{
		{"png", pngOK, "png", ""},
		{"jpeg", jpegOK, "jpeg", ""},
		{"bmp", bmpOK, "bmp", ""},
		{"png of exactly the limit", camtest.PNGClaiming(4096, 4096), "png", ""},
		{"png claiming 16000×16000", camtest.PNGClaiming(16000, 16000), "png", "image of 16000×16000 pixels is over the limit"},
		{"png one column over", camtest.PNGClaiming(4097, 4096), "png", "4097×4096"},
		{"png one row, too long", camtest.PNGClaiming(MaxImagePixels+1, 1), "png", "too large"},
		{"png of a million pixels a side", camtest.PNGClaiming(1<<20, 1<<20), "png", "too large"},
		{"png of the largest claim", camtest.PNGClaiming(1<<31-1, 1<<31-1), "png", "dimension overflow"}, // Go's own refusal
		{"pgm", []byte("P5\n640 480\n255\n"), "pnm", ""},
		{"ppm with comments", []byte("P6 # a comment\n# another\n 640\t480 255\n"), "pnm", ""},
		{"pbm claiming 16000×16000", []byte("P4\n16000 16000\n"), "pnm", "16000×16000"},
		{"pnm side of ten digits", []byte("P5 1000000000 1 255\n"), "pnm", "too large a number"},
		{"pnm cut short", []byte("P5 640"), "pnm", "cut short"},
		{"pnm junk", []byte("P5 640x480"), "pnm", "unexpected"},
		{"pnm zero width", []byte("P5 0 480 255\n"), "pnm", "size 0×480"},
		{"pam", []byte("P7\nWIDTH 640\nHEIGHT 480\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"), "pnm", ""},
		{"pam claiming 16000×16000", []byte("P7\nWIDTH 16000\nHEIGHT 16000\nENDHDR\n"), "pnm", "16000×16000"},
		{"unknown format", []byte("GIF87? no, not really"), "", "not an image whose size can be checked"},
		{"empty", nil, "", "not an image whose size can be checked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format, err := CheckImage(bytes.NewReader(tc.data))
			// "too large", or a size named: an *ImageSizeError ("size 0×480" is a bad header)
			tooLarge := tc.want == "too large" || strings.Contains(tc.want, "×") && !strings.HasPrefix(tc.want, "size")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("passed, want %q", tc.want)
			case tc.want != "" && tc.want != "too large" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("err %v, want %q", err, tc.want)
			case tooLarge != errors.Is(err, ErrImageTooLarge):
				t.Fatalf("err %v: ErrImageTooLarge %v, want %v", err, !tooLarge, tooLarge)
			}
			if format != tc.format {
				t.Errorf("format %q, want %q", format, tc.format)
			}
		})
	}
}

// TestScanFileRefusesHugeImage: a file claiming 16000×16000 pixels is refused by its header,
// with the size in the error, before OpenCV decodes it.
func TestScanFileRefusesHugeImage(t *testing.T) {
	dec, err := NewDecoder("")
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	path := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(path, camtest.PNGClaiming(16000, 16000), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ScanFile(t.Context(), dec, path)
	if !errors.Is(err, ErrImageTooLarge) || !strings.Contains(err.Error(), "16000×16000") {
		t.Fatalf("ScanFile = %v, want the size refused", err)
	}
}

// FuzzCheckImage: any header is sized or refused, never a panic or a hang; what passes is
// within the budget by Go's own reading of the header where Go knows the format.
func FuzzCheckImage(f *testing.F) {
	f.Add(camtest.PNGClaiming(16000, 16000))
	f.Add(camtest.PNGClaiming(64, 64))
	f.Add([]byte("P6 # c\n640 480 255\n"))
	f.Add([]byte("P7\nWIDTH 1\nHEIGHT 1\nENDHDR\n"))
	f.Add(encoded(f, func(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }))
	f.Fuzz(func(t *testing.T, b []byte) {
		format, err := CheckImage(bytes.NewReader(b))
		if err != nil || format == "pnm" {
			return
		}
		cfg, _, cerr := image.DecodeConfig(bytes.NewReader(b))
		if cerr != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > MaxImagePixels {
			t.Fatalf("passed %s header %+v (%v)", format, cfg, cerr)
		}
	})
}
