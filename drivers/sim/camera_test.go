package sim

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"os"
	"strings"
	"testing"

	"onepass/drivers/camera"
	"onepass/drivers/camera/camtest"
)

// TestShowImageChecksSizeFirst: POST /api/sim/code/image's picture is sized by its header before
// OpenCV decodes it: a tiny PNG claiming 16000×16000 pixels is refused (ErrImageTooLarge, the
// size named) and never reaches the camera's folder; a real picture is shown.
func TestShowImageChecksSizeFirst(t *testing.T) {
	rig, _ := open(t, Config{Camera: true})
	c := rig.Codes.(*FolderCamera)
	var small bytes.Buffer
	if err := png.Encode(&small, image.NewGray(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		image []byte
		want  string // "" shown
	}{
		{"small png", small.Bytes(), ""},
		{"png claiming 16000×16000", camtest.PNGClaiming(16000, 16000), "image of 16000×16000 pixels is over the limit"},
		{"not an image", []byte("hello"), "not an image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := files(t, c)
			err := c.ShowImage(tc.image)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ShowImage = %v, want %q", err, tc.want)
			}
			if strings.Contains(tc.name, "16000") && !errors.Is(err, camera.ErrImageTooLarge) {
				t.Errorf("%v is not camera.ErrImageTooLarge", err)
			}
			if after := files(t, c); after != before {
				t.Errorf("a refused picture went into the camera's folder (%d files, were %d)", after, before)
			}
		})
	}
}

func files(t *testing.T, c *FolderCamera) int {
	t.Helper()
	es, err := os.ReadDir(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
