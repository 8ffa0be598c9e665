package callerid

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/directory/phone"
)

// BenchmarkParseCache measures the caller-ID parse cache alone: hits (the
// repeat caller), misses that evict (every number new), and hits from
// every core at once.
func BenchmarkParseCache(b *testing.B) {
	const size = 10_000
	keys := make([]string, 4*size)
	for i := range keys {
		keys[i] = fmt.Sprintf("0033 1 %08d", i*7919)
	}
	b.Run("hit", func(b *testing.B) {
		c := newShardedCache(size)
		for _, k := range keys[:size/2] {
			c.put(k, phone.Number{E164: "+" + k}, true)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, found := c.get(keys[i%(size/2)]); !found {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("miss_put", func(b *testing.B) {
		c := newShardedCache(size)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%len(keys)]
			if _, _, found := c.get(k); !found {
				c.put(k, phone.Number{E164: "+" + k}, true)
			}
			i++
		}
	})
	b.Run("hit_parallel", func(b *testing.B) {
		c := newShardedCache(size)
		for _, k := range keys[:size/2] {
			c.put(k, phone.Number{E164: "+" + k}, true)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				c.get(keys[i%(size/2)])
				i++
			}
		})
	})
}

// TestNoHandWrittenLRU keeps caller ID on the kept LRU library (issue 12): no
// non-test file links list nodes itself (container/list, or a struct with
// prev and next fields).
func TestNoHandWrittenLRU(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			assert.NotEqual(t, `"container/list"`, imp.Path.Value, "%s: use github.com/hashicorp/golang-lru/v2", name)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				fields := map[string]bool{}
				for _, fl := range st.Fields.List {
					for _, id := range fl.Names {
						fields[id.Name] = true
					}
				}
				assert.False(t, fields["prev"] && fields["next"], "%s: a hand-linked list at %s", name, fset.Position(st.Pos()))
			}
			return true
		})
	}
}
