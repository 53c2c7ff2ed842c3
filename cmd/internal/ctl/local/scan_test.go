package local

import (
	"bytes"
	"encoding/json"
	"errors"
	"onepass/cmd/internal/ctl"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"
	"golang.org/x/text/encoding/simplifiedchinese"

	"onepass/drivers/camera"
	"onepass/drivers/camera/camtest"
)

func writeCode(t *testing.T, path, text string) {
	t.Helper()
	m, err := camera.RenderQR(text, 'M', 5)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !gocv.IMWrite(path, m) {
		t.Fatalf("write %s", path)
	}
}

func TestScanCommand(t *testing.T) {
	dir := t.TempDir()
	ascii := filepath.Join(dir, "ascii.png")
	writeCode(t, ascii, "JKM1:6BFOXN*TS0BI$ZD")
	// A code whose bytes are GB18030 (as older Chinese generators write them) reads as UTF-8.
	gb, _ := simplifiedchinese.GB18030.NewEncoder().String("请出示健康码")
	legacy := filepath.Join(dir, "gb18030.png")
	writeCode(t, legacy, gb)
	blank := filepath.Join(dir, "blank.png")
	m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(200, 200, 200, 0), 240, 320, gocv.MatTypeCV8UC3)
	gocv.IMWrite(blank, m)
	m.Close()

	var out bytes.Buffer
	if err := scanCommand([]string{ascii, legacy, blank, "--models", "none"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per file:\n%s", out.String())
	}
	for i, want := range []string{ascii + "\t\"JKM1:6BFOXN*TS0BI$ZD\"\t", legacy + "\t\"请出示健康码\"\t", blank + "\t-\t"} {
		if !strings.HasPrefix(lines[i], want) || !strings.HasSuffix(lines[i], " ms") {
			t.Errorf("line %d = %q, want %q… ms", i, lines[i], want)
		}
	}

	out.Reset()
	if err := scanCommand([]string{"--json", ascii, blank}, &out); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	var got []map[string]any
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0]["file"] != ascii || got[0]["codes"].([]any)[0] != "JKM1:6BFOXN*TS0BI$ZD" {
		t.Fatalf("json: %v", got)
	}
	if codes, ok := got[1]["codes"].([]any); !ok || len(codes) != 0 {
		t.Errorf("a file without a code must give \"codes\": [], got %v", got[1]["codes"])
	}
	if _, ok := got[0]["ms"].(float64); !ok {
		t.Errorf("ms is not a number: %v", got[0])
	}

	// A file that cannot be read is reported and makes the exit status 1; the others still print.
	out.Reset()
	err := scanCommand([]string{filepath.Join(dir, "missing.png"), ascii}, &out)
	if !errors.Is(err, errScanFailed) || !strings.Contains(out.String(), "missing.png\terror: ") || !strings.Contains(out.String(), "JKM1:") {
		t.Errorf("missing file: %v\n%s", err, out.String())
	}
	var ue ctl.UsageError
	for _, args := range [][]string{{}, {"--json"}, {"--colour", ascii}, {ascii, "--models"}} {
		if err := scanCommand(args, &out); !errors.As(err, &ue) {
			t.Errorf("scan %q: %v, want a usage error", args, err)
		}
	}
	if err := scanCommand([]string{"--models", filepath.Join(dir, "no-models"), ascii}, &out); err == nil {
		t.Error("a models folder without the model files was accepted")
	}
}

// TestScanRefusesHugeImage: `onepassctl scan` sizes an image by its header before decoding it; a
// tiny PNG claiming 16000×16000 pixels is reported with its size and the exit status is 1.
func TestScanRefusesHugeImage(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.png")
	if err := os.WriteFile(huge, camtest.PNGClaiming(16000, 16000), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := scanCommand([]string{huge, "--models", "none"}, &out)
	if !errors.Is(err, errScanFailed) || !strings.Contains(out.String(), "huge.png\terror: image of 16000×16000 pixels is over the limit") {
		t.Errorf("scan: %v\n%s", err, out.String())
	}
}
