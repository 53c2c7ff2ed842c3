package local

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"onepass/cmd/internal/config"
)

func TestStaffAdd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "staff.toml")
	var out bytes.Buffer
	if err := staffAdd([]string{"--id", "7", "--name", "王芳", "--counter", "3", "--file", file}, strings.NewReader("2468\n"), &out); err != nil {
		t.Fatal(err)
	}
	if err := staffAdd([]string{"--id", "8", "--name", "李雷", "--file", file}, strings.NewReader("13579"), &out); err != nil {
		t.Fatal(err)
	}
	users, err := config.ReadStaffFile(file)
	if err != nil || len(users) != 2 || users[0].ID != "7" || users[0].Counter != "3" {
		t.Fatalf("staff file: %+v, %v", users, err)
	}
	if bcrypt.CompareHashAndPassword([]byte(users[0].PINHash), []byte("2468")) != nil {
		t.Error("the hash does not match the PIN")
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "2468") {
		t.Error("the PIN itself is in the file")
	}
	if err := staffAdd([]string{"--id", "7", "--name", "x", "--file", file}, strings.NewReader("1111\n"), &out); err == nil {
		t.Error("staff 7 added twice")
	}
	for _, pin := range []string{"12", "abcd", ""} {
		if err := staffAdd([]string{"--id", "9", "--name", "x"}, strings.NewReader(pin), &out); err == nil {
			t.Errorf("PIN %q accepted", pin)
		}
	}
}

// TestStaffAddShortPIN: a PIN that is too short says so in one line (exit 2), without burying
// it under the whole usage.
func TestStaffAddShortPIN(t *testing.T) {
	var out, errb bytes.Buffer
	code := Run([]string{"staff", "add", "--id", "9", "--name", "x"}, "dev", strings.NewReader("12\n"), &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "the PIN must be 4–12 digits") || strings.Contains(errb.String(), "Commands:") ||
		strings.Count(errb.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr:\n%s", code, errb.String())
	}
}
