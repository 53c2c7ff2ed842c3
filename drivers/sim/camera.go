package sim

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"onepass/device"
	"onepass/drivers/camera"
)

// openCamera is the real gocv driver reading a folder, so codes go through the real frame
// pipeline and decoder. `onepassctl sim code TEXT` draws a QR code of TEXT into that folder;
// `onepassctl sim code --image FILE` puts a picture there (a printed code, a phone photo).
func openCamera(rig *Rig) (device.CodeScanner, error) {
	dir, err := os.MkdirTemp("", "onepass-sim-camera-")
	if err != nil {
		return nil, err
	}
	s, err := camera.Open(camera.Config{Source: "file:" + dir, Width: 1280, Height: 720, FPS: 10}, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &FolderCamera{Scanner: s, dir: dir}
	rig.Codes = c
	return c, nil
}

// FolderCamera is the camera with the folder it reads; it shows codes by writing pictures there.
type FolderCamera struct {
	*camera.Scanner
	dir string
	n   atomic.Int64
}

// Show draws text as a QR code on white paper and holds it in front of the camera.
func (c *FolderCamera) Show(text string) {
	m, err := camera.RenderQR(text, 'M', 4)
	if err != nil {
		slog.Warn("sim camera: cannot draw the code", "err", err)
		return
	}
	defer m.Close()
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		slog.Warn("sim camera: cannot encode the code", "err", err)
		return
	}
	defer buf.Close()
	if err := c.put(buf.GetBytes()); err != nil {
		slog.Warn("sim camera", "err", err)
	}
}

// ShowImage holds a picture (PNG, JPEG, WebP…) in front of the camera. Its header is checked
// first: a picture over camera.MaxImagePixels is an *camera.ImageSizeError (ErrImageTooLarge),
// never decoded.
func (c *FolderCamera) ShowImage(b []byte) error {
	if _, err := camera.CheckImage(bytes.NewReader(b)); err != nil {
		return err
	}
	m, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil || m.Empty() {
		return errors.New("not an image OpenCV can read")
	}
	m.Close()
	return c.put(b)
}

// put writes the picture under a new name (a hidden temporary file renamed into place, so the
// camera never reads half a file); each picture is shown once.
func (c *FolderCamera) put(b []byte) error {
	name := fmt.Sprintf("%d-%06d.img", time.Now().UnixNano(), c.n.Add(1))
	ext := ".png"
	if len(b) > 3 && b[0] == 0xFF && b[1] == 0xD8 {
		ext = ".jpg"
	} else if len(b) > 12 && string(b[8:12]) == "WEBP" {
		ext = ".webp"
	}
	tmp := filepath.Join(c.dir, "."+name)
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("sim camera: %w", err)
	}
	return os.Rename(tmp, filepath.Join(c.dir, name+ext))
}

// Close stops the camera and removes its folder.
func (c *FolderCamera) Close() error {
	err := c.Scanner.Close()
	os.RemoveAll(c.dir)
	return err
}
