package local

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The real photos kept beside the project (never copied into it).
const samplePhotos = "../../../../../shared/testdata/qr"

// samples lists the photos with their expected texts and the code-free photos.
func samples(tb testing.TB) (files []string, want map[string]string, empty []string) {
	tb.Helper()
	if _, err := os.Stat(samplePhotos); err != nil {
		tb.Skipf("the sample photos are not here (%s: %v): they live beside the project, not in it", samplePhotos, err)
	}
	want = map[string]string{}
	all, _ := filepath.Glob(filepath.Join(samplePhotos, "photos", "*"))
	for _, f := range all {
		if strings.HasSuffix(f, ".txt") {
			continue
		}
		b, err := os.ReadFile(strings.TrimSuffix(f, filepath.Ext(f)) + ".txt")
		if err != nil {
			tb.Fatalf("%s has no ground truth: %v", f, err)
		}
		files = append(files, f)
		want[f] = string(b)
	}
	empty, _ = filepath.Glob(filepath.Join(samplePhotos, "no-code", "*"))
	return files, want, empty
}

// ourScan runs `onepassctl scan --json` in-process over files.
func ourScan(tb testing.TB, models string, files []string) map[string][]string {
	var out bytes.Buffer
	args := append([]string{"--json", "--models", models}, files...)
	if err := scanCommand(args, &out); err != nil {
		tb.Fatalf("scan: %v", err)
	}
	got := map[string][]string{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r ScanResult
		if err := dec.Decode(&r); err != nil {
			tb.Fatal(err)
		}
		got[r.File] = r.Codes
	}
	return got
}

// zbarScan runs zbarimg once over files (QR only) and reads its XML report.
func zbarScan(tb testing.TB, files []string) map[string][]string {
	args := append([]string{"--xml", "--quiet", "-Sdisable", "-Sqrcode.enable"}, files...)
	out, _ := exec.Command("zbarimg", args...).Output() // exit 4 when some file has no code
	var doc struct {
		Sources []struct {
			Href    string `xml:"href,attr"`
			Symbols []struct {
				Data string `xml:"data"`
			} `xml:"index>symbol"`
		} `xml:"source"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		tb.Fatalf("zbarimg XML: %v\n%s", err, out)
	}
	got := map[string][]string{}
	for _, s := range doc.Sources {
		for _, sym := range s.Symbols {
			got[s.Href] = append(got[s.Href], sym.Data)
		}
	}
	return got
}

func score(files []string, want map[string]string, got map[string][]string) int {
	n := 0
	for _, f := range files {
		if slices.Contains(got[f], want[f]) {
			n++
		}
	}
	return n
}

// BenchmarkScanVsZbar decodes the sample photos with `onepassctl scan` (both decoder set-ups) and
// with zbarimg in the same run, and reports the share read byte-exact, wrong reads on code-free
// photos and the wall time per image of each whole command. Run with -benchtime 1x.
func BenchmarkScanVsZbar(b *testing.B) {
	files, want, empty := samples(b)
	if _, err := exec.LookPath("zbarimg"); err != nil {
		b.Fatalf("zbarimg is needed for the comparison (Debian zbar-tools; scripts/dev-setup.sh): %v", err)
	}
	all := append(append([]string(nil), files...), empty...)
	setups := map[string]func() map[string][]string{
		"onepassctl-models=none": func() map[string][]string { return ourScan(b, "none", all) },
		"onepassctl-models=cnn":  func() map[string][]string { return ourScan(b, "../../../../drivers/camera/wechat_qrcode", all) },
		"zbarimg":                func() map[string][]string { return zbarScan(b, all) },
	}
	for name, run := range setups {
		b.Run(name, func(b *testing.B) {
			var got map[string][]string
			start := time.Now()
			for b.Loop() {
				got = run()
			}
			per := time.Since(start).Seconds() * 1000 / float64(b.N*len(all))
			falsePos := 0
			for _, f := range empty {
				falsePos += len(got[f])
			}
			b.ReportMetric(100*float64(score(files, want, got))/float64(len(files)), "%read")
			b.ReportMetric(float64(falsePos), "false-codes")
			b.ReportMetric(per, "ms/image")
		})
	}
}
