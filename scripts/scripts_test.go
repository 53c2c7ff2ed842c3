package scripts_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// The throwaway root: this machine's own root filesystem under an overlay whose writable layer
// is a tmpfs, in a private mount namespace. Inside it, dpkg, its maintainer scripts, systemctl,
// systemd-sysusers and sshd run as on a kiosk; nothing reaches the real root and everything
// vanishes with the namespace.
const throwawayRoot = `
mount -t tmpfs tmpfs "$T"
mkdir "$T/upper" "$T/work" "$T/root"
mount -t overlay overlay -o lowerdir=/,upperdir="$T/upper",workdir="$T/work" "$T/root"
R="$T/root"
mount --rbind /dev "$R/dev"
mount -t proc proc "$R/proc"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
`

func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test installs packages in a throwaway root (an overlay in a private mount namespace) and needs root; make test runs as root in CI")
	}
	for _, p := range tools {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is needed: %v; run scripts/dev-setup.sh", p, err)
		}
	}
}

var (
	debsOnce sync.Once
	debs     map[string]string // version → .deb
	debsErr  error
	debsDir  string
)

// packages builds the kiosk package twice (versions 1.0.0 and 2.0.0) with the real scripts.
func packages(t *testing.T) map[string]string {
	t.Helper()
	debsOnce.Do(func() {
		debsDir, debsErr = os.MkdirTemp("", "onepass-debs-")
		if debsErr != nil {
			return
		}
		debs = map[string]string{}
		for _, v := range []string{"1.0.0", "2.0.0"} {
			cmd := exec.Command("./package.sh", "--out", debsDir)
			cmd.Env = append(os.Environ(), "VERSION="+v, "DEB_COMPRESSION=gzip")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				debsErr = fmt.Errorf("package.sh %s: %v\n%s", v, err, stderr.String())
				return
			}
			debs[v] = strings.TrimSpace(string(out))
		}
	})
	if debsErr != nil {
		t.Fatal(debsErr)
	}
	return debs
}

func TestMain(m *testing.M) {
	code := m.Run()
	if debsDir != "" {
		os.RemoveAll(debsDir)
	}
	os.Exit(code)
}

// TestPackage checks the .deb's metadata, then installs, upgrades, removes and purges it in a
// throwaway root, checking at each step what a kiosk would have.
func TestPackage(t *testing.T) {
	needRoot(t, "/usr/bin/dpkg-deb", "/usr/bin/unshare", "/usr/bin/systemd-analyze", "/usr/bin/cage")
	d := packages(t)
	fields, err := exec.Command("dpkg-deb", "-f", d["1.0.0"], "Package", "Version", "Architecture", "Depends", "Recommends").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Package: onepass", "Version: 1.0.0", "libc6 (>= 2.36)", "systemd", "udev", "Recommends: cage, chromium"} {
		if !strings.Contains(string(fields), want) {
			t.Errorf("control lacks %q:\n%s", want, fields)
		}
	}

	T := t.TempDir()
	script := throwawayRoot + `
cp "$DEB1" "$DEB2" "$R/tmp/"
inr() { chroot "$R" "$@"; }
step() { echo "== $*"; }

step install
inr dpkg -i "/tmp/$(basename "$DEB1")"
inr id onepass
inr id onepass-display
inr stat -c '%U:%G %a' /var/lib/onepass /var/lib/onepass/keys /etc/onepass/onepassd.toml
inr readlink /etc/systemd/system/multi-user.target.wants/onepassd.service
inr readlink /etc/systemd/system/multi-user.target.wants/onepass-display.service
inr onepassd --version
step verify
inr systemd-analyze verify onepassd.service onepass-display.service && echo verified
step selftest
inr runuser -u onepass -- onepassctl selftest --config /etc/onepass/onepassd.toml

step upgrade
echo '# local change' >> "$R/etc/onepass/onepassd.toml"
inr dpkg --force-confold -i "/tmp/$(basename "$DEB2")"
inr onepassd --version
tail -1 "$R/etc/onepass/onepassd.toml"

step remove
inr systemctl disable onepass-display.service
inr dpkg -r onepass
for f in /usr/bin/onepassd /usr/lib/systemd/system/onepassd.service /usr/lib/udev/rules.d/99-onepass.rules \
         /etc/systemd/system/multi-user.target.wants/onepassd.service; do
  if [ -e "$R$f" ] || [ -L "$R$f" ]; then echo "left behind: $f"; fi
done
test -e "$R/etc/onepass/onepassd.toml" && echo "conffile kept"

step purge
inr dpkg -P onepass
test -e "$R/etc/onepass/onepassd.toml" || echo "conffile purged"
test -d "$R/var/lib/onepass" && echo "state kept"
inr dpkg-query -W onepass 2>&1 || true
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/bash", "-euc", script)
	cmd.Env = append(os.Environ(), "T="+T, "DEB1="+d["1.0.0"], "DEB2="+d["2.0.0"])
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("install/remove in a throwaway root: %v\n%s", err, out)
	}
	for _, want := range []string{
		"uid=", "(onepass)", "groups=", "dialout", "i2c", "video", "gpio", // the user and its device groups
		"onepass:onepass 750", "onepass:onepass 700", "root:onepass 640",
		"systemd/system/onepassd.service\n", "systemd/system/onepass-display.service\n",
		"onepassd 1.0.0", "verified", "self-test PASSED",
		"onepassd 2.0.0", "# local change", // the upgrade keeps the technician's configuration
		"conffile kept", "conffile purged", "state kept", "no packages found matching onepass",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q", want)
		}
	}
	if strings.Contains(out, "left behind") || t.Failed() {
		t.Errorf("output:\n%s", out)
	}
}
