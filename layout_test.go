// Package switchboard holds module-wide tests only: the layout and library tests.
package switchboard

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The import direction (README "Layout"): cmd → edges (sip, api, ldap) →
// callerid → directory → accounts, with presence, events, accounts, lease
// and instance importing no other project package, and the edges never
// reaching events, Redis or NATS. Each rule names a package (with its
// subpackages) and the project packages it may import besides its own
// subpackages; nil allows none.
var layoutRules = []struct {
	pkg   string
	allow []string
}{
	{"presence", nil},
	{"events", nil},
	{"accounts", nil},
	{"lease", nil},
	{"instance", nil},
	{"directory", []string{"accounts"}},
	{"callerid", []string{"directory", "accounts"}},
	{"calendar", []string{"presence"}},
	{"calls", []string{"presence", "directory/phone"}},
}

// edges are the protocol edges. They may import the domain packages, but
// never events (not even through another package), nor a Redis or NATS
// client: state and messaging are wired in cmd.
var (
	edges          = []string{"sip", "api", "ldap"}
	edgesNeverDeps = []string{"events"}
	edgesNeverLibs = []string{"github.com/redis/", "github.com/nats-io/"}
)

// TestLayout checks every package's non-test imports against layoutRules
// and the edge rules. It reads the sources with go/build in the test
// process, so a cached pass is invalidated when any source file changes.
func TestLayout(t *testing.T) {
	module, imports := moduleImports(t)
	require.Contains(t, imports, "directory", "the walk found the project's packages")

	for _, r := range layoutRules {
		for pkg, imps := range imports {
			if !under(pkg, r.pkg) {
				continue
			}
			for _, imp := range imps {
				rel, ok := project(module, imp)
				if !ok || under(rel, r.pkg) || slices.ContainsFunc(r.allow, func(a string) bool { return under(rel, a) }) {
					continue
				}
				t.Errorf("%s imports %s: %s may import only %s", pkg, rel, r.pkg, allowed(r.allow))
			}
		}
	}

	for pkg, imps := range imports {
		if !slices.ContainsFunc(edges, func(e string) bool { return under(pkg, e) }) {
			continue
		}
		for _, imp := range imps {
			for _, lib := range edgesNeverLibs {
				if strings.HasPrefix(imp, lib) {
					t.Errorf("edge %s imports %s: Redis and NATS are wired in cmd", pkg, imp)
				}
			}
		}
		for _, dep := range deps(module, imports, pkg) {
			for _, never := range edgesNeverDeps {
				if under(dep, never) {
					t.Errorf("edge %s depends on %s: events are wired in cmd", pkg, dep)
				}
			}
		}
	}
}

// TestLayoutRulesName checks that every package a rule names exists, so
// a rename cannot leave a rule checking nothing.
func TestLayoutRulesName(t *testing.T) {
	_, imports := moduleImports(t)
	names := slices.Clone(edges)
	for _, r := range layoutRules {
		names = append(names, r.pkg)
		names = append(names, r.allow...)
	}
	for _, n := range names {
		assert.Contains(t, imports, n, "layout rule names a missing package")
	}
}

// moduleImports returns the module path and, for every package of the
// module by path relative to the module root, its non-test imports for
// this platform.
func moduleImports(t *testing.T) (string, map[string][]string) {
	t.Helper()
	mod, err := os.ReadFile("go.mod")
	require.NoError(t, err)
	var module string
	for _, line := range strings.Split(string(mod), "\n") {
		if m, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			module = strings.TrimSpace(m)
		}
	}
	require.NotEmpty(t, module, "module line in go.mod")

	imports := map[string][]string{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		name := d.Name()
		if path != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		p, err := build.Default.ImportDir(path, 0)
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil // no Go files, or tests only
		}
		if err != nil {
			return err
		}
		imports[filepath.ToSlash(path)] = p.Imports
		return nil
	})
	require.NoError(t, err)
	return module, imports
}

// deps returns the project packages pkg depends on, directly or not.
func deps(module string, imports map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, imp := range imports[p] {
			if rel, ok := project(module, imp); ok && !seen[rel] {
				seen[rel] = true
				walk(rel)
			}
		}
	}
	walk(pkg)
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// project returns imp relative to the module root when it is a package of
// the module.
func project(module, imp string) (string, bool) {
	if imp == module {
		return ".", true
	}
	return strings.CutPrefix(imp, module+"/")
}

// under reports whether pkg is root or one of its subpackages.
func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

func allowed(allow []string) string {
	if len(allow) == 0 {
		return "its own subpackages"
	}
	return strings.Join(allow, ", ") + " and its own subpackages"
}
