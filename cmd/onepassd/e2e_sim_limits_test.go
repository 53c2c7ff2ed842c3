package main

import (
	"bytes"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"onepass/drivers/camera/camtest"
)

// TestSimDataFolderModes: a --sim data folder made under umask 0 holds nothing group-writable or
// readable by others: the database with its -wal and -shm, the kiosk's and the embedded hub's
// keys and enrollment. Not parallel: the umask is the process's, and the daemon inherits it.
func TestSimDataFolderModes(t *testing.T) {
	bin, ctl := binaries(t)
	data := t.TempDir()
	old := syscall.Umask(0)
	d := startDaemon(t, bin, ctl, "--sim", "--data", data)
	syscall.Umask(old)
	d.onepassctl("sim", "card", "--id", "110101199003074477", "--name", "张三")
	d.onepassctl("sim", "temp", "36.6")
	d.onepassctl("sync", "now") // enrolled at the embedded hub, the visit uploaded
	var seen []string
	err := filepath.WalkDir(data, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(data, p)
		seen = append(seen, rel)
		if fi.Mode().Perm()&0o037 != 0 {
			t.Errorf("%s: mode %04o, want 0600 (0640 at most)", rel, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"onepass.db", "onepass.db-wal", "onepass.db-shm", "keys/deployment.key", "keys/sim-issuer.key",
		"hub/hub.db", "hub/hub.db-wal", "hub/keys/root.key", "sync/device.key"} {
		found := false
		for _, s := range seen {
			found = found || s == want
		}
		if !found {
			t.Errorf("%s not in the data folder (%v)", want, seen)
		}
	}
	d.stop()
}

// TestSimImageSizeLimit: the PNG of 16000×16000 pixels (here a real one of 30 KB) is
// refused by POST /api/sim/code/image with 413 and the size named, and the daemon's peak memory
// does not grow by what decoding it takes (before the limit: 130 → 890 MB).
func TestSimImageSizeLimit(t *testing.T) {
	bin, ctl := binaries(t)
	d := startDaemon(t, bin, ctl, "--sim", "--data", t.TempDir())
	before := peakRSS(t, d.cmd.Process.Pid)
	resp, err := http.Post(d.url+"api/sim/code/image", "image/png", bytes.NewReader(camtest.BlankPNG(16000, 16000)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "image of 16000×16000 pixels is over the limit") {
		t.Errorf("answer %d %q, want 413 naming the size", resp.StatusCode, body)
	}
	if grew := peakRSS(t, d.cmd.Process.Pid) - before; grew > 100<<20 {
		t.Errorf("peak memory grew by %d MiB", grew>>20)
	}
	// onepassctl says it too, and fails.
	file := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(file, camtest.PNGClaiming(16000, 16000), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(d.ctl, "--addr", d.url, "sim", "code", "--image", file).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "413") || !strings.Contains(string(out), "16000×16000") {
		t.Errorf("onepassctl sim code --image: %v\n%s", err, out)
	}
	d.stop()
}

// peakRSS is a process's peak resident memory (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/PID/status")
	return 0
}
