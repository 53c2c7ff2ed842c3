package local

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// run is Run as the tests call it: the version "dev", no stdin.
func run(args []string, stdout, stderr io.Writer) int {
	return Run(args, "dev", strings.NewReader(""), stdout, stderr)
}

func TestRunRefusesDaemonCommands(t *testing.T) {
	for _, args := range [][]string{{"status"}, {"sync"}, {"sim", "temp", "36.6"}, {"staff", "remove"}} {
		var out bytes.Buffer
		if code := run(args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out.String())
		}
	}
}
