package scripts_test

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDevSetupCoversPrograms keeps `make run` and `make test` from depending on a machine's
// past: a fresh Debian 12 has its Priority: required packages and what scripts/dev-setup.sh
// installs, nothing else. Every external program the code runs must come from one of them: the
// absolute program paths in Go files, the names Go passes to exec.LookPath, exec.Command and
// exec.CommandContext, and the commands of the shell scripts the tests, dpkg and the Makefile run.
// A program that is not installed here at all fails too: nobody can tell its package.
func TestDevSetupCoversPrograms(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	progs, err := namedPrograms(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) < 20 {
		t.Fatalf("found only %d programs; the scan is broken: %v", len(progs), progs)
	}
	listed := devSetupPackages(t)

	// The Go toolchain is not a Debian package: the README's prerequisite, which dev-setup.sh
	// checks for by itself.
	goroot := "/usr/local/go/"
	// Our own binaries (cmd/*) are built by the project, not installed from Debian.
	ours := map[string]bool{}
	cmds, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if c.IsDir() && c.Name() != "internal" {
			ours[c.Name()] = true
		}
	}
	paths := map[string]string{} // program → the file it resolves to here
	var names []string
	for p := range progs {
		if ours[filepath.Base(p)] {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			names = append(names, p)
		} else {
			paths[p] = p
		}
	}
	for name, kind := range resolveCommands(t, names) {
		if kind.typ == "file" {
			paths[name] = kind.path
		} else if kind.typ == "" {
			paths[name] = "" // not found
		}
		// builtins and keywords are bash's own
	}

	owners := packageOwners(t, slices.Collect(maps.Values(paths)))
	var pkgs []string
	for _, o := range owners {
		pkgs = append(pkgs, o...)
	}
	prio := priorities(t, pkgs)

	var problems []string
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		file, where := paths[p], strings.Join(progs[p], ", ")
		switch {
		case file == "" || !exists(file):
			problems = append(problems, fmt.Sprintf("%s (named in %s) is not installed here: its package cannot be told; add it to scripts/dev-setup.sh", p, where))
		case strings.HasPrefix(file, goroot):
		case len(owners[file]) == 0:
			problems = append(problems, fmt.Sprintf("%s (named in %s) is %s, which no Debian package ships", p, where, file))
		default:
			ok := false
			for _, pkg := range owners[file] {
				ok = ok || listed[pkg] || prio[pkg] == "required"
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%s (named in %s) comes from package %s (Priority: %s), which scripts/dev-setup.sh does not install",
					p, where, strings.Join(owners[file], " or "), prio[owners[file][0]]))
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%d programs checked, %d packages in dev-setup.sh", len(paths), len(listed))
}

// devSetupPackages is what scripts/dev-setup.sh installs (its --list).
func devSetupPackages(t *testing.T) map[string]bool {
	t.Helper()
	out, err := exec.Command("./dev-setup.sh", "--list").Output()
	if err != nil {
		t.Fatalf("dev-setup.sh --list: %v", err)
	}
	m := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		m[p] = true
	}
	if len(m) == 0 {
		t.Fatal("dev-setup.sh --list lists nothing")
	}
	// A metapackage stands for the versioned package it depends on (postgresql → postgresql-15):
	// dev-setup.sh names the one that outlives a Debian release.
	deps, _ := exec.Command("dpkg-query", append([]string{"-W", "-f=${Package}\t${Depends}\n"}, slices.Sorted(maps.Keys(m))...)...).Output()
	for _, line := range strings.Split(string(deps), "\n") {
		pkg, ds, _ := strings.Cut(line, "\t")
		for d := range strings.SplitSeq(ds, ",") {
			if f := strings.Fields(d); len(f) > 0 && strings.HasPrefix(f[0], pkg+"-") {
				m[f[0]] = true
			}
		}
	}
	return m
}

var (
	programPath = regexp.MustCompile(`^/(usr/)?s?bin/[A-Za-z0-9._+-]+$`)
	makeShell   = regexp.MustCompile(`\$\(shell ([^()]*)\)`)
	makeRef     = regexp.MustCompile(`\$[({][A-Za-z_][A-Za-z0-9_]*[)}]`)
)

