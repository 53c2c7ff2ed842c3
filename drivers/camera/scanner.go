// Package camera is the kiosk's code scanner: frames from a V4L2 camera (or a video file or a
// folder of images, for tests and --sim) go through a motion gate to OpenCV's wechat_qrcode decoder,
// called through a small cgo shim; each code shown is reported once.
//
// The driver registers as "gocv":
//
//	[camera]
//	driver = "gocv"
//	device = "/dev/video0"        # or source = "file:/path/to/video.mp4" / "file:/path/to/folder"
//	width = 1280
//	height = 720
//	fps = 15
//	models = "/usr/share/onepass/wechat_qrcode"   # CNN models; default: found (see FindModels); "none": model-free
package camera

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"onepass/device"
)

// DriverName is the name the driver registers under (`[camera] driver = "gocv"`).
const DriverName = "gocv"

// DefaultModels is where the package installs the wechat_qrcode CNN models (committed in the
// source tree at drivers/camera/wechat_qrcode). When the config names no models folder the decoder
// uses them from here, or from a source checkout (FindModels); docs/camera.md explains the
// measurements behind this default.
const DefaultModels = "/usr/share/onepass/wechat_qrcode"

// selfTestText is the text of the pattern SelfTest decodes.
const selfTestText = "ONEPASS SELF TEST"

func init() {
	device.RegisterCodeScanner(DriverName, func(ctx context.Context, p device.Params) (device.CodeScanner, error) {
		var c Config
		if err := p.Decode(&c); err != nil {
			return nil, err
		}
		return Open(c, nil)
	})
}

// Config is the [camera] section.
type Config struct {
	Device string `json:"device"` // V4L2 device, default /dev/video0
	Source string `json:"source"` // "file:PATH": a video file or a folder of images instead of a device
	Width  int    `json:"width"`  // frame size asked of the camera (and of folder frames)
	Height int    `json:"height"`
	FPS    int    `json:"fps"`
	Models string `json:"models"` // folder with the wechat_qrcode CNN models; "none" for the model-free decoder
	Loop   bool   `json:"loop"`   // play a video file source again and again
	// Hold is how long a folder source shows each image, e.g. "1s" (absent: 1 s).
	Hold *device.Duration `json:"hold"`
}

func (c *Config) normalise() error {
	if c.Device != "" && c.Source != "" {
		return errors.New("give either device or source, not both")
	}
	if c.Device == "" && c.Source == "" {
		c.Device = "/dev/video0"
	}
	if c.Source != "" {
		path, ok := strings.CutPrefix(c.Source, "file:")
		if !ok || path == "" {
			return fmt.Errorf("source %q: want file:PATH (a video file or a folder of images)", c.Source)
		}
	}
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 1280, 720
	}
	if c.Width < 160 || c.Width > 4096 || c.Height < 120 || c.Height > 4096 {
		return fmt.Errorf("width×height %d×%d: want 160×120 to 4096×4096", c.Width, c.Height)
	}
	if c.FPS == 0 {
		c.FPS = 15
	}
	if c.FPS < 1 || c.FPS > 120 {
		return fmt.Errorf("fps %d: want 1–120", c.FPS)
	}
	// A pointer, so that an explicit "0s" is refused rather than taken for the default.
	hold := c.Hold.Or(time.Second)
	if hold <= 0 || hold > time.Minute {
		return fmt.Errorf("hold %s: want a duration like \"1s\" (up to 1m)", hold)
	}
	c.Hold = &device.Duration{Duration: hold}
	return nil
}

