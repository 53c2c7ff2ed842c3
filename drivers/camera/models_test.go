package camera

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"onepass/device"
)

// copyModels copies the repo's models into a new temp folder; edit may damage the copy.
func copyModels(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "wechat_qrcode")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range ModelFiles {
		b, err := os.ReadFile(filepath.Join(repoModels, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

// flipByte changes one byte in the middle of a file: same size, different content.
func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyModels(t *testing.T) {
	tests := []struct {
		name   string
		dir    func(t *testing.T) string
		errHas string // "" for a good folder
	}{
		{"the repo's folder", func(*testing.T) string { return repoModels }, ""},
		{"an exact copy", func(t *testing.T) string { return copyModels(t, nil) }, ""},
		{"one byte changed", func(t *testing.T) string {
			return copyModels(t, func(d string) { flipByte(t, filepath.Join(d, "detect.caffemodel")) })
		}, "detect.caffemodel: checksum mismatch"},
		{"truncated", func(t *testing.T) string {
			return copyModels(t, func(d string) { os.Truncate(filepath.Join(d, "sr.caffemodel"), 100) })
		}, "sr.caffemodel: 100 bytes, want 23929"},
		{"one file missing", func(t *testing.T) string {
			return copyModels(t, func(d string) { os.Remove(filepath.Join(d, "sr.prototxt")) })
		}, "sr.prototxt: missing"},
		{"empty folder", func(t *testing.T) string { return t.TempDir() }, "detect.prototxt: missing"},
		{"no folder", func(t *testing.T) string { return filepath.Join(t.TempDir(), "absent") }, "no such folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyModels(tt.dir(t))
			if tt.errHas == "" && err != nil {
				t.Fatal(err)
			}
			if tt.errHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errHas)) {
				t.Fatalf("error %v, want %q", err, tt.errHas)
			}
		})
	}
}

// TestNoticeMatchesModels: the MD5s the NOTICE publishes (and the .deb's installer may check) are
// those of the committed files, which VerifyModels accepts.
func TestNoticeMatchesModels(t *testing.T) {
	f, err := os.Open(filepath.Join(repoModels, "NOTICE"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]string{}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if fs := strings.Fields(sc.Text()); len(fs) == 2 && len(fs[0]) == 32 {
			listed[fs[1]] = fs[0]
		}
	}
	for _, name := range ModelFiles {
		b, err := os.ReadFile(filepath.Join(repoModels, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(b)
		if got := hex.EncodeToString(sum[:]); listed[name] != got {
			t.Errorf("%s: NOTICE says MD5 %q, the file has %s", name, listed[name], got)
		}
	}
}

// TestModelCandidates: with no folder configured the driver looks where the package installs the
// models, then in the source checkout beside the executable (`make build` puts it in bin/), then in
// the checkout the working directory is in (go test, go run).
func TestModelCandidates(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	wantRepo := filepath.Join(repo, "drivers", "camera", "wechat_qrcode")
	got := modelCandidates(filepath.Join(repo, "bin", "onepassd"), filepath.Join(repo, "drivers", "camera"))
	want := []string{DefaultModels, wantRepo, wantRepo}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("candidates %q, want %q", got, want)
	}
	// An installed binary outside any checkout looks only where the package installs them.
	outside := t.TempDir()
	got = modelCandidates("/usr/bin/onepassd", outside)
	if len(got) != 2 || got[0] != DefaultModels || got[1] != filepath.FromSlash("/usr/drivers/camera/wechat_qrcode") {
		t.Errorf("candidates outside a checkout %q", got)
	}
	// Another Go module is not our checkout.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("// a comment\nmodule example.org/other\n"), 0o644)
	if r := moduleRoot(other); r != "" {
		t.Errorf("moduleRoot of another module = %q", r)
	}
	if r := moduleRoot(filepath.Join(repo, "drivers", "camera")); r != repo {
		t.Errorf("moduleRoot = %q, want %q", r, repo)
	}
}

// TestFindModels: the resolution order and its answers.
func TestFindModels(t *testing.T) {
	repoAbs, err := filepath.Abs(repoModels)
	if err != nil {
		t.Fatal(err)
	}
	// The default, in the test process: the installed copy when the machine has one, else the
	// repo's folder (found from the working directory, drivers/camera).
	want := repoAbs
	if st, err := os.Stat(DefaultModels); err == nil && st.IsDir() {
		want = DefaultModels
	}
	if dir, err := FindModels(""); err != nil || dir != want {
		t.Errorf("FindModels(\"\") = %q, %v; want %q", dir, err, want)
	}
	if got := ResolveModels(""); got != want {
		t.Errorf("ResolveModels(\"\") = %q, want %q", got, want)
	}

	// A source checkout beside the executable: <exe dir>/../drivers/camera/wechat_qrcode.
	checkout := t.TempDir()
	beside := filepath.Join(checkout, "drivers", "camera", "wechat_qrcode")
	os.MkdirAll(filepath.Dir(beside), 0o755)
	if err := os.Rename(copyModels(t, nil), beside); err != nil {
		t.Fatal(err)
	}
	cands := modelCandidates(filepath.Join(checkout, "bin", "onepassd"), t.TempDir())[1:] // not DefaultModels: the machine may have it
	if dir, err := findModels(cands); err != nil || dir != beside {
		t.Errorf("beside the executable: %q, %v; want %q", dir, err, beside)
	}
	// The first folder that exists is the one used: broken, it is reported, not skipped.
	broken := copyModels(t, func(d string) { flipByte(t, filepath.Join(d, "detect.caffemodel")) })
	if dir, err := findModels([]string{broken, beside}); dir != "" || err == nil || !strings.Contains(err.Error(), "detect.caffemodel: checksum mismatch") {
		t.Errorf("broken first candidate: %q, %v", dir, err)
	}
	// None there.
	if dir, err := findModels([]string{filepath.Join(checkout, "nothing")}); dir != "" || !errors.Is(err, errModelsNotFound) {
		t.Errorf("no candidate: %q, %v", dir, err)
	}

	tests := []struct {
		setting, dir, errHas string
	}{
		{ModelsNone, "", ""},
		{repoModels, repoModels, ""},
		{broken, "", "detect.caffemodel: checksum mismatch"},
		{filepath.Join(checkout, "absent"), "", "no such folder"},
	}
	for _, tt := range tests {
		dir, err := FindModels(tt.setting)
		if dir != tt.dir || (tt.errHas == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.errHas)) {
			t.Errorf("FindModels(%q) = %q, %v; want %q, %q", tt.setting, dir, err, tt.dir, tt.errHas)
		}
	}
	// ResolveModels leaves an explicit folder to NewDecoder, which refuses a broken one.
	if _, err := NewDecoder(ResolveModels(broken)); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("NewDecoder on a corrupt folder: %v", err)
	}
}

