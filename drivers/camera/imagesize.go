package camera

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers GIF for image.DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"
	"strconv"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxImagePixels is the most pixels a picture handed to OpenCV may have (4096×4096, 16 Mpx):
// a 12 Mpx phone photo fits. OpenCV decodes first and asks later, 3 bytes a pixel plus the
// pipeline's copies: a 249 KB PNG claiming 16000×16000 took the daemon from 222 MB to 972 MB.
// The --sim camera (POST /api/sim/code/image), its folder and `onepassctl scan` all check it.
const MaxImagePixels = 4096 * 4096

// ErrImageTooLarge is what an *ImageSizeError is (errors.Is).
var ErrImageTooLarge = errors.New("image too large")

// ErrImageFormat: the header is none of the formats whose size can be read before decoding.
var ErrImageFormat = errors.New("not an image whose size can be checked (PNG, JPEG, WebP, BMP, TIFF, GIF, PBM/PGM/PPM/PAM)")

// ImageSizeError is a picture over MaxImagePixels, with the size its header claims.
type ImageSizeError struct{ Width, Height int }

func (e *ImageSizeError) Error() string {
	return fmt.Sprintf("image of %d×%d pixels is over the limit of %d pixels (4096×4096)", e.Width, e.Height, MaxImagePixels)
}

// Is makes errors.Is(err, ErrImageTooLarge) hold.
func (e *ImageSizeError) Is(target error) bool { return target == ErrImageTooLarge }

// CheckImage reads only the header of a picture and says whether it may be decoded: its format
// (image.DecodeConfig's names, or "pnm"), ErrImageFormat for a format it cannot size, an
// *ImageSizeError over MaxImagePixels, or the header's own error.
func CheckImage(r io.Reader) (string, error) {
	br := bufio.NewReader(r)
	format := "pnm"
	w, h, err := pnmSize(br)
	if errors.Is(err, errNotPNM) {
		var cfg image.Config
		cfg, format, err = image.DecodeConfig(br)
		if errors.Is(err, image.ErrFormat) {
			return "", ErrImageFormat
		}
		w, h = cfg.Width, cfg.Height
	}
	if err != nil {
		return format, fmt.Errorf("%s header: %w", format, err)
	}
	if w <= 0 || h <= 0 {
		return format, fmt.Errorf("%s header: size %d×%d", format, w, h)
	}
	if w > MaxImagePixels || h > MaxImagePixels || w*h > MaxImagePixels { // each side first: no overflow
		return format, &ImageSizeError{Width: w, Height: h}
	}
	return format, nil
}

// CheckImageFile is CheckImage on a file.
func CheckImageFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return CheckImage(f)
}

var errNotPNM = errors.New("not a PNM image")

// pnmSize reads the size of a Netpbm image (P1–P6, and P7/PAM), which Go's image package does
// not know but OpenCV reads. errNotPNM when the magic is not there (nothing is consumed then).
func pnmSize(br *bufio.Reader) (w, h int, err error) {
	magic, err := br.Peek(2)
	if err != nil || magic[0] != 'P' || magic[1] < '1' || magic[1] > '7' {
		return 0, 0, errNotPNM
	}
	br.Discard(2)
	if magic[1] == '7' {
		return pamSize(br)
	}
	if w, err = pnmNumber(br); err == nil {
		h, err = pnmNumber(br)
	}
	return w, h, err
}

// maxHeader bounds what is read of a PNM header: comments could go on for ever.
const maxHeader = 4096

// pnmNumber skips whitespace and comments, then reads a decimal number.
func pnmNumber(br *bufio.Reader) (int, error) {
	var digits []byte
	for n := 0; ; n++ {
		if n > maxHeader {
			return 0, errors.New("header too long")
		}
		c, err := br.ReadByte()
		switch {
		case err == io.EOF && len(digits) > 0:
			return strconv.Atoi(string(digits))
		case err != nil:
			return 0, fmt.Errorf("header cut short: %w", err)
		case c >= '0' && c <= '9':
			if len(digits) == 9 { // more than any sane side; Atoi below never overflows
				return 0, errors.New("size too large a number")
			}
			digits = append(digits, c)
		case len(digits) > 0:
			if !isSpace(c) && c != '#' {
				return 0, fmt.Errorf("unexpected %q in header", c)
			}
			br.UnreadByte()
			return strconv.Atoi(string(digits))
		case c == '#':
			for c != '\n' && c != '\r' {
				if n++; n > maxHeader {
					return 0, errors.New("header too long")
				}
				if c, err = br.ReadByte(); err != nil {
					return 0, fmt.Errorf("header cut short: %w", err)
				}
			}
		case !isSpace(c):
			return 0, fmt.Errorf("unexpected %q in header", c)
		}
	}
}

// pamSize reads a PAM header's WIDTH and HEIGHT lines, up to ENDHDR.
func pamSize(br *bufio.Reader) (w, h int, err error) {
	read := 0
	for {
		line, err := br.ReadSlice('\n')
		if read += len(line); read > maxHeader || errors.Is(err, bufio.ErrBufferFull) {
			return 0, 0, errors.New("header too long")
		}
		if err != nil {
			return 0, 0, fmt.Errorf("header cut short: %w", err)
		}
		fields := bytes.Fields(line)
		if len(fields) == 0 || fields[0][0] == '#' {
			continue
		}
		switch string(fields[0]) {
		case "ENDHDR":
			return w, h, nil
		case "WIDTH", "HEIGHT":
			if len(fields) != 2 || len(fields[1]) > 9 {
				return 0, 0, fmt.Errorf("bad %s line", fields[0])
			}
			n, err := strconv.Atoi(string(fields[1]))
			if err != nil {
				return 0, 0, fmt.Errorf("%s: %w", fields[0], err)
			}
			if fields[0][0] == 'W' {
				w = n
			} else {
				h = n
			}
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