// Scanner is the camera part: it captures, decodes in its own goroutine, and hands new codes to Next.
type Scanner struct {
	cfg    Config
	name   string
	dec    *Decoder
	logger *slog.Logger

	// modelsIssue is why the CNN models wanted are not in use ("" when they are, or "none" was
	// asked for): it turns an OK health into degraded. Set before run starts, read-only after.
	modelsIssue string

	out     chan device.Scan
	frames  atomic.Uint64 // frames captured
	decodes atomic.Uint64 // frames decoded

	mu     sync.Mutex
	health device.Health

	openSource func() (source, error)

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// Open starts a scanner. It fails only for a bad configuration; a camera that is missing is
// retried in the background and reported by Health. CNN models that are missing or corrupt (the
// default folders, or the one configured) do not stop the kiosk: it decodes model-free and Health
// says degraded, with the reason.
func Open(c Config, logger *slog.Logger) (*Scanner, error) {
	if err := c.normalise(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	SetThreads(1)
	dec, issue, err := openDecoder(c.Models)
	if err != nil {
		return nil, err
	}
	name := c.Device
	if c.Source != "" {
		name = c.Source
	}
	s := start(c, name, dec, issue, logger, nil)
	if issue != "" {
		s.logger.Warn("camera: "+issue, "models", c.Models)
	} else {
		s.logger.Info("camera decoder", "models", cmp.Or(dec.Models(), ModelsNone))
	}
	return s, nil
}

// openDecoder makes the decoder for the models setting, falling back to the model-free decoder
// (with the reason as issue) when the CNN models wanted cannot be used.
func openDecoder(setting string) (dec *Decoder, issue string, err error) {
	dir, merr := FindModels(setting)
	if merr != nil {
		issue = modelsIssue(merr)
	}
	dec, err = NewDecoder(dir)
	if err != nil && dir != "" {
		// The files verified but OpenCV would not load them (an OpenCV built without its DNN
		// module): the same fallback.
		issue = modelsIssue(err)
		dec, err = NewDecoder("")
	}
	if err != nil {
		return nil, "", fmt.Errorf("decoder: %w", err)
	}
	return dec, issue, nil
}

// start runs a scanner; open replaces the configured source (benchmarks feed generated frames).
func start(c Config, name string, dec *Decoder, modelsIssue string, logger *slog.Logger, open func() (source, error)) *Scanner {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scanner{
		cfg: c, name: name, dec: dec, modelsIssue: modelsIssue, logger: logger.With("part", "camera", "source", name),
		out: make(chan device.Scan, 16), cancel: cancel, done: make(chan struct{}), openSource: open,
		health: device.Health{State: device.Down, Reason: "starting", Since: time.Now()},
	}
	if s.openSource == nil {
		s.openSource = s.open
	}
	go s.run(ctx)
	return s
}

func (s *Scanner) setHealth(state device.HealthState, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.health.State == state && s.health.Reason == reason {
		return
	}
	s.health = device.Health{State: state, Reason: reason, Since: time.Now()}
	if state == device.OK {
		s.logger.Info("camera up")
	} else {
		s.logger.Warn("camera "+string(state), "reason", reason)
	}
}

// Health reports the camera's condition. A camera that works without the CNN models it should
// have is degraded: it reads fewer codes at a higher CPU cost (docs/camera.md).
func (s *Scanner) Health() device.Health {
	s.mu.Lock()
	h := s.health
	s.mu.Unlock()
	if s.modelsIssue != "" {
		switch h.State {
		case device.OK:
			h.State, h.Reason = device.Degraded, s.modelsIssue
		case device.Degraded:
			h.Reason += "; " + s.modelsIssue
		}
	}
	return h
}

// Models is the CNN models folder the decoder loaded; "" when it decodes model-free.
func (s *Scanner) Models() string { return s.dec.Models() }

func (s *Scanner) open() (source, error) {
	if s.cfg.Source == "" {
		return openDevice(s.cfg.Device, s.cfg.Width, s.cfg.Height, s.cfg.FPS)
	}
	path := strings.TrimPrefix(s.cfg.Source, "file:")
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openFolder(path, s.cfg.Width, s.cfg.Height, s.cfg.FPS, s.cfg.Hold.Duration)
	}
	return openVideo(path, true, s.cfg.Loop)
}

// run owns the source and the pipeline until Close.
func (s *Scanner) run(ctx context.Context) {
	defer close(s.done)
	pipe := NewPipeline(s.dec)
	defer pipe.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		src, err := s.openSource()
		if err != nil {
			s.setHealth(device.Down, "camera gone: "+err.Error())
			if sleepUntil(ctx, time.Now().Add(backoff)) != nil {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 250 * time.Millisecond
		s.setHealth(device.OK, "")
		pipe.Reset()
		err = s.capture(ctx, src, pipe, &frame)
		src.Close()
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errEnded):
			s.setHealth(device.Degraded, "source ended: "+s.name)
			<-ctx.Done()
			return
		default:
			s.setHealth(device.Down, "camera lost: "+err.Error())
		}
	}
}

// capture reads frames until the source fails.
func (s *Scanner) capture(ctx context.Context, src source, pipe *Pipeline, frame *gocv.Mat) error {
	decodeFailures := 0
	for {
		cut, err := src.Read(ctx, frame)
		if err != nil {
			return err
		}
		s.frames.Add(1)
		if cut {
			pipe.Reset()
		}
		now := time.Now()
		before := pipe.Decodes
		codes, err := pipe.Frame(*frame, now)
		s.decodes.Add(uint64(pipe.Decodes - before))
		if err != nil {
			// A decoder exception on one frame is not a camera failure; say it, keep going.
			if decodeFailures++; decodeFailures == 1 || decodeFailures%100 == 0 {
				s.logger.Warn("frame not decoded", "err", err, "failures", decodeFailures)
			}
			continue
		}
		for _, c := range codes {
			s.emit(device.Scan{Text: c.Text, At: now, Source: s.name})
		}
	}
}

// emit queues a scan; when the lane does not keep up, the oldest waiting scan goes.
func (s *Scanner) emit(sc device.Scan) {
	for {
		select {
		case s.out <- sc:
			return
		default:
		}
		select {
		case <-s.out:
			s.logger.Warn("scan dropped: the lane is not reading")
		default:
		}
	}
}

// Next blocks until a new code is seen.
func (s *Scanner) Next(ctx context.Context) (device.Scan, error) {
	select {
	case sc := <-s.out:
		return sc, nil
	case <-s.done:
		return device.Scan{}, errors.New("camera closed")
	case <-ctx.Done():
		return device.Scan{}, ctx.Err()
	}
}

// SelfTest checks that frames arrive and that the decoder reads a generated test pattern.
func (s *Scanner) SelfTest(ctx context.Context) error {
	before := s.frames.Load()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.frames.Load() == before {
		select {
		case <-ctx.Done():
			return fmt.Errorf("camera self-test: no frame within 3 s (%s)", s.Health())
		case <-tick.C:
		}
	}
	return selfTestDecode(s.dec)
}

func selfTestDecode(dec *Decoder) error {
	pattern, err := RenderQR(selfTestText, 'M', 4)
	if err != nil {
		return err
	}
	defer pattern.Close()
	codes, err := dec.Decode(pattern)
	if err != nil {
		return fmt.Errorf("camera self-test: decoder: %w", err)
	}
	if len(codes) != 1 || codes[0].Text != selfTestText {
		return fmt.Errorf("camera self-test: the decoder did not read the test pattern (got %d codes)", len(codes))
	}
	return nil
}

// Close stops capturing and frees the camera and the decoder.
func (s *Scanner) Close() error {
	s.once.Do(func() {
		s.cancel()
		<-s.done
		s.dec.Close()
	})
	return nil
}
