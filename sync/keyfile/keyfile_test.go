package keyfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.key")
	for _, content := range []string{"first", "second, longer"} {
		if err := Write(p, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read back %q, %v", b, err)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Error("temporary file left behind")
	}
	if err := Write(filepath.Join(dir, "missing", "k.key"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

// TestWriteMode: a key is 0600 whatever the umask, even when a crash left its temporary file with
// a wider mode (O_TRUNC keeps a file's mode). Not parallel: the umask is the process's.
func TestWriteMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, tc := range []struct {
		name     string
		leftover bool
	}{{"fresh", false}, {"temporary file left 0644", true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "device.key")
			if tc.leftover {
				if err := os.WriteFile(p+".tmp", []byte("half a key"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, []byte("key")); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
			}
		})
	}
}
