package directory

import "iter"

// paged is an append-only array held in fixed-size pages, so that growing
// it never moves what it holds. The index's per-doc arrays were slices:
// at a million contacts each growth allocated, zeroed and copied ~60 MB
// (about a microsecond per imported row over an import, and twice the
// memory while it lasted), and up to a quarter of their capacity stayed
// unused.
type paged[T any] struct {
	pages [][]T
	n     int
}

// pagedShift sets the page length: 16,384 entries (768 KB of docs).
const (
	pagedShift = 14
	pagedLen   = 1 << pagedShift
	pagedMask  = pagedLen - 1
)

// at returns a pointer to entry i, which stays valid as p grows.
func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pagedShift][i&pagedMask] }

// len returns the number of entries.
func (p *paged[T]) len() int { return p.n }

// add appends v.
func (p *paged[T]) add(v T) {
	if p.n&pagedMask == 0 {
		p.pages = append(p.pages, make([]T, pagedLen))
	}
	p.pages[p.n>>pagedShift][p.n&pagedMask] = v
	p.n++
}

// all yields each index and a pointer to its entry, in order.
func (p *paged[T]) all() iter.Seq2[uint32, *T] {
	return func(yield func(uint32, *T) bool) {
		for i := range uint32(p.n) {
			if !yield(i, p.at(i)) {
				return
			}
		}
	}
}
