package scripts_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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

// kiosk is a throwaway root serving SSH on a loopback port, as a kiosk on the network would.
type kiosk struct {
	t    *testing.T
	port int
	key  string // the technician's private key
	kh   string // known_hosts with the kiosk's host key
	cmd  *exec.Cmd
	logs *strings.Builder
}

func startKiosk(t *testing.T) *kiosk {
	t.Helper()
	dir := t.TempDir()
	key, hostKey := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "host_ed25519")
	for _, k := range []string{key, hostKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pub, _ := os.ReadFile(hostKey + ".pub")
	kh := filepath.Join(dir, "known_hosts")
	os.WriteFile(kh, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", port, pub)), 0o600)
	config := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey /etc/ssh/kiosk-test/host_ed25519
AuthorizedKeysFile /etc/ssh/kiosk-test/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
`, port)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(config), 0o600)
	script := throwawayRoot + `
mkdir -p "$R/etc/ssh/kiosk-test" "$R/run/sshd"
cp "$D/sshd_config" "$D/host_ed25519" "$R/etc/ssh/kiosk-test/"
cp "$D/id_ed25519.pub" "$R/etc/ssh/kiosk-test/authorized_keys"
chmod 600 "$R/etc/ssh/kiosk-test/host_ed25519"
echo kiosk-test > "$R/etc/hostname"
exec chroot "$R" /usr/sbin/sshd -D -e -f /etc/ssh/kiosk-test/sshd_config
`
	cmd := exec.Command("unshare", "--mount", "--uts", "--propagation", "private", "/bin/bash", "-euc", "hostname kiosk-test; "+script)
	cmd.Env = append(os.Environ(), "T="+filepath.Join(dir, "fs"), "D="+dir)
	os.MkdirAll(filepath.Join(dir, "fs"), 0o755)
	stderr, _ := cmd.StderrPipe()
	logs := &strings.Builder{}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &kiosk{t: t, port: port, key: key, kh: kh, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logs.String())
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Server listening") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("sshd did not start:\n%s", logs.String())
	}
	return k
}

func (k *kiosk) sshArgs() []string {
	return []string{"-i", k.key, "-o", "UserKnownHostsFile=" + k.kh, "-o", "StrictHostKeyChecking=yes"}
}

// flash runs scripts/flash.sh against the kiosk as a technician would.
func (k *kiosk) flash(args ...string) (string, int) {
	k.t.Helper()
	a := []string{"-p", fmt.Sprint(k.port)}
	for i, s := range k.sshArgs() {
		if s == "-o" || s == "-i" {
			continue
		}
		if k.sshArgs()[i-1] == "-i" {
			a = append(a, "-i", s)
		} else {
			a = append(a, "-o", s)
		}
	}
	cmd := exec.Command("./flash.sh", append(append(a, args...), "root@127.0.0.1")...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		k.t.Fatal(err)
	}
	return string(out), code
}

// ssh runs a command on the kiosk.
func (k *kiosk) ssh(command string) string {
	k.t.Helper()
	args := append(k.sshArgs(), "-p", fmt.Sprint(k.port), "-o", "BatchMode=yes", "root@127.0.0.1", command)
	out, err := exec.Command("ssh", args...).CombinedOutput()
	if err != nil {
		k.t.Fatalf("ssh %s: %v\n%s", command, err, out)
	}
	return strings.TrimSpace(string(out))
}

func siteConfig(t *testing.T, name, text string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFlash provisions a kiosk over SSH (a loopback sshd in a throwaway root): a first install,
// an update whose self-test fails and is rolled back, and an update with an enrollment the hub
// cannot answer.
func TestFlash(t *testing.T) {
	needRoot(t, "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/unshare")
	d := packages(t)
	k := startKiosk(t)
	// listen on a closed port: no daemon answers there, whatever else runs on this machine.
	good := siteConfig(t, "good.toml", "listen = \"127.0.0.1:1\"\n[lane]\nid = \"7\"\n")
	bad := siteConfig(t, "bad.toml", "listen = \"127.0.0.1:1\"\n[lane]\nid = \"7\"\n[reader]\ndriver = \"no-such-reader\"\n")

	tests := []struct {
		name      string
		args      []string
		code      int
		want      []string
		installed string
		lane      string
	}{
		{"first install", []string{"--deb", d["1.0.0"], "--config", good}, 0,
			[]string{"previous       none", "installed      1.0.0", "self-test PASSED", "result         OK: 1.0.0 installed", "report: kiosk-test"}, "1.0.0", `id = "7"`},
		{"update fails its self-test", []string{"--deb", d["2.0.0"], "--config", bad}, 1,
			[]string{"previous       1.0.0", `unknown reader driver "no-such-reader"`, "self-test FAILED",
				"-- self-test of 1.0.0 after the rollback --", "self-test PASSED", "ROLLED BACK to 1.0.0", "installed      1.0.0"}, "1.0.0", `id = "7"`},
		{"update with an unreachable hub", []string{"--deb", d["2.0.0"], "--config", good, "--hub", "https://127.0.0.1:1", "--token", "t0k3n"}, 1,
			// The enrollment line says why it did not happen: no enroll command yet, or the hub's refusal.
			[]string{"installed      2.0.0", "self-test PASSED", "OK: 2.0.0 installed", "enrollment     "}, "2.0.0", `id = "7"`},
	}
	for _, tt := range tests {
		out, code := k.flash(tt.args...)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\n%s", tt.name, code, tt.code, out)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: report lacks %q\n%s", tt.name, w, out)
			}
		}
		if tt.name == "update with an unreachable hub" && !strings.Contains(out, "enrollment     NOT AVAILABLE: onepassctl 2.0.0 has no enroll command") &&
			!strings.Contains(out, "enrollment     FAILED") {
			t.Errorf("%s: the enrollment line must say why it failed\n%s", tt.name, out)
		}
		if got := k.ssh(`dpkg-query -W -f='${Version}' onepass`); got != tt.installed {
			t.Errorf("%s: kiosk has %s, want %s", tt.name, got, tt.installed)
		}
		if cfg := k.ssh("cat /etc/onepass/onepassd.toml"); !strings.Contains(cfg, tt.lane) || strings.Contains(cfg, "no-such-reader") {
			t.Errorf("%s: kiosk config:\n%s", tt.name, cfg)
		}
	}
	// Both packages stay on the kiosk for later rollbacks.
	if ls := k.ssh("ls /var/cache/onepass"); !strings.Contains(ls, "onepass_1.0.0_") || !strings.Contains(ls, "onepass_2.0.0_") {
		t.Errorf("package cache: %s", ls)
	}
}

// TestFlashUsage: mistakes are caught before anything touches a kiosk.
func TestFlashUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "Usage: scripts/flash.sh"},
		{[]string{"--hub", "https://hub", "kiosk"}, "--hub and --token go together"},
		{[]string{"--config", "/nonexistent.toml", "kiosk"}, "cannot read --config"},
		{[]string{"--frobnicate", "kiosk"}, "unknown option --frobnicate"},
		{[]string{"a", "b"}, "one HOST only"},
	}
	for _, tt := range tests {
		out, err := exec.Command("./flash.sh", tt.args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("flash.sh %v: %v %q, want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
}
