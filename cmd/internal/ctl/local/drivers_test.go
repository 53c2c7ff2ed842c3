package local

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strconv"
	"testing"
)

// blankImports lists the packages a file imports for their side effects (driver registration).
func blankImports(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, im := range f.Imports {
		if im.Name != nil && im.Name.Name == "_" {
			p, _ := strconv.Unquote(im.Path.Value)
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// TestDriversMatchDaemon: selftest must open every part the daemon can, so a driver added to the
// daemon is added here too (the message says which line).
func TestDriversMatchDaemon(t *testing.T) {
	daemon := blankImports(t, "../../../onepassd/drivers.go")
	ctl := blankImports(t, "drivers.go")
	for _, p := range daemon {
		if !slices.Contains(ctl, p) {
			t.Errorf("onepassd ships driver %s but onepassctl selftest cannot open it: add `_ %q` to cmd/internal/ctl/local/drivers.go", p, p)
		}
	}
	for _, p := range ctl {
		if !slices.Contains(daemon, p) {
			t.Errorf("onepassctl imports driver %s that onepassd does not ship: remove it from cmd/internal/ctl/local/drivers.go or add it to cmd/onepassd/drivers.go", p)
		}
	}
}
