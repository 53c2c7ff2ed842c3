package idcard

import (
	"bytes"
	"fmt"
)

// Preamble starts every frame in both directions.
var Preamble = []byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

const (
	headerLen = 7 // preamble + 2-byte LEN
	// minLen is the smallest LEN of any frame (a command: CMD PARA CHK); replies have at least 4.
	minLen = 3
	// maxLen bounds LEN: the biggest real reply is 2321 − 7 = 2314 (text, photo and two
	// fingerprints). A larger value is noise that happens to follow a preamble.
	maxLen = 4096
)

// Encode builds a host→reader command frame: preamble, LEN (big-endian, counting CMD, PARA,
// DATA and CHK), CMD, PARA, DATA, and CHK = XOR of every byte from LEN to the last DATA byte.
func Encode(cmd, para byte, data []byte) []byte {
	return appendCommand(nil, cmd, para, data)
}

// appendCommand appends a command frame to dst without a temporary payload.
func appendCommand(dst []byte, cmd, para byte, data []byte) []byte {
	n := len(data) + 3
	dst = append(dst, Preamble...)
	start := len(dst)
	dst = append(dst, byte(n>>8), byte(n), cmd, para)
	dst = append(dst, data...)
	var x byte
	for _, b := range dst[start:] {
		x ^= b
	}
	return append(dst, x)
}

// appendFrame frames a payload (everything between LEN and CHK).
func appendFrame(dst, payload []byte) []byte {
	n := len(payload) + 1
	dst = append(dst, Preamble...)
	dst = append(dst, byte(n>>8), byte(n))
	dst = append(dst, payload...)
	var x byte
	for _, b := range dst[len(dst)-len(payload)-2:] {
		x ^= b
	}
	return append(dst, x)
}

// Split looks for one frame at the start of buf, resynchronising on the preamble. It returns
//   - n > 0, the payload (the bytes between LEN and CHK) and nil: buf[:n] was one valid frame;
//   - n > 0, nil and an error (ErrNoise, ErrFrameLength, ErrFrameChecksum): buf[:n] must be
//     dropped and Split called again on the rest;
//   - 0, nil, nil: more bytes are needed.
//
// After a bad length or checksum only the first byte is dropped, so a good frame that began inside
// the bad one (a truncated frame followed by a whole one) is still found.
func Split(buf []byte) (n int, payload []byte, err error) {
	i := bytes.Index(buf, Preamble)
	if i < 0 {
		// Keep a tail that could be the start of a preamble cut by the read boundary.
		keep := 0
		for k := min(len(Preamble)-1, len(buf)); k > 0; k-- {
			if bytes.Equal(buf[len(buf)-k:], Preamble[:k]) {
				keep = k
				break
			}
		}
		if drop := len(buf) - keep; drop > 0 {
			return drop, nil, ErrNoise
		}
		return 0, nil, nil
	}
	if i > 0 {
		return i, nil, ErrNoise
	}
	if len(buf) < headerLen {
		return 0, nil, nil
	}
	l := int(buf[5])<<8 | int(buf[6])
	if l < minLen || l > maxLen {
		return 1, nil, fmt.Errorf("%w: %d", ErrFrameLength, l)
	}
	total := headerLen + l
	if len(buf) < total {
		return 0, nil, nil
	}
	var x byte
	for _, b := range buf[5:total] {
		x ^= b
	}
	if x != 0 { // XOR over LEN..CHK inclusive is zero for a good frame
		return 1, nil, ErrFrameChecksum
	}
	return total, buf[headerLen : total-1], nil
}

// frameStarted reports whether buf begins with a whole preamble: bytes of a frame in progress,
// which are given up as truncated when the line goes quiet.
func frameStarted(buf []byte) bool { return bytes.HasPrefix(buf, Preamble) }

// Response is one reader→host frame: the three status bytes and the command's data.
type Response struct {
	SW1, SW2 byte
	SW3      Status
	Data     []byte
}

// ParseResponse reads a reply payload (as returned by Split).
func ParseResponse(payload []byte) (Response, error) {
	if len(payload) < 3 {
		return Response{}, fmt.Errorf("%w: %d payload bytes, want at least SW1 SW2 SW3", ErrBadReply, len(payload))
	}
	return Response{SW1: payload[0], SW2: payload[1], SW3: Status(payload[2]), Data: payload[3:]}, nil
}

// Err is nil for the two success codes (90, 9F) and the Status otherwise. 91 (no content) is an
// error here; the commands for which it is a normal answer handle it.
func (r Response) Err() error {
	if r.SW3 == StatusOK || r.SW3 == StatusFound {
		return nil
	}
	return r.SW3
}
