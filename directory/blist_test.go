package directory

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBlistMatchesSortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tt := range []struct {
		name string
		bulk int
	}{{name: "from empty"}, {name: "after build", bulk: 5000}} {
		t.Run(tt.name, func(t *testing.T) {
			l := newBlist(cmp.Compare[int])
			var want []int
			for i := range tt.bulk {
				want = append(want, i*2)
			}
			l.build(slices.Clone(want))
			for range 20000 {
				v := r.IntN(20000)
				i, found := slices.BinarySearch(want, v)
				if r.IntN(3) == 0 {
					assert.Equal(t, found, l.remove(v))
					if found {
						want = slices.Delete(want, i, i+1)
					}
				} else if !found {
					l.insert(v)
					want = slices.Insert(want, i, v)
				}
			}
			require.Equal(t, len(want), l.n)
			var got []int
			l.ascend(func(int) bool { return false }, func(v int) bool { got = append(got, v); return true })
			require.Equal(t, want, got)
			for _, from := range []int{-1, 0, 7, 9999, 19999, 30000} {
				tail := []int{}
				l.ascend(func(v int) bool { return v < from }, func(v int) bool { tail = append(tail, v); return len(tail) < 3 })
				i, _ := slices.BinarySearch(want, from)
				assert.Equal(t, want[i:min(i+3, len(want))], tail, "from %d", from)
			}
		})
	}
}
