package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "onepass"

// allowed lists, for each package of ours, the packages of ours its non-test files may import.
// Keep it to the floors: identity and the leaves import nothing of ours; drivers import device
// and identity; kiosk never imports ui or sync/client; sync never imports kiosk; ui never imports
// sync/store; cmd/* holds assembly and may import anything.
var allowed = map[string][]string{
	"device":                   nil,
	"identity":                 nil,
	"internal/connlimit":       nil, // the per-address connection cap of the hub's and the UI's listeners
	"internal/pgtest":          nil, // tests only: a throwaway PostgreSQL server
	"kiosk/broadcast":          nil,
	"kiosk/policy":             nil,
	"signing":                  nil,
	"sync/keyfile":             nil,
	"sync/internal/sqlitedb":   nil,
	"sync/store":               {"sync/internal/sqlitedb", "sync/wire"}, // types, protocol arithmetic and time encoding only
	"sync/wire":                {"signing"},
	"drivers/camera":           {"device"},
	"drivers/camera/camtest":   nil,
	"drivers/escpos":           {"device"},
	"drivers/escpos/escpossim": {"drivers/internal/simpty"},
	"drivers/gpio":             {"device"},
	"drivers/idcard":           {"device", "identity"},
	"drivers/idcard/idcardsim": {"device", "drivers/internal/simpty"},
	"drivers/internal/simpty":  nil,
	"drivers/mlx90614":         {"device"},
	"drivers/mlx90614/mlxsim":  nil,
	"drivers/sim":              {"device", "drivers/camera", "drivers/escpos", "drivers/escpos/escpossim", "drivers/gpio", "drivers/idcard", "drivers/idcard/idcardsim", "drivers/mlx90614", "drivers/mlx90614/mlxsim"},
	"kiosk":                    {"device", "identity", "kiosk/broadcast", "kiosk/healthcode", "kiosk/policy", "sync/store"},
	"kiosk/healthcode":         {"identity", "kiosk/policy", "signing"},
	"kiosk/queue":              {"device", "kiosk/broadcast", "sync/store"},
	"sync/client":              {"identity", "signing", "sync/keyfile", "sync/store", "sync/wire"},
	"sync/hub":                 {"identity", "internal/connlimit", "signing", "sync/internal/sqlitedb", "sync/keyfile", "sync/wire"},
	"sync/hub/dashboard":       {"sync/hub", "sync/wire"}, // the operators' dashboard (/admin/): reads the hub's methods only; wire for the telemetry report's type they return
	"ui":                       {"device", "internal/connlimit", "kiosk", "kiosk/policy", "kiosk/queue", "ui/api"},
	"ui/api":                   {"device", "drivers/idcard/idcardsim"}, // the sim card request is idcardsim's own
	"cmd/internal/config":      {"device", "kiosk", "kiosk/healthcode", "kiosk/policy", "kiosk/queue", "signing"},
	"cmd/internal/selftest":    {"device", "sync/store"},
	"cmd/internal/ctl":         nil,
	"cmd/internal/ctl/local": {"cmd/internal/config", "cmd/internal/ctl", "cmd/internal/selftest", "device", "drivers/camera",
		"drivers/escpos", "drivers/gpio", "drivers/idcard", "drivers/mlx90614", "drivers/sim", "kiosk/healthcode", "sync/client", "sync/store"},
}

// never holds arrows the architecture forbids outright, whatever the list above says.
// Each side names a package and everything below it; "" on the right means any package of ours.
var never = [][2]string{
	{"device", "drivers"}, {"kiosk", "ui"}, {"kiosk", "sync/client"}, {"drivers", "kiosk"},
	{"sync", "kiosk"}, {"ui", "sync/store"}, {"identity", ""}, {"signing", ""},
}

func TestArrows(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	arrows := imports(t, root)
	if len(arrows) < 20 {
		t.Fatalf("found only %d packages under %s: is the walk wrong?", len(arrows), root)
	}
	for pkg, deps := range arrows {
		for _, dep := range deps {
			for _, n := range never {
				if under(pkg, n[0]) && (n[1] == "" || under(dep, n[1])) {
					t.Errorf("%s imports %s: the architecture forbids %s → %s", pkg, dep, n[0], orAnything(n[1]))
				}
			}
			if strings.HasPrefix(pkg, "cmd/") && !strings.HasPrefix(pkg, "cmd/internal/") {
				continue
			}
			ok, listed := allowed[pkg]
			if !listed {
				t.Errorf("%s is not listed in layers_test.go: add it with the arrows it may have", pkg)
				break
			}
			if !slices.Contains(ok, dep) {
				t.Errorf("new arrow %s → %s: move the code to the right floor, or list the arrow if it belongs", pkg, dep)
			}
		}
	}
}

func under(pkg, tree string) bool { return pkg == tree || strings.HasPrefix(pkg, tree+"/") }

func orAnything(s string) string {
	if s == "" {
		return "anything of ours"
	}
	return s
}

// imports reads every non-test Go file below root and returns each package's imports of ours.
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "bin" || n == "dist") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := filepath.ToSlash(rel)
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if dep, ok := strings.CutPrefix(p, module+"/"); ok && !slices.Contains(out[pkg], dep) {
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range out {
		sort.Strings(out[pkg])
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
