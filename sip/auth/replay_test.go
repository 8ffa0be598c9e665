package auth

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkNCTable measures the replay table: a new nonce per request in
// a full table (each evicts one), and the next count of a known nonce.
func BenchmarkNCTable(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	nonces := make([]string, 1<<16)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("nonce-%08x", i)
	}
	b.Run("new_nonce_full", func(b *testing.B) {
		tab := newNCTable(4096)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.advance(nonces[i%len(nonces)], 1, now.Add(time.Duration(i)), exp, now)
			i++
		}
	})
	b.Run("next_count", func(b *testing.B) {
		tab := newNCTable(4096)
		for _, n := range nonces[:1024] {
			tab.advance(n, 1, now, exp, now)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.advance(nonces[i%1024], uint32(2+i/1024), now, exp, now)
			i++
		}
	})
}

// TestNoHandWrittenLRU keeps sip/auth on the kept LRU library (issue 12): no
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
