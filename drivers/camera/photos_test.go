package camera

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSamplePhotos reads the real photos kept beside the project (../shared/testdata/qr) with both
// decoders: each reads at least its floor of the 20 byte-exact (zbarimg reads 8 of them; the CNN
// models read the most, which is why they are the default), and nothing in the first photos
// without a code (all 16 are in BenchmarkScanVsZbar: each costs a second here).
func TestSamplePhotos(t *testing.T) {
	dir := "../../../shared/testdata/qr"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the sample photos are not here (%v): they live beside the project, never in it", err)
	}
	for _, tc := range []struct {
		decoder string
		floor   int
	}{{"cnn", 0}, {ModelsNone, 15}} {
		t.Run(tc.decoder, func(t *testing.T) {
			dec := decoderFor(t, tc.decoder)
			all, _ := filepath.Glob(filepath.Join(dir, "photos", "*"))
			read, total := 0, 0
			for _, f := range all {
				if strings.HasSuffix(f, ".txt") {
					continue
				}
				want, err := os.ReadFile(strings.TrimSuffix(f, filepath.Ext(f)) + ".txt")
				if err != nil {
					t.Fatal(err)
				}
				total++
				res, err := ScanFile(context.Background(), dec, f)
				if err != nil {
					t.Errorf("%s: %v", f, err)
					continue
				}
				for _, c := range res.Codes {
					if c.Text == string(want) {
						read++
					} else {
						t.Errorf("%s: read %q, want %q", filepath.Base(f), c.Text, want)
					}
				}
			}
			t.Logf("%s: read %d of %d photos byte-exact", tc.decoder, read, total)
			if read < tc.floor {
				t.Errorf("read %d of %d photos byte-exact, want at least %d", read, total, tc.floor)
			}
			empty, _ := filepath.Glob(filepath.Join(dir, "no-code", "*"))
			for _, f := range empty[:min(4, len(empty))] {
				res, err := ScanFile(context.Background(), dec, f)
				if err != nil || len(res.Codes) > 0 {
					t.Errorf("%s (no code): %q %v", filepath.Base(f), texts(res.Codes), err)
				}
			}
		})
	}
}
