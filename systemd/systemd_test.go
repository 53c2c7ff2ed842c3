package systemd_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// need fails the test with the fix when a tool is missing (scripts/dev-setup.sh installs them).
func need(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is needed: %v; run scripts/dev-setup.sh", p, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("these checks mount an emulated system in a private mount namespace and need root (make test runs as root in CI)")
	}
}

// inNamespace runs a shell script in a private mount namespace: its mounts vanish with it.
func inNamespace(t *testing.T, script string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "/bin/sh", "-euc", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUnitsVerify runs systemd-analyze verify on both units, with the real onepassd binary where
// the unit expects it (an overlay on /usr/bin in a private mount namespace). Any message fails:
// systemd only warns about unknown or misspelt directives.
func TestUnitsVerify(t *testing.T) {
	need(t, "/usr/bin/systemd-analyze", "/usr/bin/cage", "/usr/bin/chromium", "/usr/bin/setterm")
	dir := t.TempDir()
	upper, work := filepath.Join(dir, "upper"), filepath.Join(dir, "work")
	os.MkdirAll(work, 0o755)
	if out, err := exec.Command("go", "build", "-o", upper+"/onepassd", "onepass/cmd/onepassd").CombinedOutput(); err != nil {
		t.Fatalf("build onepassd: %v\n%s", err, out)
	}
	unitDir, _ := filepath.Abs(".")
	out, err := inNamespace(t, `
mount -t overlay overlay -o lowerdir=/usr/bin,upperdir="$UPPER",workdir="$WORK" /usr/bin
systemd-analyze verify "$UNITS/onepassd.service" "$UNITS/onepass-display.service"
`, "UPPER="+upper, "WORK="+work, "UNITS="+unitDir)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestUnitsSecurity keeps the sandbox from eroding: systemd's own exposure score (0 best, 10 worst).
// The screen scores worse by nature: Chromium needs user namespaces and writable code pages
// (TestDisplayUnitKeepsChromiumWorking keeps it from being hardened into a black screen).
func TestUnitsSecurity(t *testing.T) {
	need(t, "/usr/bin/systemd-analyze")
	for unit, limit := range map[string]float64{"onepassd.service": 2.0, "onepass-display.service": 4.0} {
		out, err := exec.Command("systemd-analyze", "security", "--offline=true", fmt.Sprintf("--threshold=%.0f", limit*10), "--no-pager", "./"+unit).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Errorf("%s: no exposure level (%v): %s", unit, err, lastLines(out, 3))
			continue
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		if err != nil || score > limit {
			t.Errorf("%s: exposure %.1f, want <= %.1f (%v): %s", unit, score, limit, err, lastLines(out, 3))
			continue
		}
		t.Logf("%s exposure %.1f (limit %.1f)", unit, score, limit)
	}
}

// TestDisplayUnitKeepsChromiumWorking: what the screen's sandbox must leave to cage and Chromium
// (see the unit's comments): a tighter unit would score better and show nothing.
func TestDisplayUnitKeepsChromiumWorking(t *testing.T) {
	s := unit(t, "onepass-display.service")
	for _, k := range []string{"MemoryDenyWriteExecute", "PrivateNetwork", "PrivateUsers", "PrivateDevices", "ProcSubset", "SystemCallFilter"} {
		for _, v := range s[k] {
			if k == "SystemCallFilter" {
				// a deny list is fine as long as it spares what Chromium's sandbox and renderers use
				for _, g := range []string{"@mount", "@privileged", "@resources", "@system-service"} {
					if !strings.HasPrefix(v, "~") || strings.Contains(v, g) {
						t.Errorf("SystemCallFilter=%s: must be a deny list without %s", v, g)
					}
				}
				continue
			}
			if v != "no" && v != "" && v != "all" {
				t.Errorf("%s=%s breaks the screen", k, v)
			}
		}
	}
	ns := strings.Fields(strings.Join(s["RestrictNamespaces"], " "))
	for _, n := range []string{"user", "pid", "net"} {
		if len(ns) > 0 && !slices.Contains(ns, n) {
			t.Errorf("RestrictNamespaces=%s: Chromium's sandbox needs %s namespaces", ns, n)
		}
	}
	if pol := s["DevicePolicy"]; len(pol) > 0 {
		allow := strings.Join(s["DeviceAllow"], ",")
		for _, d := range []string{"char-drm rw", "char-input rw", "char-alsa rw", "/dev/tty1 rw"} {
			if !strings.Contains(allow, d) {
				t.Errorf("DeviceAllow lacks %q (display, touch, voice, the screen's tty)", d)
			}
		}
	}
	if got := s["IPAddressAllow"]; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("IPAddressAllow=%q: the page is on 127.0.0.1", got)
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// unit reads a unit file into directive → values (continuation lines joined).
func unit(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("\\\n"), nil)
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = append(m[k], strings.Join(strings.Fields(v), " "))
		}
	}
	return m
}