// namedPrograms returns every program the repository runs (absolute paths or bare names),
// each with the files that name it.
func namedPrograms(root string) (map[string][]string, error) {
	progs := map[string][]string{}
	add := func(p, where string) {
		if !slices.Contains(progs[p], where) {
			progs[p] = append(progs[p], where)
		}
	}
	// Shell scripts to read: the maintainer scripts (dpkg runs them in TestPackage),
	// dev-setup.sh (make run and make test run it) and whatever the Go code and they run.
	scripts := []string{"scripts/deb/postinst", "scripts/deb/prerm", "scripts/deb/postrm", "scripts/dev-setup.sh"}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "dist" || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		found, err := goPrograms(path)
		if err != nil {
			return err
		}
		for _, p := range found {
			if strings.HasPrefix(p, "./") || strings.HasPrefix(p, "../") {
				scripts = append(scripts, filepath.Join(filepath.Dir(rel), p)) // a script of ours
			} else {
				add(p, rel)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// The Makefile's recipes and $(shell …) calls, as the shell sees them.
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return nil, err
	}
	var sh strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(string(mk), "\\\n", " "), "\n") {
		if strings.HasPrefix(line, "\t") {
			sh.WriteString(strings.TrimLeft(line, "\t@-+") + "\n")
		} else {
			for _, m := range makeShell.FindAllStringSubmatch(line, -1) {
				sh.WriteString(m[1] + "\n")
			}
		}
	}
	text := makeRef.ReplaceAllString(strings.ReplaceAll(sh.String(), "$$", "$"), "$$MAKEVAR")
	for _, c := range shellCommands(text) {
		if strings.Contains(c, "/") {
			scripts = append(scripts, c)
		} else {
			add(c, "Makefile")
		}
	}

	seen := map[string]bool{}
	for len(scripts) > 0 {
		s := filepath.Clean(scripts[0])
		scripts = scripts[1:]
		if seen[s] {
			continue
		}
		seen[s] = true
		b, err := os.ReadFile(filepath.Join(root, s))
		if err != nil {
			return nil, fmt.Errorf("a script the code runs: %w", err)
		}
		for _, c := range shellCommands(string(b)) {
			switch {
			case strings.HasPrefix(c, "/"):
				add(c, s)
			case strings.Contains(c, "/"): // another script of ours: relative to the repository (scripts/build.sh) or to this one
				if _, err := os.Stat(filepath.Join(root, c)); err == nil {
					scripts = append(scripts, c)
				} else {
					scripts = append(scripts, filepath.Join(filepath.Dir(s), c))
				}
			default:
				add(c, s)
			}
		}
	}
	return progs, nil
}

// goPrograms returns the absolute program paths in a Go file's string literals and the literal
// names it passes to exec.LookPath, exec.Command and exec.CommandContext.
func goPrograms(path string) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var out []string
	literal := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BasicLit:
			if s, ok := literal(n); ok && programPath.MatchString(s) {
				out = append(out, s)
			}
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "exec" {
				return true
			}
			arg := 0
			switch sel.Sel.Name {
			case "LookPath", "Command":
			case "CommandContext":
				arg = 1
			default:
				return true
			}
			if len(n.Args) > arg {
				if s, ok := literal(n.Args[arg]); ok {
					out = append(out, s)
				}
			}
		}
		return true
	})
	return out, nil
}

type commandKind struct{ typ, path string }

// resolveCommands asks bash what each name is (builtin, keyword or file, and where), with the
// PATH a root shell has plus the Go toolchain.
func resolveCommands(t *testing.T, names []string) map[string]commandKind {
	t.Helper()
	cmd := exec.Command("bash", "-c", `for n in "$@"; do printf '%s\t%s\t%s\n' "$n" "$(type -t "$n")" "$(type -P "$n")"; done`, "bash")
	cmd.Args = append(cmd.Args, names...)
	cmd.Env = append(os.Environ(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/go/bin")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash type: %v", err)
	}
	m := map[string]commandKind{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) == 3 {
			m[f[0]] = commandKind{f[1], f[2]}
		}
	}
	if len(m) != len(names) {
		t.Fatalf("bash answered for %d of %d names", len(m), len(names))
	}
	return m
}

// packageOwners maps each file to the Debian packages that ship it (dpkg -S), trying its
// merged-/usr twin (dpkg knows /bin/sh, not /usr/bin/sh) and, for an alternatives symlink, the
// file it points to.
func packageOwners(t *testing.T, files []string) map[string][]string {
	t.Helper()
	candidates := map[string][]string{} // file → paths to ask for
	var ask []string
	for _, f := range files {
		if f == "" {
			continue
		}
		c := []string{f}
		if real, err := filepath.EvalSymlinks(f); err == nil && real != f {
			c = append(c, real)
		}
		for _, p := range slices.Clone(c) {
			if twin, ok := strings.CutPrefix(p, "/usr"); ok {
				c = append(c, twin)
			} else {
				c = append(c, "/usr"+p)
			}
		}
		candidates[f] = c
		ask = append(ask, c...)
	}
	// dpkg -S exits 1 when any path is unknown, and still prints the others.
	out, _ := exec.Command("dpkg", append([]string{"-S"}, slices.Compact(slices.Sorted(slices.Values(ask)))...)...).Output()
	shipped := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "diversion ") {
			continue
		}
		pkgs, path, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		for _, p := range strings.Split(pkgs, ", ") {
			p, _, _ = strings.Cut(p, ":") // libfoo:amd64
			shipped[path] = append(shipped[path], p)
		}
	}
	owners := map[string][]string{}
	for f, c := range candidates {
		for _, p := range c {
			if len(shipped[p]) > 0 {
				owners[f] = shipped[p]
				break
			}
		}
	}
	return owners
}

// priorities returns each installed package's Priority field.
func priorities(t *testing.T, pkgs []string) map[string]string {
	t.Helper()
	m := map[string]string{}
	if len(pkgs) == 0 {
		return m
	}
	out, err := exec.Command("dpkg-query", append([]string{"-W", "-f=${Package}\t${Priority}\n"}, slices.Compact(slices.Sorted(slices.Values(pkgs)))...)...).Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("dpkg-query: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if p, prio, ok := strings.Cut(line, "\t"); ok {
			m[p] = prio
		}
	}
	return m
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
