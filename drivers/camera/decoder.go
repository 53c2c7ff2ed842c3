package camera

/*
#cgo pkg-config: opencv4 zxing
#cgo CXXFLAGS: --std=c++17
#include <stdlib.h>
#include "wechat.h"
#include "zxing.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"gocv.io/x/gocv"
)

// mallocArenas caps glibc's malloc arenas. OpenCV allocates each frame's buffers from whichever
// thread cgo runs it on, and glibc gives every such thread its own arena (up to 8 per core) that
// keeps its freed memory: with the default, the --sim daemon held 171 MB RSS after six codes, with
// two arenas 133 MB at the same decode speed (README, Measured). MALLOC_ARENA_MAX in the
// environment, when set, wins.
const mallocArenas = 2

// mallocMmapThreshold fixes the size from which glibc serves an allocation with its own mmap, given
// back on free. By default the threshold rises (up to 32 MB) after the first such free, so the
// frames, blobs and super-resolved crops OpenCV allocates per decode come from the arenas and stay
// resident as free memory: fixed at 1 MB, the --sim daemon held 146–149 MB instead of 154–162 MB
// (README, Measured; 256 KB did no better and mapped a 720p grey frame afresh each decode).
// MALLOC_MMAP_THRESHOLD_ in the environment, when set, wins.
const mallocMmapThreshold = 1 << 20

// The process's allocator is set once, before OpenCV allocates: in the daemon, in onepassctl scan
// and in tests alike, and in production without anything in the systemd unit.
func init() {
	if os.Getenv("MALLOC_ARENA_MAX") == "" {
		C.wq_limit_arenas(mallocArenas)
	}
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") == "" {
		C.wq_mmap_threshold(mallocMmapThreshold)
	}
}

// mmapServed says whether glibc serves an allocation of n bytes with its own mmap (given back on
// free) even after a larger mmapped one was freed: true when mallocMmapThreshold is in force.
func mmapServed(n int) bool { return C.wq_mmap_served(C.int(n)) != 0 }

// ModelFiles are the four files of wechat_qrcode's CNN detector and super-resolution network, in
// the order the decoder takes them.
var ModelFiles = [4]string{"detect.prototxt", "detect.caffemodel", "sr.prototxt", "sr.caffemodel"}

// Code is one QR symbol found in an image.
type Code struct {
	Raw    []byte         // the bytes as the decoder returned them
	Text   string         // Raw as UTF-8 (legacy CJK encodings converted, see ToUTF8)
	Corner [4]image.Point // the symbol's corners in the image
}

// Decoder reads QR codes with OpenCV's wechat_qrcode through a small cgo shim. It is safe for
// concurrent use; calls are serialised because the OpenCV object is not.
type Decoder struct {
	mu     sync.Mutex
	p      C.WQDecoder
	free   C.WQDecoder // the model-free detector as a second path beside the models; made on first use
	sr     C.WQDecoder // the super-resolution model without the detector: decodes a box's crop; made on first use
	net    *gocv.Net   // the CNN detector run by this package (Boxes); loaded on first use
	models string
}

// NewDecoder makes a decoder. With modelsDir empty it is the model-free decoder; otherwise the
// folder must hold the four ModelFiles exactly as the project ships them (VerifyModels). Use
// ResolveModels or FindModels to turn the `[camera] models` setting into modelsDir.
func NewDecoder(modelsDir string) (*Decoder, error) {
	paths := make([]*C.char, 4)
	if modelsDir != "" {
		if err := VerifyModels(modelsDir); err != nil {
			return nil, fmt.Errorf("models: %w (the folder needs %v as shipped in %s)", err, ModelFiles, sourceModels)
		}
		for i, name := range ModelFiles {
			paths[i] = C.CString(filepath.Join(modelsDir, name))
		}
	} else {
		for i := range paths {
			paths[i] = C.CString("")
		}
	}
	defer func() {
		for _, p := range paths {
			C.free(unsafe.Pointer(p))
		}
	}()
	var cerr *C.char
	p := C.wq_new(paths[0], paths[1], paths[2], paths[3], &cerr)
	if p == nil {
		msg := "unknown error"
		if cerr != nil {
			msg = C.GoString(cerr)
			C.free(unsafe.Pointer(cerr))
		}
		return nil, fmt.Errorf("wechat_qrcode: %s", msg)
	}
	return &Decoder{p: p, models: modelsDir}, nil
}

// Models is the models folder in use; "" for the model-free decoder.
func (d *Decoder) Models() string { return d.models }

// Decode finds and reads every QR code in img (grey or BGR).
func (d *Decoder) Decode(img gocv.Mat) ([]Code, error) {
	return d.decode(img, false)
}

// DecodeModelFree reads img with the model-free detector: a second path where the CNN detector
// finds nothing (it reads some tight, low-resolution crops the models miss). For a model-free
// decoder it is Decode. The second OpenCV object costs no model memory and is made on first use.
func (d *Decoder) DecodeModelFree(img gocv.Mat) ([]Code, error) {
	return d.decode(img, true)
}

func (d *Decoder) decode(img gocv.Mat, modelFree bool) ([]Code, error) {
	if img.Empty() {
		return nil, errors.New("decode: empty image")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p == nil {
		return nil, errors.New("decode: decoder closed")
	}
	p := d.p
	if modelFree && d.models != "" {
		if d.free == nil {
			free, err := newWechat("", "")
			if err != nil {
				return nil, fmt.Errorf("wechat_qrcode (model-free): %w", err)
			}
			d.free = free
		}
		p = d.free
	}
	return codesFrom(C.wq_decode(p, unsafe.Pointer(img.Ptr())), "wechat_qrcode")
}

// newWechat makes a wechat_qrcode object without the CNN detector: with the super-resolution
// model when its two files are given, else the model-free decoder.
func newWechat(srProto, srModel string) (C.WQDecoder, error) {
	empty, proto, model := C.CString(""), C.CString(srProto), C.CString(srModel)
	defer func() {
		for _, p := range []*C.char{empty, proto, model} {
			C.free(unsafe.Pointer(p))
		}
	}()
	var cerr *C.char
	p := C.wq_new(empty, empty, proto, model, &cerr)
	if p == nil {
		msg := "unknown error"
		if cerr != nil {
			msg = C.GoString(cerr)
			C.free(unsafe.Pointer(cerr))
		}
		return nil, errors.New(msg)
	}
	return p, nil
}

// codesFrom turns a shim's result into codes and frees it; who names the decoder in errors.
func codesFrom(r C.WQResult, who string) ([]Code, error) {
	defer C.wq_result_free(&r)
	if r.err != nil {
		return nil, fmt.Errorf("%s: %s", who, C.GoString(r.err))
	}
	if r.n == 0 {
		return nil, nil
	}
	raw := unsafe.Slice(r.codes, int(r.n))
	out := make([]Code, 0, len(raw))
	for _, c := range raw {
		b := C.GoBytes(unsafe.Pointer(c.data), c.len)
		code := Code{Raw: b, Text: ToUTF8(b)}
		for k := range 4 {
			code.Corner[k] = image.Pt(int(c.pts[2*k]+0.5), int(c.pts[2*k+1]+0.5))
		}
		out = append(out, code)
	}
	return out, nil
}

// Close frees the OpenCV object.
func (d *Decoder) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.p != nil {
		C.wq_free(d.p)
		d.p = nil
	}
	if d.free != nil {
		C.wq_free(d.free)
		d.free = nil
	}
	if d.sr != nil {
		C.wq_free(d.sr)
		d.sr = nil
	}
	if d.net != nil {
		d.net.Close()
		d.net = nil
	}
	return nil
}

// DecodeZXing reads img (8-bit grey; a region is fine) with zxing-cpp: a few milliseconds on a
// 640×480 photo where wechat_qrcode takes 10–180 ms, and it reads tight, sheared and tiny codes
// that wechat_qrcode misses (docs/camera.md). It needs no lock: zxing-cpp keeps no state.
func DecodeZXing(img gocv.Mat) ([]Code, error) {
	if img.Empty() || img.Type() != gocv.MatTypeCV8UC1 {
		return nil, errors.New("zxing: the image must be 8-bit grey")
	}
	return codesFrom(C.zx_read(unsafe.Pointer(img.Ptr())), "zxing")
}

// SetThreads sets OpenCV's worker thread count for the process. One thread halves the CPU per
// 720p frame at equal latency on a small kiosk CPU (see docs/camera.md).
func SetThreads(n int) { C.wq_set_threads(C.int(n)) }
