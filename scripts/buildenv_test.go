package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sysrootEnv is build.sh's cgo environment for a sysroot (its sysroot_env function).
func sysrootEnv(t *testing.T, root, triplet string) []string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `root=$1 tri=$2; set --; source ./build.sh && sysroot_env "$root" "$tri"`, "bash", root, triplet).Output()
	if err != nil {
		t.Fatalf("build.sh sysroot_env: %v", err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestSysrootLink is the arm64 release build's link, in small and for this machine's
// architecture: a cgo program finds a library through pkg-config in a sysroot whose .so is a
// linker script naming an absolute path, as Debian's libc.so, libm.so… are (GROUP (
// /lib/aarch64-linux-gnu/libc.so.6 … )). It links with build.sh's environment and fails without
// its linker flags, as the arm64 build did on a machine that never had arm64 libraries. The real
// cross build is `make release-check` (minutes, a download of ~700 packages the first time).
func TestSysrootLink(t *testing.T) {
	for _, p := range []string{"/usr/bin/gcc", "/usr/bin/pkg-config"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is needed: %v; run scripts/dev-setup.sh", p, err)
		}
	}
	machine, err := exec.Command("gcc", "-dumpmachine").Output()
	if err != nil {
		t.Fatal(err)
	}
	tri := strings.TrimSpace(string(machine))
	dir := t.TempDir()
	root := filepath.Join(dir, "sysroot")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The library itself lives where no library of this machine does.
	write(filepath.Join(dir, "probe.c"), "int onepass_probe(void) { return 42; }\n")
	real := filepath.Join(root, "usr/lib/onepass-probe/libonepassprobe.so.1")
	os.MkdirAll(filepath.Dir(real), 0o755)
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-Wl,-soname,libonepassprobe.so.1", "-o", real, filepath.Join(dir, "probe.c")).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	write(filepath.Join(root, "usr/lib", tri, "libonepassprobe.so"), "/* GNU ld script */\nGROUP ( /usr/lib/onepass-probe/libonepassprobe.so.1 )\n")
	write(filepath.Join(root, "usr/include/onepassprobe.h"), "int onepass_probe(void);\n")
	write(filepath.Join(root, "usr/lib", tri, "pkgconfig/onepassprobe.pc"), "prefix=/usr\nlibdir=${prefix}/lib/"+tri+
		"\nincludedir=${prefix}/include\nName: onepassprobe\nDescription: probe\nVersion: 1\nLibs: -L${libdir} -lonepassprobe\nCflags: -I${includedir}\n")

	prog := filepath.Join(dir, "prog")
	write(filepath.Join(prog, "go.mod"), "module probe\n\ngo 1.22\n")
	write(filepath.Join(prog, "main.go"), `package main

// #cgo pkg-config: onepassprobe
// #include <onepassprobe.h>
import "C"

import "fmt"

func main() { fmt.Println(C.onepass_probe()) }
`)
	env := sysrootEnv(t, root, tri)
	build := func(env []string) (string, error) {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "probe"), ".")
		cmd.Dir = prog
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=1", "GOFLAGS=-mod=mod", "GOWORK=off"), env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Without the linker flags: the trap is real (else this test proves nothing).
	var pkgConfigOnly []string
	for _, e := range env {
		if !strings.HasPrefix(e, "CGO_LDFLAGS=") {
			pkgConfigOnly = append(pkgConfigOnly, e)
		}
	}
	if out, err := build(pkgConfigOnly); err == nil || !strings.Contains(out, "cannot find /usr/lib/onepass-probe/libonepassprobe.so.1") {
		t.Fatalf("without build.sh's CGO_LDFLAGS the link should fail on the linker script's absolute path; got %v\n%s", err, out)
	}
	if out, err := build(env); err != nil {
		t.Fatalf("go build with build.sh's sysroot environment %q: %v\n%s", env, err, out)
	}
	run := exec.Command(filepath.Join(dir, "probe"))
	run.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Dir(real))
	if out, err := run.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "42" {
		t.Fatalf("the probe: %v %q", err, out)
	}
}

