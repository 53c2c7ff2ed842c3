package camera

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"gocv.io/x/gocv"
)

// FileResult is what ScanFile found in one file.
type FileResult struct {
	Codes  []Code
	Frames int           // 1 for a still image
	Decode time.Duration // time spent in the pipeline (file reading and image decoding excluded)
}

// ScanFile reads the codes in a still image or a video file with the kiosk's pipeline: a still
// image as a code held still in front of the camera, a video frame by frame at its own time base
// (motion gate, decode, one report per code shown).
func ScanFile(ctx context.Context, dec *Decoder, path string) (FileResult, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileResult{}, err
	}
	if st.IsDir() {
		return FileResult{}, errors.New("is a folder")
	}
	// The header says the size before OpenCV decodes anything (MaxImagePixels). A file whose
	// header is no image format it knows is tried as a video only.
	_, err = CheckImageFile(path)
	if err != nil && !errors.Is(err, ErrImageFormat) {
		return FileResult{}, err
	}
	pipe := NewPipeline(dec)
	defer pipe.Close()
	if err == nil {
		img := gocv.IMRead(path, gocv.IMReadColor)
		if !img.Empty() {
			defer img.Close()
			start := time.Now()
			codes, err := pipe.Still(img)
			return FileResult{Codes: codes, Frames: 1, Decode: time.Since(start)}, err
		}
		img.Close()
	}
	v, err := openVideo(path, false, false)
	if err != nil {
		return FileResult{}, errors.New("neither an image nor a video OpenCV can read")
	}
	defer v.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	var (
		res FileResult
		at  time.Time // the frame's time on the video's own clock
	)
	for ctx.Err() == nil {
		if _, err := v.Read(ctx, &frame); err != nil {
			if errors.Is(err, errEnded) {
				break
			}
			return res, err
		}
		start := time.Now()
		codes, err := pipe.Frame(frame, at)
		res.Decode += time.Since(start)
		if err != nil {
			return res, fmt.Errorf("frame %d: %w", res.Frames, err)
		}
		res.Frames++
		res.Codes = append(res.Codes, codes...)
		at = at.Add(v.FrameInterval())
	}
	return res, ctx.Err()
}
