package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"onepass/cmd/internal/ctl"
)

// runLocal runs a command that works without the daemon (ctl.Local) in onepassd's internal
// subcommand: onepassd links OpenCV, SQLite, periph and the drivers, onepassctl does not, so that
// the daemon's commands start at once. Arguments, stdio and the exit status pass through.
func runLocal(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	bin, err := findDaemon()
	if err != nil {
		fmt.Fprintln(stderr, "onepassctl:", err)
		return ctl.ExitFail
	}
	argv := append([]string{ctl.Subcommand}, args...)
	code, err := runChild(bin, argv, stdin, stdout, stderr)
	if errors.Is(err, syscall.ENOEXEC) {
		// A foreign-architecture build run under qemu-user without binfmt (scripts/build.sh's
		// smoke test): run onepassd through the same emulator.
		if q, qerr := exec.LookPath(qemuFor(runtime.GOARCH)); qerr == nil {
			code, err = runChild(q, append([]string{bin}, argv...), stdin, stdout, stderr)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "onepassctl: run %s: %v\n", bin, err)
		return ctl.ExitFail
	}
	return code
}

// runChild runs bin with argv and the given stdio; it returns the child's exit status, or an
// error when it could not be started. Ctrl-C reaches the child (same process group): the parent
// waits for it to report rather than dying first.
func runChild(bin string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cmd := exec.Command(bin, argv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s) // a SIGTERM sent to onepassctl alone reaches the child too
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return ctl.ExitFail, nil // killed by a signal
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}

// findDaemon finds onepassd beside onepassctl's own executable (bin/, /usr/bin), else on PATH.
func findDaemon() (string, error) {
	if self, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(self); err == nil {
			self = real
		}
		p := filepath.Join(filepath.Dir(self), "onepassd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	p, err := exec.LookPath("onepassd")
	if err != nil {
		return "", errors.New("this command runs in onepassd, which is not installed beside onepassctl nor on PATH")
	}
	return p, nil
}

func qemuFor(goarch string) string {
	switch goarch {
	case "arm64":
		return "qemu-aarch64-static"
	case "amd64":
		return "qemu-x86_64-static"
	}
	return "qemu-" + goarch + "-static"
}
