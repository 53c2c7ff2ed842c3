package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// errEnded is returned by a source that has nothing more to show (a video file at its end).
var errEnded = errors.New("source ended")

// source delivers frames.
type source interface {
	// Read stores the next frame in m. cut reports that a new scene starts (another image shown
	// by a folder source), so the pipeline forgets what it saw.
	Read(ctx context.Context, m *gocv.Mat) (cut bool, err error)
	Close() error
}

// deviceSource is a V4L2 camera.
type deviceSource struct {
	path string
	cap  *gocv.VideoCapture
}

func openDevice(path string, width, height, fps int) (*deviceSource, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w", path, errors.Unwrap(err))
	}
	cap, err := gocv.OpenVideoCaptureWithAPI(path, gocv.VideoCaptureV4L2)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !cap.IsOpened() {
		cap.Close()
		return nil, fmt.Errorf("%s: V4L2 cannot open it (busy, or not a capture device)", path)
	}
	// MJPEG lets USB 2 cameras deliver 720p at full rate; the driver falls back when it cannot.
	cap.Set(gocv.VideoCaptureFOURCC, cap.ToCodec("MJPG"))
	cap.Set(gocv.VideoCaptureFrameWidth, float64(width))
	cap.Set(gocv.VideoCaptureFrameHeight, float64(height))
	cap.Set(gocv.VideoCaptureFPS, float64(fps))
	// A short queue: when decoding is slower than the camera the next frame is a recent one.
	cap.Set(gocv.VideoCaptureBufferSize, 2)
	return &deviceSource{path: path, cap: cap}, nil
}

func (s *deviceSource) Read(ctx context.Context, m *gocv.Mat) (bool, error) {
	if !s.cap.Read(m) || m.Empty() {
		if _, err := os.Stat(s.path); err != nil {
			return false, fmt.Errorf("%s: %w", s.path, errors.Unwrap(err))
		}
		return false, fmt.Errorf("%s: no frame (camera stopped delivering)", s.path)
	}
	return false, nil
}

func (s *deviceSource) Close() error { return s.cap.Close() }

// videoSource plays a video file, at its own frame rate when realtime.
type videoSource struct {
	path     string
	cap      *gocv.VideoCapture
	interval time.Duration
	next     time.Time
	realtime bool
	loop     bool
}

func openVideo(path string, realtime, loop bool) (*videoSource, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	cap, err := gocv.OpenVideoCaptureWithAPI(path, gocv.VideoCaptureFFmpeg)
	if err != nil || !cap.IsOpened() {
		if cap != nil {
			cap.Close()
		}
		return nil, fmt.Errorf("%s: not a video OpenCV can read", path)
	}
	rate := cap.Get(gocv.VideoCaptureFPS)
	if rate <= 0 || rate > 240 {
		rate = 25
	}
	return &videoSource{path: path, cap: cap, interval: time.Duration(float64(time.Second) / rate), realtime: realtime, loop: loop}, nil
}

// FrameInterval is the time between two frames of the video.
func (s *videoSource) FrameInterval() time.Duration { return s.interval }

func (s *videoSource) Read(ctx context.Context, m *gocv.Mat) (bool, error) {
	if s.realtime {
		if err := sleepUntil(ctx, s.next); err != nil {
			return false, err
		}
		s.next = time.Now().Add(s.interval)
	}
	if s.cap.Read(m) && !m.Empty() {
		return false, nil
	}
	if !s.loop {
		return false, errEnded
	}
	s.cap.Set(gocv.VideoCapturePosFrames, 0)
	if !s.cap.Read(m) || m.Empty() {
		return false, fmt.Errorf("%s: cannot rewind", s.path)
	}
	return true, nil
}

func (s *videoSource) Close() error { return s.cap.Close() }

// folderSource shows the images of a folder to the pipeline, one after the other, each held in
// view for hold as frames of the configured size at fps, as a person holds a paper or a phone in
// front of the camera; between images it shows an empty grey scene. Images added later are shown
// when they appear (the --sim camera is such a folder), so a file is shown once.
type folderSource struct {
	dir      string
	size     image.Point
	interval time.Duration
	hold     time.Duration

	shown   map[string]time.Time // file name → modification time when shown
	scene   gocv.Mat             // the frame being held, or the empty scene
	blank   bool                 // scene is the empty scene
	until   time.Time
	next    time.Time
	listed  time.Time
	pending []string
}

func openFolder(dir string, width, height, fps int, hold time.Duration) (*folderSource, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a folder", dir)
	}
	s := &folderSource{
		dir: dir, size: image.Pt(width, height), interval: time.Second / time.Duration(max(fps, 1)), hold: hold,
		shown: map[string]time.Time{}, scene: gocv.NewMat(),
	}
	s.setBlank()
	return s, nil
}

func (s *folderSource) setBlank() {
	s.scene.Close()
	s.scene = gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), s.size.Y, s.size.X, gocv.MatTypeCV8UC3)
	s.blank = true
}

// isImage reports whether a file name has an extension OpenCV reads as a still image.
func isImage(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".pgm", ".ppm", ".pbm", ".tif", ".tiff":
		return true
	}
	return false
}

// list finds images not shown yet, in name order.
func (s *folderSource) list() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !isImage(e.Name()) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if at, ok := s.shown[e.Name()]; ok && at.Equal(info.ModTime()) {
			continue
		}
		s.shown[e.Name()] = info.ModTime()
		if !slices.Contains(s.pending, e.Name()) {
			s.pending = append(s.pending, e.Name())
		}
	}
	slices.Sort(s.pending)
	return nil
}

func (s *folderSource) Read(ctx context.Context, m *gocv.Mat) (bool, error) {
	if err := sleepUntil(ctx, s.next); err != nil {
		return false, err
	}
	now := time.Now()
	s.next = now.Add(s.interval)
	cut := false
	if now.After(s.until) {
		if now.Sub(s.listed) >= 100*time.Millisecond {
			s.listed = now
			if err := s.list(); err != nil {
				return false, fmt.Errorf("folder: %w", err)
			}
		}
		switch {
		case len(s.pending) > 0:
			name := s.pending[0]
			s.pending = s.pending[1:]
			if _, err := CheckImageFile(filepath.Join(s.dir, name)); err != nil {
				return false, fmt.Errorf("folder: %s: %w", name, err)
			}
			img := gocv.IMRead(filepath.Join(s.dir, name), gocv.IMReadColor)
			if img.Empty() {
				img.Close()
				return false, fmt.Errorf("folder: %s is not an image OpenCV can read", name)
			}
			s.scene.Close()
			s.scene = place(img, s.size)
			img.Close()
			s.blank, s.until, cut = false, now.Add(s.hold), true
		case !s.blank:
			s.setBlank()
			cut = true
		}
	}
	s.scene.CopyTo(m)
	return cut, nil
}

func (s *folderSource) Close() error { return s.scene.Close() }

// place puts img in the middle of a grey frame of the given size, shrunk to fit when larger.
func place(img gocv.Mat, size image.Point) gocv.Mat {
	frame := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), size.Y, size.X, gocv.MatTypeCV8UC3)
	w, h := img.Cols(), img.Rows()
	scale := min(1, float64(size.X)/float64(w), float64(size.Y)/float64(h))
	src := img
	if scale < 1 {
		w, h = max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale))
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(img, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
		src = small
	}
	x, y := (size.X-w)/2, (size.Y-h)/2
	roi := frame.Region(image.Rect(x, y, x+w, y+h))
	src.CopyTo(&roi)
	roi.Close()
	return frame
}

// sleepUntil waits until t or ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
