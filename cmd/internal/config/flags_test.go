package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --config and --data as every command reads them: --data wins over the file's data.
func TestFromFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "onepassd.toml")
	if err := os.WriteFile(file, []byte("data = \"/srv/onepass\"\n[lane]\nid = \"east\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("colour = \"red\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, data   string
		wantData, wantLane string
		errHas             string
	}{
		{"the file's data", file, "", "/srv/onepass", "east", ""},
		{"--data over the file's", file, "/tmp/elsewhere", "/tmp/elsewhere", "east", ""},
		{"a named file must exist", filepath.Join(dir, "missing.toml"), "/tmp/x", "", "", "no such file"},
		{"a bad file is refused, --data or not", bad, "/tmp/x", "", "", "unknown key colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromFlags(tt.file, tt.data)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Data != tt.wantData || c.Lane.ID != tt.wantLane {
				t.Errorf("data %q lane %q, want %q %q", c.Data, c.Lane.ID, tt.wantData, tt.wantLane)
			}
		})
	}
}