// TestOpenModels: the camera part with each models setting. Models that are missing or corrupt do
// not stop it: it decodes model-free and says why in Health (degraded), which `onepassctl status`
// and `onepassctl selftest` show; "none" is model-free by choice and healthy.
func TestOpenModels(t *testing.T) {
	repoAbs, _ := filepath.Abs(repoModels)
	defaultDir := repoAbs
	if st, err := os.Stat(DefaultModels); err == nil && st.IsDir() {
		defaultDir = DefaultModels
	}
	corrupt := copyModels(t, func(d string) { flipByte(t, filepath.Join(d, "detect.caffemodel")) })
	tests := []struct {
		name, models string
		wantDir      string
		state        device.HealthState
		reason       string
	}{
		{"default", "", defaultDir, device.OK, ""},
		{"configured folder", repoModels, repoModels, device.OK, ""},
		{"none", ModelsNone, "", device.OK, ""},
		{"corrupt", corrupt, "", device.Degraded,
			"CNN models missing/corrupt (detect.caffemodel: checksum mismatch): decoding model-free"},
		{"missing files", t.TempDir(), "", device.Degraded, "CNN models missing/corrupt (detect.prototxt: missing): decoding model-free"},
		{"missing folder", filepath.Join(t.TempDir(), "absent"), "", device.Degraded, "no such folder): decoding model-free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cam := t.TempDir()
			s, err := Open(Config{Source: "file:" + cam, Width: 640, Height: 480, Models: tt.models}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Models() != tt.wantDir {
				t.Errorf("decoder models %q, want %q", s.Models(), tt.wantDir)
			}
			waitHealth(t, s, tt.state, tt.reason)
			if h := s.Health(); tt.reason == "" && h.Reason != "" {
				t.Errorf("health %s, want no reason", h)
			}
			// Model-free or not, it reads codes.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.SelfTest(ctx); err != nil {
				t.Errorf("SelfTest: %v", err)
			}
		})
	}
}

// TestHealthWithModelsIssue: the models issue turns OK into degraded and is added to a degraded
// reason; a camera that is down says why it is down (the bigger problem) alone.
func TestHealthWithModelsIssue(t *testing.T) {
	const issue = "CNN models missing/corrupt (x): decoding model-free"
	tests := []struct {
		in, want device.Health
	}{
		{device.Health{State: device.OK}, device.Health{State: device.Degraded, Reason: issue}},
		{device.Health{State: device.Degraded, Reason: "source ended: file:/v.mp4"},
			device.Health{State: device.Degraded, Reason: "source ended: file:/v.mp4; " + issue}},
		{device.Health{State: device.Down, Reason: "camera gone: x"}, device.Health{State: device.Down, Reason: "camera gone: x"}},
	}
	for _, tt := range tests {
		s := &Scanner{health: tt.in, modelsIssue: issue}
		if got := s.Health(); got.State != tt.want.State || got.Reason != tt.want.Reason {
			t.Errorf("health %s with the issue = %s, want %s", tt.in, got, tt.want)
		}
		s.modelsIssue = ""
		if got := s.Health(); got != tt.in {
			t.Errorf("health %s without an issue = %s", tt.in, got)
		}
	}
}
