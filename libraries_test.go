package switchboard

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNoHandWrittenLRU keeps caches and rate limits on kept libraries
// (issue 12): no non-test file of the module links list nodes itself
// (container/list, or a struct with prev and next fields), and sip/limit's
// token buckets are golang.org/x/time/rate's. Use
// github.com/hashicorp/golang-lru/v2 for caches.
func TestNoHandWrittenLRU(t *testing.T) {
	_, imports := moduleImports(t)
	assert.Contains(t, imports["sip/limit"], "golang.org/x/time/rate", "token buckets: use golang.org/x/time/rate")

	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			assert.NotEqual(t, `"container/list"`, imp.Path.Value, "%s: use github.com/hashicorp/golang-lru/v2", path)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				var names []string
				for _, fl := range st.Fields.List {
					for _, id := range fl.Names {
						names = append(names, id.Name)
					}
				}
				assert.False(t, slices.Contains(names, "prev") && slices.Contains(names, "next"),
					"a hand-linked list at %s", fset.Position(st.Pos()))
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 50, "the walk found the module's files")
}