// TestUnitDirectives checks what the kiosk relies on, directive by directive.
func TestUnitDirectives(t *testing.T) {
	d := unit(t, "onepassd.service")
	want := map[string]string{
		"Type": "notify", "WatchdogSec": "30", "Restart": "on-failure", "User": "onepass",
		"StateDirectory": "onepass", "RuntimeDirectory": "onepass", "RuntimeDirectoryMode": "0750", "ProtectSystem": "strict", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"DevicePolicy": "closed", "CapabilityBoundingSet": "", "ExecStart": "/usr/bin/onepassd --config /etc/onepass/onepassd.toml",
	}
	for k, v := range want {
		if got := d[k]; len(got) != 1 || got[0] != v {
			t.Errorf("onepassd.service %s=%q, want %q", k, got, v)
		}
	}
	// Exactly the device classes the drivers open: serial, I2C, video, USB printer, GPIO.
	allow := slices.Sorted(slices.Values(d["DeviceAllow"]))
	wantAllow := []string{"char-bcm2835-gpiomem rw", "char-gpiochip rw", "char-i2c rw", "char-ttyACM rw", "char-ttyAMA rw",
		"char-ttyS rw", "char-ttyUSB rw", "char-usb rw", "char-video4linux rw"}
	if !slices.Equal(allow, wantAllow) {
		t.Errorf("DeviceAllow %q\nwant        %q", allow, wantAllow)
	}
	if _, ok := d["PrivateDevices"]; ok {
		t.Error("PrivateDevices hides the serial ports")
	}

	s := unit(t, "onepass-display.service")
	exec := s["ExecStart"][0]
	for _, w := range []string{"/usr/bin/cage ", "-- /usr/bin/chromium", "--kiosk", "--app=http://127.0.0.1:8080/",
		"--user-data-dir=%t/onepass-display/", "--autoplay-policy=no-user-gesture-required", "--noerrdialogs"} {
		if !strings.Contains(exec, w) {
			t.Errorf("display ExecStart lacks %q: %s", w, exec)
		}
	}
	for k, v := range map[string]string{"Restart": "always", "RuntimeDirectory": "onepass-display", "User": "onepass-display", "TTYPath": "/dev/tty1"} {
		if got := s[k]; len(got) != 1 || got[0] != v {
			t.Errorf("onepass-display.service %s=%q, want %q", k, got, v)
		}
	}
	if !strings.Contains(strings.Join(s["ExecStartPre"], " "), "--blank 0") {
		t.Error("the screen must not blank")
	}
}

// usbTTY describes one emulated device for udevadm test.
type usbTTY struct {
	name      string
	subsystem string // tty or usbmisc
	kernel    string // ttyUSB0, ttyACM0, lp0
	vid, pid  string
	port      string // the USB device's kernel name, i.e. its physical port: 1-1.3
	major     int
	local     string // a site rule in 98-onepass-local.rules
	link      string // expected symlink, "" for none
	group     string
}

