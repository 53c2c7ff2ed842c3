package camera

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"unsafe"

	"gocv.io/x/gocv"
)

/*
#include "wechat.h"
*/
import "C"

// The CNN detector as wechat_qrcode runs it (its SSD model, fed a grey image scaled to about
// detectArea pixels), run here so the still path can bound what follows: wechat_qrcode decodes
// every box it finds, at two or three scales with four binarisers each, and on a code-free photo
// that one whole-picture false box costs 120–180 ms that cannot be cut short (docs/camera.md).
const (
	// detectSide: the detector sees every image letterboxed into one detectSide square (wechat_qrcode
	// keeps the aspect at about this area): a network reshaped for each new input size took 25 ms
	// instead of 10 when stills of different sizes follow each other.
	detectSide = 400
	// detectMinScore is wechat_qrcode's own threshold: every box it would decode.
	detectMinScore = 1e-5
	// boxPad widens a box on each side by this share of its size, at least boxMinPad px, as
	// wechat_qrcode's crop does: the detector's box is often tight on the code.
	boxPad    = 0.1
	boxMinPad = 15
)

// box is one region the CNN detector marks as a code.
type box struct {
	score float32
	r     image.Rectangle
}

// detectBoxes runs the CNN detector on grey and returns its boxes, best first, each widened by
// boxPad within the image. A model-free decoder has no detector: no boxes.
func (d *Decoder) detectBoxes(grey gocv.Mat) ([]box, error) {
	if d.models == "" {
		return nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p == nil {
		return nil, errors.New("detect: decoder closed")
	}
	if d.net == nil {
		net := gocv.ReadNetFromCaffe(filepath.Join(d.models, ModelFiles[0]), filepath.Join(d.models, ModelFiles[1]))
		if net.Empty() {
			net.Close()
			return nil, fmt.Errorf("detect: cannot load the CNN detector from %s", d.models)
		}
		d.net = &net
	}
	w, h := grey.Cols(), grey.Rows()
	scale := float64(detectSide) / float64(max(w, h))
	size := image.Pt(max(1, int(float64(w)*scale)), max(1, int(float64(h)*scale)))
	small, in := gocv.NewMat(), gocv.NewMat()
	defer small.Close()
	defer in.Close()
	gocv.Resize(grey, &small, size, 0, 0, gocv.InterpolationCubic)
	gocv.CopyMakeBorder(small, &in, 0, detectSide-size.Y, 0, detectSide-size.X, gocv.BorderConstant, color.RGBA{128, 128, 128, 255})
	blob := gocv.BlobFromImage(in, 1.0/255, image.Pt(detectSide, detectSide), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	d.net.SetInput(blob, "data")
	prob := d.net.Forward("detection_output")
	defer prob.Close()
	dims := prob.Size()
	if len(dims) != 4 || dims[3] != 7 {
		return nil, fmt.Errorf("detect: output of shape %v, want (1,1,N,7)", dims)
	}
	data, err := prob.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	var boxes []box
	for row := range dims[2] {
		v := data[row*7 : row*7+7] // image, class, score, x0, y0, x1, y1 (shares of the size)
		if v[1] != 1 || v[2] <= detectMinScore {
			continue
		}
		at := func(share float32) int { return int(float64(share) * detectSide / scale) }
		r := image.Rect(at(v[3]), at(v[4]), at(v[5]), at(v[6]))
		pad := image.Pt(max(int(boxPad*float64(r.Dx())), boxMinPad), max(int(boxPad*float64(r.Dy())), boxMinPad))
		r = image.Rectangle{Min: r.Min.Sub(pad), Max: r.Max.Add(pad)}.Intersect(image.Rect(0, 0, w, h))
		if r.Dx() > 20 && r.Dy() > 20 {
			boxes = append(boxes, box{score: v[2], r: r})
		}
	}
	slices.SortStableFunc(boxes, func(a, b box) int { return cmp.Compare(b.score, a.score) })
	return boxes, nil
}

// decodeCrop reads one box's crop (a continuous grey Mat) with wechat_qrcode's decoder and its
// super-resolution model but without the detector: the whole crop is the candidate.
func (d *Decoder) decodeCrop(crop gocv.Mat) ([]Code, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p == nil {
		return nil, errors.New("decode: decoder closed")
	}
	if d.sr == nil {
		sr, err := newWechat(filepath.Join(d.models, ModelFiles[2]), filepath.Join(d.models, ModelFiles[3]))
		if err != nil {
			return nil, fmt.Errorf("wechat_qrcode (super-resolution): %w", err)
		}
		d.sr = sr
	}
	return codesFrom(C.wq_decode(d.sr, unsafe.Pointer(crop.Ptr())), "wechat_qrcode")
}
