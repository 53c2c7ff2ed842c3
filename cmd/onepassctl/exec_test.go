package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// fakeDaemon puts an "onepassd" on PATH that shows what it was given and exits 3.
func fakeDaemon(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"args: $*\"\nread line\necho \"stdin: $line\"\necho oops >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "onepassd"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
}

// TestLocalCommandsRunInOnepassd: the commands that need the heavy libraries go to onepassd's
// internal subcommand with their arguments, stdio and exit status.
func TestLocalCommandsRunInOnepassd(t *testing.T) {
	fakeDaemon(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan", "a.png", "--json"}, "args: onepassctl-local scan a.png --json"},
		{[]string{"selftest", "--sim"}, "args: onepassctl-local selftest --sim"},
		{[]string{"sync", "requeue", "--data", "/d"}, "args: onepassctl-local sync requeue --data /d"},
		{[]string{"staff", "add", "--id", "7"}, "args: onepassctl-local staff add --id 7"},
		{[]string{"thermo", "read"}, "args: onepassctl-local thermo read"},
		{[]string{"trust", "import", "f"}, "args: onepassctl-local trust import f"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := runLocal(tt.args, strings.NewReader("2468\n"), &out, &errb)
		if code != 3 || !strings.Contains(out.String(), tt.want+"\nstdin: 2468\n") || errb.String() != "oops\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tt.args, code, out.String(), errb.String())
		}
	}
	// run sends them there too, --addr or not.
	var out bytes.Buffer
	if code := run([]string{"--addr", "http://127.0.0.1:1", "scan", "x.png"}, &out, &out); code != 3 || !strings.Contains(out.String(), "args: onepassctl-local scan x.png") {
		t.Errorf("run scan: exit %d %q", code, out.String())
	}
}

func TestLocalCommandWithoutOnepassd(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	var out, errb bytes.Buffer
	if code := runLocal([]string{"selftest"}, strings.NewReader(""), &out, &errb); code != 1 || !strings.Contains(errb.String(), "onepassd, which is not installed beside onepassctl nor on PATH") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// TestNoHeavyDependencies keeps onepassctl quick to start: it must not link OpenCV, SQLite,
// periph or the drivers again (those commands run in onepassd: exec.go).
func TestNoHeavyDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, heavy := range []string{"gocv.io/x/gocv", "github.com/mattn/go-sqlite3", "periph.io/x/host/v3", "periph.io/x/conn/v3",
		"onepass/drivers/camera", "onepass/sync/store", "onepass/kiosk", "onepass/cmd/internal/ctl/local", "onepass/cmd/internal/config"} {
		if slices.Contains(deps, heavy) {
			t.Errorf("onepassctl depends on %s again: move the command that needs it to cmd/internal/ctl/local", heavy)
		}
	}
}
