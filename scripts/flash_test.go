package scripts_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kiosk is a throwaway root serving SSH on a loopback port, as a kiosk on the network would.
type kiosk struct {
	t    *testing.T
	port int
	key  string // the technician's private key
	kh   string // known_hosts with the kiosk's host key
	cmd  *exec.Cmd
	logs *strings.Builder
}

// startKiosk starts a kiosk without systemd (an image being prepared, a container) or, with
// systemd, one whose systemctl is the stand-in in testdata/systemctl: it runs onepassd.service
// as systemd would (Type=notify, Restart=on-failure). The kiosk runs in its own PID namespace, so
// whatever flash.sh starts there ends with it.
func startKiosk(t *testing.T, systemd bool) *kiosk {
	t.Helper()
	dir := t.TempDir()
	key, hostKey := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "host_ed25519")
	for _, k := range []string{key, hostKey} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	port := freePort(t)
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
if [ -n "$SYSTEMCTL" ]; then
  mkdir -p "$R/run/systemd/system" "$R/etc/fake-systemd"
  echo onepassd.service > "$R/etc/fake-systemd/supervise"
  cp "$SYSTEMCTL" "$R/usr/bin/systemctl"
fi
exec chroot "$R" /usr/sbin/sshd -D -e -f /etc/ssh/kiosk-test/sshd_config
`
	cmd := exec.Command("unshare", "--mount", "--uts", "--pid", "--fork", "--kill-child", "--propagation", "private",
		"/bin/bash", "-euc", "hostname kiosk-test; "+script)
	cmd.Env = append(os.Environ(), "T="+filepath.Join(dir, "fs"), "D="+dir, "SYSTEMCTL=")
	if systemd {
		cmd.Env = append(cmd.Env, "SYSTEMCTL="+tools(t).systemctl)
	}
	// Should this test binary die without its cleanups (a -timeout panic), the kiosk dies with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	os.MkdirAll(filepath.Join(dir, "fs"), 0o755)
	stderr, _ := cmd.StderrPipe()
	logs := &strings.Builder{}
	var mu sync.Mutex
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k := &kiosk{t: t, port: port, key: key, kh: kh, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		cmd.Process.Kill() // --kill-child: sshd, PID 1 of the kiosk, goes, and every process with it
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("sshd log:\n%s", logs.String())
			mu.Unlock()
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Server listening") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("sshd did not start:\n%s", logs.String())
	}
	return k
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// answers reports whether anything accepts connections on the loopback port.
func answers(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
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

// goodConfig is a site configuration whose daemon listens on a free loopback port (the kiosk
// shares this machine's network) with no hardware.
func goodConfig(t *testing.T, port int) string {
	return siteConfig(t, "good.toml", fmt.Sprintf("listen = \"127.0.0.1:%d\"\n[lane]\nid = \"7\"\n", port))
}

type testTools struct {
	systemctl string            // the systemctl stand-in
	broken    map[string]string // version → .deb whose onepassd is testdata/deadd
}

var (
	toolsOnce sync.Once
	toolsVal  testTools
	toolsErr  error
)

// tools builds the systemctl stand-in and two broken packages with the real package.sh: 3.0.0,
// whose onepassd exits 1 at once, and 4.0.0, whose onepassd starts (READY, answers as 4.0.0)
// and exits 1 two seconds later. Their onepassctl is the real one.
func tools(t *testing.T) testTools {
	t.Helper()
	d := packages(t)
	toolsOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		build := func(out, pkg, ldflags string) error {
			cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
			}
			return nil
		}
		toolsVal.systemctl = filepath.Join(debsDir, "systemctl")
		if toolsErr = build(toolsVal.systemctl, "./testdata/systemctl", ""); toolsErr != nil {
			return
		}
		archOut, err := exec.Command("dpkg", "--print-architecture").Output()
		if err != nil {
			toolsErr = err
			return
		}
		arch := strings.TrimSpace(string(archOut))
		ctl, err := os.ReadFile(filepath.Join(filepath.Dir(d["1.0.0"]), arch, "onepassctl"))
		if err != nil {
			toolsErr = fmt.Errorf("the real onepassctl: %w", err)
			return
		}
		toolsVal.broken = map[string]string{}
		for v, crash := range map[string]string{"3.0.0": "", "4.0.0": "2s"} {
			out := filepath.Join(debsDir, "broken-"+v)
			bin := filepath.Join(out, arch)
			if toolsErr = os.MkdirAll(bin, 0o755); toolsErr != nil {
				return
			}
			if toolsErr = build(filepath.Join(bin, "onepassd"), "./testdata/deadd",
				"-X main.version="+v+" -X main.crashAfter="+crash); toolsErr != nil {
				return
			}
			os.WriteFile(filepath.Join(bin, "onepassctl"), ctl, 0o755)
			os.WriteFile(filepath.Join(bin, "VERSION"), []byte(v+"\n"), 0o644) // package.sh then builds nothing
			cmd := exec.Command("./package.sh", "--out", out)
			cmd.Env = append(os.Environ(), "VERSION="+v, "DEB_COMPRESSION=gzip")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			deb, err := cmd.Output()
			if err != nil {
				toolsErr = fmt.Errorf("package.sh %s: %v\n%s", v, err, stderr.String())
				return
			}
			toolsVal.broken[v] = strings.TrimSpace(string(deb))
		}
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsVal
}

func checkReport(t *testing.T, name, out string, code, wantCode int, want []string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("%s: exit %d, want %d\n%s", name, code, wantCode, out)
		return
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: report lacks %q\n%s", name, w, out)
		}
	}
}

// TestFlash provisions a kiosk over SSH (a loopback sshd in a throwaway root): a first install,
// an update whose self-test fails and is rolled back, and an update with an enrollment the hub
// cannot answer.
func TestFlash(t *testing.T) {
	t.Parallel() // each kiosk is its own throwaway root with its own ports; flashes mostly wait
	needRoot(t, "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/unshare")
	d := packages(t)
	k := startKiosk(t, false)
	daemon := freePort(t)
	good := goodConfig(t, daemon)
	bad := siteConfig(t, "bad.toml", fmt.Sprintf("listen = \"127.0.0.1:%d\"\n[lane]\nid = \"7\"\n[reader]\ndriver = \"no-such-reader\"\n", daemon))
	up := func(v string) string { return fmt.Sprintf("onepassd %s up 1s without a restart", v) }

	tests := []struct {
		name      string
		args      []string
		code      int
		want      []string
		installed string
		lane      string
	}{
		{"first install", []string{"--deb", d["1.0.0"], "--config", good}, 0,
			[]string{"previous       none", "installed      1.0.0", "self-test PASSED", "result         OK: 1.0.0 installed", "report: kiosk-test",
				"daemon         " + up("1.0.0"), fmt.Sprintf("answering at http://127.0.0.1:%d as 1.0.0, health ok", daemon),
				"stopped again: no systemd"}, "1.0.0", `id = "7"`},
		{"update fails its self-test", []string{"--deb", d["2.0.0"], "--config", bad}, 1,
			[]string{"previous       1.0.0", `unknown reader driver "no-such-reader"`, "self-test FAILED",
				"-- self-test of 1.0.0 after the rollback --", "self-test PASSED", "ROLLED BACK to 1.0.0: 2.0.0 failed its self-test",
				"installed      1.0.0", "daemon 1.0.0   " + up("1.0.0"), "1.0.0 is back and runs"}, "1.0.0", `id = "7"`},
		{"update with an unreachable hub", []string{"--deb", d["2.0.0"], "--config", good, "--hub", "https://127.0.0.1:1", "--token", "t0k3n"}, 1,
			// The enrollment line says why it did not happen: no enroll command yet, or the hub's refusal.
			[]string{"installed      2.0.0", "self-test PASSED", "OK: 2.0.0 installed", "enrollment     ", "daemon         " + up("2.0.0")}, "2.0.0", `id = "7"`},
	}
	for _, tt := range tests {
		out, code := k.flash(append(tt.args, "--settle", "1")...)
		checkReport(t, tt.name, out, code, tt.code, tt.want)
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
		// Without systemd nothing would keep the daemon running: flash.sh stops what it started.
		if answers(daemon) {
			t.Errorf("%s: a daemon still answers on port %d after flash.sh", tt.name, daemon)
		}
	}
	// Both packages stay on the kiosk for later rollbacks.
	if ls := k.ssh("ls /var/cache/onepass"); !strings.Contains(ls, "onepass_1.0.0_") || !strings.Contains(ls, "onepass_2.0.0_") {
		t.Errorf("package cache: %s", ls)
	}
}

var targets = []struct {
	name    string
	systemd bool
}{
	{"without systemd", false},
	{"with systemd", true},
}

// runningVersion is what the kiosk's daemon says it is, or "" when none answers.
func (k *kiosk) runningVersion(port int) string {
	k.t.Helper()
	line := k.ssh(fmt.Sprintf("onepassctl --addr http://127.0.0.1:%d status 2>&1 | head -n 1 || true", port))
	if v, ok := strings.CutPrefix(line, "onepassd "); ok {
		return strings.SplitN(v, ",", 2)[0]
	}
	return ""
}

// TestFlashBrokenDaemon: an update whose daemon does not run — it exits at once, or it starts and
// crashes two seconds later — passes its self-test (which never starts the daemon) but is rolled
// back, with its configuration and database, and the previous version is proved to run again.
func TestFlashBrokenDaemon(t *testing.T) {
	t.Parallel() // each kiosk is its own throwaway root with its own ports; flashes mostly wait
	needRoot(t, "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/unshare")
	d := packages(t)
	broken := tools(t).broken
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			k := startKiosk(t, target.systemd)
			daemon := freePort(t)
			good := goodConfig(t, daemon)
			kept := "stopped again: no systemd"
			if target.systemd {
				kept = "kept running by systemd"
			}
			out, code := k.flash("--deb", d["1.0.0"], "--config", good, "--settle", "1")
			checkReport(t, "first install", out, code, 0, []string{"OK: 1.0.0 installed, its daemon runs",
				"daemon         onepassd 1.0.0 up 1s without a restart", kept})

			tests := []struct {
				name    string
				deb     string
				why     map[bool]string // by target.systemd: what the result names
				details string          // the broken daemon's own words, in the evidence
			}{
				{"exits at once", broken["3.0.0"], map[bool]string{
					false: "3.0.0 did not run: onepassd 3.0.0 exited (status 1) before it answered",
					true:  "3.0.0 did not run: onepassd 3.0.0 did not start: Job for onepassd.service failed",
				}, "refusing to start: this build is broken on purpose"},
				{"crashes after it started", broken["4.0.0"], map[bool]string{
					false: "4.0.0 did not run: onepassd 4.0.0 exited (status 1)",
					true:  "4.0.0 did not run: onepassd 4.0.0 stopped or restarted",
				}, "crashed 2s after it started, on purpose"},
			}
			for _, tt := range tests {
				v := strings.Split(filepath.Base(tt.deb), "_")[1]
				// The configuration as 1.0.0 left it must come back (flash.sh writes --config over it).
				k.ssh("echo '# before " + v + "' >> /etc/onepass/onepassd.toml")
				out, code := k.flash("--deb", tt.deb, "--config", good, "--settle", "4")
				checkReport(t, tt.name, out, code, 1, []string{
					"self-test PASSED", // the self-test alone never noticed
					"result         ROLLED BACK to 1.0.0: " + tt.why[target.systemd],
					"1.0.0 is back and runs",
					"-- daemon of " + v + " --", tt.details,
					"daemon 1.0.0   onepassd 1.0.0 up 4s without a restart",
					"installed      1.0.0",
				})
				if got := k.ssh(`dpkg-query -W -f='${Version}' onepass`); got != "1.0.0" {
					t.Errorf("%s: kiosk has %s, want 1.0.0", tt.name, got)
				}
				if cfg := k.ssh("cat /etc/onepass/onepassd.toml"); !strings.Contains(cfg, "# before "+v) {
					t.Errorf("%s: configuration not restored:\n%s", tt.name, cfg)
				}
				if target.systemd {
					if st := k.ssh("systemctl show -p ActiveState -p NRestarts onepassd.service"); st != "ActiveState=active\nNRestarts=0" {
						t.Errorf("%s: after the rollback onepassd.service is %q, want active, never restarted", tt.name, st)
					}
					if got := k.runningVersion(daemon); got != "1.0.0" {
						t.Errorf("%s: the daemon answering is %q, want 1.0.0", tt.name, got)
					}
				} else if answers(daemon) {
					t.Errorf("%s: a daemon still answers on port %d after flash.sh", tt.name, daemon)
				}
			}
		})
	}
}

// TestFlashFirstInstallFails: a first install whose daemon does not run has nothing to roll back
// to: the package stays, the daemon is left stopped (not restarting every 2 s), and the report
// says why.
func TestFlashFirstInstallFails(t *testing.T) {
	t.Parallel() // each kiosk is its own throwaway root with its own ports; flashes mostly wait
	needRoot(t, "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen", "/usr/bin/unshare")
	broken := tools(t).broken
	for _, target := range targets {
		t.Run(target.name, func(t *testing.T) {
			t.Parallel()
			k := startKiosk(t, target.systemd)
			daemon := freePort(t)
			out, code := k.flash("--deb", broken["3.0.0"], "--config", goodConfig(t, daemon), "--settle", "1")
			checkReport(t, "first install", out, code, 1, []string{
				"previous       none", "self-test PASSED",
				"result         FAILED: 3.0.0 did not run: onepassd 3.0.0",
				"a first install has nothing to roll back to: the daemon is left stopped",
				"refusing to start: this build is broken on purpose",
			})
			if strings.Contains(out, "OK:") {
				t.Errorf("a broken first install reported OK:\n%s", out)
			}
			// Longer than RestartSec=2: a unit left restarting would be back by now.
			time.Sleep(3 * time.Second)
			if target.systemd {
				st := k.ssh("systemctl show -p ActiveState -p SubState onepassd.service")
				if strings.Contains(st, "=active") || strings.Contains(st, "activating") || strings.Contains(st, "auto-restart") {
					t.Errorf("onepassd.service after a failed first install: %q, want stopped", st)
				}
			}
			if answers(daemon) {
				t.Errorf("a daemon answers on port %d after a failed first install", daemon)
			}
		})
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
		{[]string{"--settle", "ten", "kiosk"}, "--settle needs whole seconds"},
		{[]string{"--start-timeout", "0", "kiosk"}, "--start-timeout needs whole seconds"},
	}
	for _, tt := range tests {
		out, err := exec.Command("./flash.sh", tt.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
			t.Errorf("flash.sh %v: %v %q, want exit 2 and %q", tt.args, err, out, tt.want)
		}
	}
}
