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
		head func(int) uint64
	}{
		{name: "from empty"}, {name: "after build", bulk: 5000},
		// A coarse head: blocks are told apart by it and by cmp on ties.
		{name: "with heads from empty", head: func(v int) uint64 { return uint64(v / 64) }},
		{name: "with heads after build", bulk: 5000, head: func(v int) uint64 { return uint64(v / 64) }},
		{name: "with exact heads", head: func(v int) uint64 { return uint64(v) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := newBlist(cmp.Compare[int])
			if tt.head != nil {
				l = newHeadBlist(cmp.Compare[int], tt.head)
			}
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
				if tt.head != nil {
					for b, blk := range l.blocks {
						require.Equal(t, tt.head(blk[len(blk)-1]), l.lasts[b], "block %d", b)
					}
				}
			}
			require.Equal(t, len(want), l.n)
			if tt.head != nil {
				require.Len(t, l.lasts, len(l.blocks))
				for b, blk := range l.blocks {
					require.Equal(t, tt.head(blk[len(blk)-1]), l.lasts[b], "block %d", b)
				}
			}
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
