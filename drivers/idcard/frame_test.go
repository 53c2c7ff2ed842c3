package idcard_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"onepass/drivers/idcard"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The complete command frames printed in the spec (§3.1, §3.6), checksums included.
func TestEncodeSpecFrames(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cmd, para byte
		data      []byte
		want      string
	}{
		{"reset SAM", 0x10, 0xFF, nil, "AA AA AA 96 69 00 03 10 FF EC"},
		{"SAM status", 0x11, 0xFF, nil, "AA AA AA 96 69 00 03 11 FF ED"},
		{"SAM ID", 0x12, 0xFF, nil, "AA AA AA 96 69 00 03 12 FF EE"},
		{"find", 0x20, 0x01, nil, "AA AA AA 96 69 00 03 20 01 22"},
		{"select", 0x20, 0x02, nil, "AA AA AA 96 69 00 03 20 02 21"},
		{"read base", 0x30, 0x01, nil, "AA AA AA 96 69 00 03 30 01 32"},
		{"read base+FP", 0x30, 0x10, nil, "AA AA AA 96 69 00 03 30 10 23"},
		{"appended address", 0x30, 0x03, nil, "AA AA AA 96 69 00 03 30 03 30"},
		{"management number", 0x30, 0x05, nil, "AA AA AA 96 69 00 03 30 05 36"},
		{"baud 115200", 0x60, 0x00, nil, "AA AA AA 96 69 00 03 60 00 63"},
		{"baud 57600", 0x60, 0x01, nil, "AA AA AA 96 69 00 03 60 01 62"},
		{"baud 38400", 0x60, 0x02, nil, "AA AA AA 96 69 00 03 60 02 61"},
		{"baud 19200", 0x60, 0x03, nil, "AA AA AA 96 69 00 03 60 03 60"},
		{"baud 9600", 0x60, 0x04, nil, "AA AA AA 96 69 00 03 60 04 67"},
		{"max RF bytes", 0x61, 0xFF, []byte{0x50}, "AA AA AA 96 69 00 04 61 FF 50 CA"},
	} {
		if got := idcard.Encode(tc.cmd, tc.para, tc.data); !bytes.Equal(got, unhex(t, tc.want)) {
			t.Errorf("%s: % X, want %s", tc.name, got, tc.want)
		}
	}
}

// The reply frames printed in the spec decode to the right status and data.
func TestSplitSpecReplies(t *testing.T) {
	for _, tc := range []struct {
		frame string
		sw3   idcard.Status
		data  int
	}{
		{"AA AA AA 96 69 00 04 00 00 80 84", idcard.StatusNoCard, 0},
		{"AA AA AA 96 69 00 04 00 00 81 85", idcard.StatusSelectFailed, 0},
		{"AA AA AA 96 69 00 04 00 00 41 45", idcard.StatusReadFailed, 0},
		{"AA AA AA 96 69 00 04 00 00 91 95", idcard.StatusNoContent, 0},
		{"AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", idcard.StatusFound, 4},
		{"AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", idcard.StatusOK, 8},
	} {
		b := unhex(t, tc.frame)
		n, payload, err := idcard.Split(b)
		if err != nil || n != len(b) {
			t.Errorf("%s: n=%d err=%v", tc.frame, n, err)
			continue
		}
		r, err := idcard.ParseResponse(payload)
		if err != nil || r.SW3 != tc.sw3 || len(r.Data) != tc.data {
			t.Errorf("%s: %+v %v", tc.frame, r, err)
		}
		if (r.Err() == nil) != (tc.sw3 == idcard.StatusOK || tc.sw3 == idcard.StatusFound) {
			t.Errorf("%s: Err() = %v", tc.frame, r.Err())
		}
	}
}

// splitAll feeds the stream to Split in pieces of size step, as reads deliver it, and returns the
// frames found and the errors for what was dropped.
func splitAll(stream []byte, step int) (frames [][]byte, drops []error) {
	var buf []byte
	for len(stream) > 0 || len(buf) > 0 {
		if len(stream) > 0 {
			k := min(step, len(stream))
			buf, stream = append(buf, stream[:k]...), stream[k:]
		}
		for {
			n, p, err := idcard.Split(buf)
			if n == 0 {
				break
			}
			if err != nil {
				drops = append(drops, err)
			} else {
				frames = append(frames, append([]byte(nil), p...))
			}
			buf = buf[n:]
		}
		if len(stream) == 0 {
			break
		}
	}
	return frames, drops
}

func TestSplitResynchronises(t *testing.T) {
	good := idcard.Encode(0x20, 0x01, nil)
	other := idcard.Encode(0x30, 0x01, bytes.Repeat([]byte{0xAA}, 40))
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1
	truncated := other[:20]
	for _, tc := range []struct {
		name   string
		stream []byte
		want   [][]byte // payloads
		drop   error
	}{
		{"clean", good, [][]byte{good[7:9]}, nil},
		{"noise before", append([]byte{0x00, 0x13, 0xAA, 0xAA, 0x96}, good...), [][]byte{good[7:9]}, idcard.ErrNoise},
		{"preamble bytes before", append([]byte{0xAA, 0xAA, 0xAA, 0xAA}, good...), [][]byte{good[7:9]}, idcard.ErrNoise},
		{"bad checksum then good", append(append([]byte(nil), bad...), good...), [][]byte{good[7:9]}, idcard.ErrFrameChecksum},
		{"impossible length then good", append([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0xFF, 0xFF}, good...), [][]byte{good[7:9]}, idcard.ErrFrameLength},
		{"zero length then good", append([]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69, 0x00, 0x00}, good...), [][]byte{good[7:9]}, idcard.ErrFrameLength},
		{"truncated then whole", append(append([]byte(nil), truncated...), other...), [][]byte{other[7 : len(other)-1]}, idcard.ErrFrameChecksum},
		{"two frames", append(append([]byte(nil), good...), other...), [][]byte{good[7:9], other[7 : len(other)-1]}, nil},
	} {
		for _, step := range []int{1, 3, 7, 1000} {
			frames, drops := splitAll(tc.stream, step)
			if len(frames) != len(tc.want) {
				t.Errorf("%s (step %d): %d frames, want %d (drops %v)", tc.name, step, len(frames), len(tc.want), drops)
				continue
			}
			for i := range frames {
				if !bytes.Equal(frames[i], tc.want[i]) {
					t.Errorf("%s (step %d): frame %d = % X", tc.name, step, i, frames[i])
				}
			}
			if tc.drop != nil && !containsErr(drops, tc.drop) {
				t.Errorf("%s (step %d): drops %v, want %v among them", tc.name, step, drops, tc.drop)
			}
			if tc.drop == nil && len(drops) > 0 {
				t.Errorf("%s (step %d): unexpected drops %v", tc.name, step, drops)
			}
		}
	}
}

func containsErr(errs []error, target error) bool {
	for _, e := range errs {
		if errors.Is(e, target) {
			return true
		}
	}
	return false
}

func TestSplitWaitsForMore(t *testing.T) {
	f := idcard.Encode(0x30, 0x01, nil)
	for i := range len(f) {
		if n, p, err := idcard.Split(f[:i]); n != 0 || p != nil || err != nil {
			t.Errorf("prefix of %d bytes: n=%d p=%v err=%v, want to wait for more", i, n, p, err)
		}
	}
}

func TestParseResponseShort(t *testing.T) {
	if _, err := idcard.ParseResponse([]byte{0x20, 0x01}); !errors.Is(err, idcard.ErrBadReply) {
		t.Errorf("a command payload parsed as a reply: %v", err)
	}
}
