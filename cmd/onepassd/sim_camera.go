package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"onepass/device"
	"onepass/drivers/camera"
	"onepass/drivers/sim"
)

// simCamera gives --sim its camera: the real gocv driver reading a folder, so codes go through the
// real frame pipeline and decoder. `onepassctl sim code TEXT` draws a QR code of TEXT into that
// folder; `onepassctl sim code --image FILE` puts a picture there (a printed code, a phone photo).
func simCamera(ctx context.Context, rig *sim.Rig) (device.CodeScanner, error) {
	dir, err := os.MkdirTemp("", "onepass-sim-camera-")
	if err != nil {
		return nil, fmt.Errorf("sim camera: %w", err)
	}
	s, err := camera.Open(camera.Config{Source: "file:" + dir, Width: 1280, Height: 720, FPS: 10}, nil)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("sim camera: %w", err)
	}
	c := &simCameraPart{Scanner: s, dir: dir}
	rig.Codes = c
	return c, nil
}

// simCameraPart is the camera with the folder it reads; it shows codes by writing pictures there.
type simCameraPart struct {
	*camera.Scanner
	dir string
	n   atomic.Int64
}

// Show draws text as a QR code on white paper and holds it in front of the camera.
func (c *simCameraPart) Show(text string) {
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

// ShowImage holds a picture (PNG, JPEG, WebP…) in front of the camera.
func (c *simCameraPart) ShowImage(b []byte) error {
	m, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil || m.Empty() {
		return errors.New("not an image OpenCV can read")
	}
	m.Close()
	return c.put(b)
}

// put writes the picture under a new name (a hidden temporary file renamed into place, so the
// camera never reads half a file); each picture is shown once.
func (c *simCameraPart) put(b []byte) error {
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
func (c *simCameraPart) Close() error {
	err := c.Scanner.Close()
	os.RemoveAll(c.dir)
	return err
}

// simImageHandler serves POST /api/sim/code/image: the body is a picture to show the camera.
func simImageHandler(rig *sim.Rig) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		shower, ok := rig.Codes.(interface{ ShowImage([]byte) error })
		if !ok {
			http.Error(w, "the simulated camera takes no pictures (a [camera] driver is configured)", http.StatusConflict)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20+1))
		if err != nil {
			http.Error(w, "read picture: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(b) > 16<<20 {
			http.Error(w, "picture over 16 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		if err := shower.ShowImage(b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
