package scripts_test

import (
	"crypto/md5"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDebianVersion: what git describe becomes in the package. Only a release tag is a release;
// every untagged build sorts below every release, whatever its hash starts with.
func TestDebianVersion(t *testing.T) {
	tests := []struct{ describe, want string }{
		{"1.2.3", "1.2.3"},
		{"v1.2.3", "1.2.3"},
		{"v1.2.3-dirty", "1.2.3+dirty"},
		{"v1.2.3-4-gabc1234", "1.2.3+4.gabc1234"},
		{"v1.2.3-4-gabc1234-dirty", "1.2.3+4.gabc1234.dirty"},
		{"1234567", "0.0.0+git.1234567"}, // a hash that starts with a digit
		{"1234567-dirty", "0.0.0+git.1234567.dirty"},
		{"0a5bf54", "0.0.0+git.0a5bf54"},
		{"abc1234", "0.0.0+git.abc1234"},
		{"abc1234-dirty", "0.0.0+git.abc1234.dirty"},
		{"9999999999", "0.0.0+git.9999999999"},
		{"dev", "0.0.0+git.dev"},
	}
	for _, tt := range tests {
		cmd := exec.Command("./package.sh", "--debian-version")
		cmd.Env = append(os.Environ(), "VERSION="+tt.describe)
		out, err := cmd.Output()
		got := strings.TrimSpace(string(out))
		if err != nil || got != tt.want {
			t.Errorf("VERSION=%s: %q (%v), want %q", tt.describe, got, err, tt.want)
			continue
		}
		// How dpkg orders it among releases (a malformed version makes dpkg complain).
		for _, other := range []string{"0.0.1", "0.1", "1.0.0", "1.2.3", "1.2.4"} {
			op := "lt" // an untagged build: below every release
			if strings.HasPrefix(got, "1.2.3") {
				switch {
				case other == "1.2.4":
					op = "lt"
				case got == other:
					op = "eq"
				default:
					op = "gt" // 1.2.3 and what was built after it
				}
			}
			if out, err := exec.Command("dpkg", "--compare-versions", got, op, other).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("VERSION=%s: want dpkg --compare-versions %s %s %s: %v %s", tt.describe, got, op, other, err, out)
			}
		}
	}
}

// TestPackageContents: the camera's models with the MD5 sums their NOTICE publishes, and the
// OpenCV libraries at no older version than the one the binaries were built against.
func TestPackageContents(t *testing.T) {
	deb := packages(t)["1.0.0"]

	depends, err := exec.Command("dpkg-deb", "-f", deb, "Depends").Output()
	if err != nil {
		t.Fatal(err)
	}
	opencv := 0
	for _, dep := range strings.Split(strings.TrimSpace(string(depends)), ", ") {
		name, constraint, _ := strings.Cut(dep, " ")
		if !strings.HasPrefix(name, "libopencv") {
			continue
		}
		opencv++
		installed, err := exec.Command("dpkg-query", "-W", "-f=${Version}", name).Output()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if want := "(>= " + string(installed) + ")"; constraint != want {
			t.Errorf("Depends: %s, want %s %s (the version built against)", dep, name, want)
		}
	}
	if opencv == 0 {
		t.Errorf("Depends names no OpenCV library: %s", depends)
	}

	// The models, byte for byte as the NOTICE lists them.
	notice, err := os.ReadFile("../drivers/camera/wechat_qrcode/NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+([0-9a-f]{32})\s+(\S+)\s*$`).FindAllStringSubmatch(string(notice), -1) {
		sums[m[2]] = m[1]
	}
	if len(sums) != 4 {
		t.Fatalf("the NOTICE lists %d models, want 4: %v", len(sums), sums)
	}
	list, err := exec.Command("dpkg-deb", "-c", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, dir).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	for name, sum := range sums {
		path := "/usr/share/onepass/wechat_qrcode/" + name
		if !regexp.MustCompile(`(?m)^-rw-r--r-- root/root .* \.` + regexp.QuoteMeta(path) + `$`).Match(list) {
			t.Errorf("%s is not in the package as a 0644 file of root:\n%s", path, list)
		}
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := md5.Sum(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: MD5 %x, the NOTICE says %s", path, got, sum)
		}
	}
	if !strings.Contains(string(list), "./usr/share/onepass/wechat_qrcode/NOTICE\n") {
		t.Error("the models' NOTICE is not in the package")
	}
}