// TestSysrootUnpack: build.sh unpacks the arm64 packages without installing them. dpkg -x runs
// no maintainer scripts, so it makes the links a package's postinst makes with
// update-alternatives (OpenCV's core loads libblas.so.3 and liblapack.so.3 through such links;
// without them the arm64 link fails on BLAS symbols): the highest priority wins, as with apt, and
// a target the sysroot lacks makes no link. It lists what went in for package.sh's Depends.
func TestSysrootUnpack(t *testing.T) {
	dir := t.TempDir()
	stage, root := filepath.Join(dir, "stage"), filepath.Join(dir, "root")
	files := map[string]string{
		"DEBIAN/control": "Package: onepass-probe\nVersion: 1\nArchitecture: all\nMaintainer: t <t@localhost>\nDescription: probe\n",
		// as Debian's libblas3 and libopenblas0-pthread write them: continuation lines, tabs
		"DEBIAN/postinst": "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n" +
			"update-alternatives --install /usr/lib/x/libblas.so.3 \\\n                    libblas.so.3-x /usr/lib/x/blas/libblas.so.3 10\n" +
			"update-alternatives --install /usr/lib/x/libblas.so.3 \\\n                    libblas.so.3-x \\\n\t            /usr/lib/x/openblas/libblas.so.3 100\n" +
			"update-alternatives --install /usr/lib/x/liblapack.so.3 liblapack.so.3-x /usr/lib/x/lapack/liblapack.so.3 10\n" +
			"update-alternatives --install /usr/lib/x/libgone.so.1 libgone.so.1-x /usr/lib/x/gone/libgone.so.1 10\nfi\n",
		"usr/lib/x/blas/libblas.so.3":       "reference",
		"usr/lib/x/openblas/libblas.so.3":   "openblas",
		"usr/lib/x/lapack/liblapack.so.3":   "lapack",
		"usr/share/doc/onepass-probe/about": "",
	}
	for name, text := range files {
		p := filepath.Join(stage, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := os.FileMode(0o644)
		if name == "DEBIAN/postinst" {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
	}
	// and a second package: the sysroot is made of hundreds
	second := filepath.Join(dir, "second")
	os.MkdirAll(filepath.Join(second, "DEBIAN"), 0o755)
	os.WriteFile(filepath.Join(second, "DEBIAN/control"), []byte(strings.ReplaceAll(strings.ReplaceAll(files["DEBIAN/control"], "onepass-probe", "onepass-probe-data"), "Version: 1", "Version: 2.0-1")), 0o644)
	deb, deb2 := filepath.Join(dir, "probe.deb"), filepath.Join(dir, "probe-data.deb")
	for st, d := range map[string]string{stage: deb, second: deb2} {
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", st, d).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
		}
	}
	if out, err := exec.Command("bash", "-c", `root=$1; shift; debs=("$@"); set --; source ./build.sh && sysroot_unpack "$root" "${debs[@]}"`, "bash", root, deb, deb2).CombinedOutput(); err != nil {
		t.Fatalf("build.sh sysroot_unpack: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(root, ".packages")); err != nil || string(b) != "onepass-probe 1\nonepass-probe-data 2.0-1\n" {
		t.Errorf(".packages: %q (%v), want %q", b, err, "onepass-probe 1\nonepass-probe-data 2.0-1\n")
	}
	for link, want := range map[string]string{"libblas.so.3": "openblas", "liblapack.so.3": "lapack"} {
		p := filepath.Join(root, "usr/lib/x", link)
		target, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s: %v", link, err)
			continue
		}
		if filepath.IsAbs(target) {
			t.Errorf("%s → %s: want a link relative within the sysroot", link, target)
		}
		if b, err := os.ReadFile(p); err != nil || string(b) != want {
			t.Errorf("%s reads %q (%v), want %q", link, b, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(root, "usr/lib/x/libgone.so.1")); err == nil {
		t.Error("a link to a file the sysroot lacks")
	}
}
