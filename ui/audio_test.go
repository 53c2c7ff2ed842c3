package ui

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"testing"

	"onepass/kiosk/policy"
)

// Every clip the policy names, and the prompts, must be embedded in Chinese (<name>) and English
// (<name>_en, what app.js plays in English mode), or the screen falls silent.
func TestVoiceClips(t *testing.T) {
	names := map[string]bool{"idle": true, "measure": true}
	names[policy.TextFor("no such reason").Sound] = true
	for _, r := range policy.Reasons() {
		s := policy.TextFor(r).Sound
		if s == "" {
			t.Errorf("reason %s has no sound", r)
		}
		names[s] = true
	}
	for name := range names {
		for _, clip := range []string{name, name + "_en"} {
			b, err := fs.ReadFile(audioFS, clip+".wav")
			if err != nil {
				t.Errorf("clip %q: %v (run scripts/gen-voice.sh)", clip, err)
				continue
			}
			if err := checkWAV(b, 16000/2, 6*16000); err != nil {
				t.Errorf("clip %s.wav: %v", clip, err)
			}
		}
	}
	// The clips are committed and embedded in the daemon: keep them small.
	total := 0
	fs.WalkDir(audioFS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				total += int(fi.Size())
			}
		}
		return nil
	})
	if total > 4<<20 {
		t.Errorf("clips take %d bytes, want at most 4 MiB", total)
	}
}

// checkWAV accepts 16 kHz mono 16-bit PCM, the format scripts/gen-voice.sh writes and a
// recorded replacement must have, of minSamples to maxSamples samples.
func checkWAV(b []byte, minSamples, maxSamples int) error {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return fmt.Errorf("not a RIFF WAVE file")
	}
	var fmtOK, data bool
	for p := 12; p+8 <= len(b); {
		id, n := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:p+8]))
		body := b[p+8 : min(len(b), p+8+n)]
		switch id {
		case "fmt ":
			if len(body) < 16 {
				return fmt.Errorf("short fmt chunk")
			}
			format, ch := binary.LittleEndian.Uint16(body[0:]), binary.LittleEndian.Uint16(body[2:])
			rate, bits := binary.LittleEndian.Uint32(body[4:]), binary.LittleEndian.Uint16(body[14:])
			if format != 1 || ch != 1 || rate != 16000 || bits != 16 {
				return fmt.Errorf("format %d, %d channels, %d Hz, %d bits; want PCM (1), mono, 16000 Hz, 16 bits", format, ch, rate, bits)
			}
			fmtOK = true
		case "data":
			if n < 2*minSamples || n > 2*maxSamples {
				return fmt.Errorf("%.2f s of audio, want %.2f–%.2f s", float64(n)/32000, float64(minSamples)/16000, float64(maxSamples)/16000)
			}
			data = true
		}
		p += 8 + n + n%2
	}
	if !fmtOK || !data {
		return fmt.Errorf("missing fmt or data chunk")
	}
	return nil
}
