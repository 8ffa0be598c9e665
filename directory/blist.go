package directory

import (
	"slices"
	"sort"
)

// blist is a sorted list kept in blocks of at most blockMax items, so an
// insert or a delete moves one block (a few KB) instead of the whole
// list, and a seek is two binary searches. It replaces sorted arrays with
// a sorted tail merged in every few thousand writes: that merge was an
// O(n) hold of the Service lock (tens of ms at a million contacts).
type blist[T any] struct {
	blocks [][]T
	cmp    func(a, b T) int
	// head, when set, maps an item to a 64-bit prefix of its order
	// (head(a) < head(b) implies cmp(a, b) < 0), and lasts holds the head
	// of each block's last item: finding a block reads one small array
	// instead of an item per step (in a large index each of those reads
	// is a cache miss, and an import finds a block per contact).
	head  func(T) uint64
	lasts []uint64
	n     int
}

// blockMax bounds a block: an insert moves half a block on average. At
// a million contacts, 1024-entry blocks (32 KB of display order entries)
// made the last 250k of an import cost 35 µs a row against 28 for 256;
// 128 and 512 measured as 256 (integration/million.sh, -during=false).
const blockMax = 256

func newBlist[T any](cmp func(a, b T) int) *blist[T] { return &blist[T]{cmp: cmp} }

// newHeadBlist is newBlist with the order prefix head (see blist.head).
func newHeadBlist[T any](cmp func(a, b T) int, head func(T) uint64) *blist[T] {
	return &blist[T]{cmp: cmp, head: head}
}

// fix records the head of block b's last item.
func (l *blist[T]) fix(b int) {
	if l.head != nil {
		blk := l.blocks[b]
		l.lasts[b] = l.head(blk[len(blk)-1])
	}
}

// build replaces the content with sorted, which must be sorted by cmp.
func (l *blist[T]) build(sorted []T) {
	l.blocks, l.n = nil, len(sorted)
	for len(sorted) > 0 {
		k := min(len(sorted), blockMax/2)
		l.blocks = append(l.blocks, slices.Clip(sorted[:k:k]))
		sorted = sorted[k:]
	}
	if l.head != nil {
		l.lasts = make([]uint64, len(l.blocks))
		for b := range l.blocks {
			l.fix(b)
		}
	}
}

// block returns the index of the block v belongs in.
func (l *blist[T]) block(v T) int {
	if l.head == nil {
		b, _ := slices.BinarySearchFunc(l.blocks, v, func(blk []T, v T) int { return l.cmp(blk[len(blk)-1], v) })
		return min(b, len(l.blocks)-1)
	}
	hv := l.head(v)
	b := sort.Search(len(l.blocks), func(b int) bool {
		if h := l.lasts[b]; h != hv {
			return h > hv
		}
		blk := l.blocks[b]
		return l.cmp(blk[len(blk)-1], v) >= 0
	})
	return min(b, len(l.blocks)-1)
}

func (l *blist[T]) insert(v T) {
	l.n++
	if len(l.blocks) == 0 {
		l.blocks = [][]T{{v}}
		if l.head != nil {
			l.lasts = []uint64{l.head(v)}
		}
		return
	}
	b := l.block(v)
	blk := l.blocks[b]
	i, _ := slices.BinarySearchFunc(blk, v, l.cmp)
	blk = slices.Insert(blk, i, v)
	if len(blk) <= blockMax {
		l.blocks[b] = blk
		if i == len(blk)-1 {
			l.fix(b)
		}
		return
	}
	h := len(blk) / 2
	right := slices.Clone(blk[h:])
	l.blocks[b] = slices.Clip(blk[:h])
	l.blocks = slices.Insert(l.blocks, b+1, right)
	if l.head != nil {
		l.lasts = slices.Insert(l.lasts, b+1, 0)
		l.fix(b)
		l.fix(b + 1)
	}
}

// remove deletes the item equal to v under cmp, if present.
func (l *blist[T]) remove(v T) bool {
	if len(l.blocks) == 0 {
		return false
	}
	b := l.block(v)
	i, ok := slices.BinarySearchFunc(l.blocks[b], v, l.cmp)
	if !ok {
		return false
	}
	l.n--
	l.blocks[b] = slices.Delete(l.blocks[b], i, i+1)
	switch {
	case len(l.blocks[b]) == 0:
		l.blocks = slices.Delete(l.blocks, b, b+1)
		if l.head != nil {
			l.lasts = slices.Delete(l.lasts, b, b+1)
		}
	case i == len(l.blocks[b]):
		l.fix(b)
	}
	return true
}

// find returns the item equal to v under cmp.
func (l *blist[T]) find(v T) (T, bool) {
	var zero T
	if len(l.blocks) == 0 {
		return zero, false
	}
	blk := l.blocks[l.block(v)]
	i, ok := slices.BinarySearchFunc(blk, v, l.cmp)
	if !ok {
		return zero, false
	}
	return blk[i], true
}

// ascend calls fn for each item from the first one for which after is
// false (after must be true for a prefix of the list), until fn returns
// false.
func (l *blist[T]) ascend(after func(T) bool, fn func(T) bool) {
	b, _ := slices.BinarySearchFunc(l.blocks, 0, func(blk []T, _ int) int {
		if after(blk[len(blk)-1]) {
			return -1
		}
		return 1
	})
	for ; b < len(l.blocks); b++ {
		blk := l.blocks[b]
		i := sort.Search(len(blk), func(i int) bool { return !after(blk[i]) })
		for ; i < len(blk); i++ {
			if !fn(blk[i]) {
				return
			}
		}
	}
}
