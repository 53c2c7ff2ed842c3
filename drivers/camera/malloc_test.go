package camera

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMmapThreshold: the package fixes glibc's mmap threshold at start, so a frame-sized
// allocation is given back on free even after a larger one raised glibc's dynamic threshold; with
// the environment's MALLOC_MMAP_THRESHOLD_ (which wins) set high, it comes from an arena.
func TestMmapThreshold(t *testing.T) {
	if os.Getenv("ONEPASS_MMAP_CHILD") != "" {
		if !mmapServed(mallocMmapThreshold * 2) {
			os.Exit(3)
		}
		os.Exit(0)
	}
	for _, tc := range []struct {
		env    string
		mapped bool
	}{{"", true}, {"MALLOC_MMAP_THRESHOLD_=33554432", false}} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMmapThreshold$")
		cmd.Env = []string{"ONEPASS_MMAP_CHILD=1"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "MALLOC_") { // even an empty MALLOC_MMAP_THRESHOLD_ sets it (to 0)
				cmd.Env = append(cmd.Env, kv)
			}
		}
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		err := cmd.Run()
		if got := err == nil; got != tc.mapped {
			t.Errorf("env %q: served by mmap %v (%v), want %v", tc.env, got, err, tc.mapped)
		}
	}
}