// TestUdevRules feeds 99-onepass.rules to the real udev rule engine (udevadm test) with emulated
// USB devices in a fake sysfs, in a private mount namespace whose /dev and /run/udev are scratch.
func TestUdevRules(t *testing.T) {
	need(t, "/usr/bin/udevadm", "/usr/bin/unshare")
	tests := []usbTTY{
		{"reader on CH340 in the reader port", "tty", "ttyUSB0", "1a86", "7523", "1-1.1", 188, "", "onepass-reader", "dialout"},
		{"printer on CH340 in the printer port", "tty", "ttyUSB1", "1a86", "7523", "1-1.2", 188, "", "onepass-printer", "dialout"},
		{"CH340 in another port", "tty", "ttyUSB2", "1a86", "7523", "1-1.4", 188, "", "", "dialout"},
		{"reader on PL2303 in the reader port", "tty", "ttyUSB0", "067b", "2303", "1-1.1", 188, "", "onepass-reader", "dialout"},
		{"reader on FTDI anywhere", "tty", "ttyUSB0", "0403", "6001", "1-1.4", 188, "", "onepass-reader", "dialout"},
		{"reader on CP2102", "tty", "ttyUSB0", "10c4", "ea60", "1-1.3", 188, "", "onepass-reader", "dialout"},
		{"reader on CH9102 (ACM)", "tty", "ttyACM0", "1a86", "55d4", "1-1.3", 166, "", "onepass-reader", "dialout"},
		{"printer on Winbond virtual COM", "tty", "ttyACM0", "0416", "5011", "1-1.3", 166, "", "onepass-printer", "dialout"},
		{"USB printer class", "usbmisc", "lp0", "04b8", "0202", "1-1.3", 180, "", "onepass-printer", "lp"},
		{"unknown serial device", "tty", "ttyUSB0", "1234", "5678", "1-1.1", 188, "", "", "dialout"},
		{"site rule wins", "tty", "ttyUSB0", "10c4", "ea60", "1-1.3", 188,
			`SUBSYSTEM=="tty", ATTRS{idVendor}=="10c4", ENV{ONEPASS_ROLE}="printer"`, "onepass-printer", "dialout"},
	}
	rules, _ := filepath.Abs("99-onepass.rules")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			sys := filepath.Join(root, "sys")
			devpath := fakeUSB(t, sys, tt)
			rulesDir := filepath.Join(root, "rules")
			os.MkdirAll(rulesDir, 0o755)
			b, _ := os.ReadFile(rules)
			os.WriteFile(filepath.Join(rulesDir, "99-onepass.rules"), b, 0o644)
			if tt.local != "" {
				os.WriteFile(filepath.Join(rulesDir, "98-onepass-local.rules"), []byte(tt.local+"\n"), 0o644)
			}
			// The groups the rules name, as the package's sysusers.d creates them.
			group, _ := os.ReadFile("/etc/group")
			for _, g := range []string{"i2c:x:995:", "gpio:x:994:"} {
				if !bytes.Contains(group, []byte("\n"+strings.Split(g, ":")[0]+":")) {
					group = append(group, g+"\n"...)
				}
			}
			os.WriteFile(filepath.Join(root, "group"), group, 0o644)
			out, err := inNamespace(t, `
mount --bind "$ROOT/sys" /sys
mount --bind "$ROOT/rules" /usr/lib/udev/rules.d
mount -t tmpfs tmpfs /etc/udev/rules.d
mount -t tmpfs tmpfs /run/udev 2>/dev/null || { mkdir -p /run/udev; mount -t tmpfs tmpfs /run/udev; }
mount -t tmpfs tmpfs /dev
mount --bind "$ROOT/group" /etc/group
udevadm test --action=add "/sys$DEVPATH"
`, "ROOT="+root, "DEVPATH="+devpath, "SYSTEMD_DEVICE_VERIFY_SYSFS=0")
			if err != nil {
				t.Fatalf("udevadm test: %v\n%s", err, out)
			}
			if strings.Contains(out, "Invalid") || strings.Contains(out, "invalid") || strings.Contains(out, "Unknown group") {
				t.Errorf("udev complains about the rules:\n%s", out)
			}
			links := regexp.MustCompile(`(?m)^DEVLINKS=(.*)$`).FindStringSubmatch(out)
			var got string
			if links != nil {
				for _, l := range strings.Fields(links[1]) {
					if strings.HasPrefix(l, "/dev/onepass-") {
						got = strings.TrimPrefix(l, "/dev/")
					}
				}
			}
			if got != tt.link {
				t.Errorf("link %q, want %q\n%s", got, tt.link, out)
			}
			gid := groupID(string(group), tt.group)
			if !strings.Contains(out, fmt.Sprintf(" GROUP %s\n", gid)) {
				t.Errorf("group of %s is not %s (%s)\n%s", tt.kernel, tt.group, gid, out)
			}
		})
	}
}

func groupID(group, name string) string {
	for _, l := range strings.Split(group, "\n") {
		if f := strings.Split(l, ":"); len(f) > 2 && f[0] == name {
			return f[2]
		}
	}
	return "?"
}

// fakeUSB lays out, in a fake sysfs, a USB device in a port with one interface and its tty (or
// usblp) child, as the kernel does; it returns the child's devpath.
func fakeUSB(t *testing.T, sys string, d usbTTY) string {
	t.Helper()
	usb := filepath.Join(sys, "devices/platform/soc/usb1/1-1", d.port)
	iface := filepath.Join(usb, d.port+":1.0")
	var dev, class string
	switch d.subsystem {
	case "tty":
		dev = filepath.Join(iface, d.kernel, "tty", d.kernel)
		if strings.HasPrefix(d.kernel, "ttyACM") {
			dev = filepath.Join(iface, "tty", d.kernel)
		}
		class = "class/tty"
	case "usbmisc":
		dev = filepath.Join(iface, "usbmisc", d.kernel)
		class = "class/usbmisc"
	}
	files := map[string]string{
		filepath.Join(usb, "idVendor"):      d.vid + "\n",
		filepath.Join(usb, "idProduct"):     d.pid + "\n",
		filepath.Join(usb, "uevent"):        "DEVTYPE=usb_device\nDRIVER=usb\n",
		filepath.Join(iface, "uevent"):      "DEVTYPE=usb_interface\n",
		filepath.Join(dev, "uevent"):        fmt.Sprintf("MAJOR=%d\nMINOR=0\nDEVNAME=%s\n", d.major, devName(d)),
		filepath.Join(dev, "dev"):           fmt.Sprintf("%d:0\n", d.major),
		filepath.Join(sys, class, ".keep"):  "",
		filepath.Join(sys, "bus/usb/.keep"): "",
	}
	for p, c := range files {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(from, to string) {
		rel, err := filepath.Rel(from, to)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(rel, filepath.Join(from, "subsystem")); err != nil {
			t.Fatal(err)
		}
	}
	link(usb, filepath.Join(sys, "bus/usb"))
	link(iface, filepath.Join(sys, "bus/usb"))
	link(dev, filepath.Join(sys, class))
	return strings.TrimPrefix(dev, sys)
}

func devName(d usbTTY) string {
	if d.subsystem == "usbmisc" {
		return "usb/" + d.kernel
	}
	return d.kernel
}
