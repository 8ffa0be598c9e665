// Package keymap holds a compact map from uint64 keys to small integer
// values, for the indexes that keep one entry per contact or per number.
//
// A Go map of uint64 to uint32 costs 28 to 70 bytes an entry at a million
// entries (slots padded to 16 bytes, control bytes, load factor, growth
// doubling). A Map keeps most entries in a sorted pair of arrays (12
// bytes an entry for uint32 values, 16 for uint64) and keys added since
// the last merge in a small Go map, the overlay, which is merged into
// the arrays once it holds more than an eighth of them; a directory of
// the arrays by the keys' top bits adds at most half a byte an entry, and
// a Bloom filter (filter) that turns away most lookups of absent keys in
// one cache miss 1.4 to 1.9 bytes. Nothing holds pointers, so the collector does not scan any of it.
package keymap

import (
	"cmp"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sync"
)

// Value is the type of a Map's values.
type Value interface{ ~uint32 | ~uint64 }

// Merge thresholds: the overlay (and dead base entries) may grow to
// max(minOverlay, len(base)/overlayDiv) before a merge. A merge copies
// the base, so an import of n keys copies about overlayDiv+1 times n
// entries in all: amortised O(1) per Set.
const (
	minOverlay = 4096
	overlayDiv = 8
)

// Map maps uint64 keys to values of type V. The zero Map is empty and
// ready to use. It is not safe for concurrent use, except that Get and
// Len may run concurrently with each other: they never write.
//
// Keys are stored mixed by a seeded bijection, so the base is sorted
// by a uniformly distributed key whatever the keys are (packed phone
// numbers as well as hashes), and a directory by their top bits finds
// one in two probes.
type Map[V Value] struct {
	// keys and vals are the base, sorted by keys (mixed keys); dir
	// indexes it by the keys' top 64-shift bits.
	keys  []uint64
	vals  []V
	dir   []uint32
	shift uint
	// dead marks removed base entries, a bit each; nil when there are
	// none. They are dropped at the next merge.
	dead  []uint64
	ndead int
	// over holds the keys not in the base, by mixed key.
	over map[uint64]V
	// filt, once the base exists, holds every live key (and some dead
	// ones): a lookup of a key it lacks costs one cache miss instead of
	// an overlay probe and a base search, three or four. Imports look up
	// mostly new keys.
	filt filter
	n    int // live entries
	// deferred: Set and Delete leave merging to the owner (see Defer).
	deferred bool
}

// Defer makes m's owner responsible for merging: Set and Delete never
// merge (a merge at a million keys takes tens of milliseconds, which
// the owner's readers would wait for under its write lock); the owner
// checks NeedsMerge after writing and builds the merge with BuildMerge
// while readers go on, then installs it with InstallMerge under its
// write lock. An owner that never merges is still safe: past a bound
// several times the usual one, Set merges by itself.
func (m *Map[V]) Defer() { m.deferred = true }

// NeedsMerge reports whether m's overlay and dead entries have grown
// enough to merge.
func (m *Map[V]) NeedsMerge() bool {
	return len(m.over)+m.ndead > max(minOverlay, len(m.keys)/overlayDiv)
}

// MergeUnder merges m if it needs it: the merge is built without lock,
// which guards m against its readers, and installed holding it. The
// caller must be m's only writer until it returns.
func (m *Map[V]) MergeUnder(lock sync.Locker) {
	if !m.NeedsMerge() {
		return
	}
	b := m.BuildMerge()
	lock.Lock()
	m.InstallMerge(b)
	lock.Unlock()
}

// Merged is a base built by BuildMerge, for InstallMerge.
type Merged[V Value] struct {
	keys              []uint64
	vals              []V
	dir               []uint32
	shift             uint
	filt              filter
	from              *Map[V] // the Map it was built from
	over, ndead, base int     // the state it was built from, for InstallMerge's check
}

// BuildMerge returns m's live base entries and overlay merged into a new
// base, without changing m: Gets may run meanwhile, writes may not.
func (m *Map[V]) BuildMerge() Merged[V] {
	add := make([]pair[V], 0, len(m.over))
	for h, v := range m.over {
		add = append(add, pair[V]{h, v})
	}
	add = sortPairs(add)
	n := len(m.keys) - m.ndead + len(add)
	keys, vals := make([]uint64, 0, n), make([]V, 0, n)
	i := 0
	for j, h := range m.keys {
		if m.isDead(j) {
			continue
		}
		for ; i < len(add) && add[i].k < h; i++ {
			keys, vals = append(keys, add[i].k), append(vals, add[i].v)
		}
		keys, vals = append(keys, h), append(vals, m.vals[j])
	}
	for ; i < len(add); i++ {
		keys, vals = append(keys, add[i].k), append(vals, add[i].v)
	}
	dir, shift := directory(keys)
	// Room for the keys the overlay may take before the next merge.
	room := max(minOverlay, len(keys)/overlayDiv)
	if m.deferred {
		room *= deferredSlack
	}
	filt := newFilter(len(keys) + room)
	for _, h := range keys {
		filt.add(h)
	}
	return Merged[V]{keys: keys, vals: vals, dir: dir, shift: shift, filt: filt, from: m, over: len(m.over), ndead: m.ndead, base: len(m.keys)}
}

// InstallMerge makes b, built from m with nothing written since, m's
// base, and empties the overlay.
func (m *Map[V]) InstallMerge(b Merged[V]) {
	if b.from != m || b.over != len(m.over) || b.ndead != m.ndead || b.base != len(m.keys) {
		panic("keymap: InstallMerge of a merge built from another state")
	}
	m.keys, m.vals, m.dir, m.shift, m.filt = b.keys, b.vals, b.dir, b.shift, b.filt
	m.dead, m.ndead = nil, 0
	// A fresh overlay rather than clear: a cleared Go map keeps its
	// peak size, which would be an eighth of the base for good.
	m.over = nil
}

// Len returns the number of keys in m.
func (m *Map[V]) Len() int { return m.n }

// Get returns the value of key k, and whether k is in m.
func (m *Map[V]) Get(k uint64) (V, bool) {
	h := mix(k)
	var zero V
	if m.filt != nil && !m.filt.has(h) {
		return zero, false
	}
	if len(m.over) > 0 {
		if v, ok := m.over[h]; ok {
			return v, true
		}
	}
	if i, ok := m.search(h); ok && !m.isDead(i) {
		return m.vals[i], true
	}
	return zero, false
}

// Set sets the value of key k to v.
func (m *Map[V]) Set(k uint64, v V) {
	h := mix(k)
	if m.filt == nil || m.filt.has(h) { // else a new key: not in the base
		if i, ok := m.search(h); ok {
			m.vals[i] = v
			if m.isDead(i) {
				m.dead[i>>6] &^= 1 << (i & 63)
				m.ndead--
				m.n++
			}
			return
		}
	}
	if m.over == nil {
		m.over = make(map[uint64]V)
	}
	n := len(m.over)
	m.over[h] = v
	if len(m.over) > n {
		m.n++
		if m.filt != nil {
			m.filt.add(h)
		}
		m.maybeMerge()
	}
}

// Delete removes key k and reports whether it was in m.
func (m *Map[V]) Delete(k uint64) bool {
	h := mix(k)
	if m.filt != nil && !m.filt.has(h) {
		return false
	}
	if _, ok := m.over[h]; ok {
		delete(m.over, h)
		m.n--
		return true
	}
	i, ok := m.search(h)
	if !ok || m.isDead(i) {
		return false
	}
	if m.dead == nil {
		m.dead = make([]uint64, (len(m.keys)+63)/64)
	}
	m.dead[i>>6] |= 1 << (i & 63)
	m.ndead++
	m.n--
	m.maybeMerge()
	return true
}

// Compact merges the overlay into the base and drops dead entries, so
// that m holds the least memory: for after a bulk load.
func (m *Map[V]) Compact() {
	if len(m.over) > 0 || m.ndead > 0 {
		m.merge()
	}
}

func (m *Map[V]) isDead(i int) bool {
	return m.dead != nil && m.dead[i>>6]&(1<<(i&63)) != 0
}

func (m *Map[V]) maybeMerge() {
	limit := max(minOverlay, len(m.keys)/overlayDiv)
	if m.deferred {
		limit *= deferredSlack
	}
	if len(m.over)+m.ndead > limit {
		m.merge()
	}
}

// deferredSlack is how far past NeedsMerge a deferred Map goes before
// merging by itself.
const deferredSlack = 4

// merge builds a new base of the live base entries and the overlay, and
// empties the overlay. The new arrays are allocated at their exact size:
// the base grows by at least an eighth per merge anyway.
func (m *Map[V]) merge() { m.InstallMerge(m.BuildMerge()) }

type pair[V Value] struct {
	k uint64
	v V
}

// sortPairs returns p sorted by key, in a new slice. Mixed keys are
// uniform, so a counting sort by their top bits leaves about a key a
// bucket, and an insertion sort puts the rare neighbours in order: a
// merge at a million keys spent half its time in a comparison sort.
// Buckets that crowd (which only keys chosen against the seed could
// make) get the comparison sort.
func sortPairs[V Value](p []pair[V]) []pair[V] {
	if len(p) < 2 {
		return p
	}
	b := bits.Len(uint(len(p)))
	shift := uint(64 - b)
	start := make([]uint32, 1<<b+1)
	for _, x := range p {
		start[x.k>>shift+1]++
	}
	crowd := 0
	for j := 1; j < len(start); j++ {
		crowd = max(crowd, int(start[j]))
		start[j] += start[j-1]
	}
	out := make([]pair[V], len(p))
	for _, x := range p {
		j := x.k >> shift
		out[start[j]] = x
		start[j]++
	}
	if crowd > 64 {
		slices.SortFunc(out, func(a, b pair[V]) int { return cmp.Compare(a.k, b.k) })
		return out
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].k < out[j-1].k; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// search returns the base index of mixed key h, if it is there: the
// directory gives the bucket of h's top bits, a few keys long, and the
// bucket is scanned (bisected if it is long, which mixed keys make
// unlikely whatever the callers' keys). Interpolation search over the
// whole base took about four probes at a million keys, each a cache
// miss; this takes two: the directory, then the bucket.
func (m *Map[V]) search(h uint64) (int, bool) {
	if m.dir == nil {
		return 0, false
	}
	j := h >> m.shift
	lo, hi := int(m.dir[j]), int(m.dir[j+1])
	keys := m.keys[lo:hi]
	if len(keys) > 32 {
		i, ok := slices.BinarySearch(keys, h)
		return lo + i, ok
	}
	for i, k := range keys {
		if k >= h {
			return lo + i, k == h
		}
	}
	return 0, false
}

// A bucket holds 2^bucketShift to twice that keys on average: eight to
// sixteen keys, one or two cache lines, and a directory of half a byte
// a key or less.
const bucketShift = 3

// directory returns the directory of sorted keys: dir[j] is the index
// of the first key whose top bits (all but the low shift) are j or more.
func directory(keys []uint64) (dir []uint32, shift uint) {
	if len(keys) == 0 {
		return nil, 0
	}
	b := max(bits.Len(uint(len(keys)))-1-bucketShift, 0)
	shift = uint(64 - b)
	dir = make([]uint32, 1<<b+1)
	j := 0
	for i, k := range keys {
		for ; uint64(j) <= k>>shift; j++ {
			dir[j] = uint32(i)
		}
	}
	for ; j < len(dir); j++ {
		dir[j] = uint32(len(keys))
	}
	return dir, shift
}

// seed makes the key order differ between processes, so that keys
// chosen to cluster in it cannot be prepared in advance.
var seed = rand.Uint64()

// Multipliers of murmur3's 64-bit finalizer (odd, so invertible modulo
// 2^64: the tests invert mix).
const (
	mul1 = 0xff51afd7ed558ccd
	mul2 = 0xc4ceb9fe1a85ec53
)

// mix is a bijection of uint64 that spreads any set of keys uniformly:
// murmur3's finalizer of k xor seed.
func mix(k uint64) uint64 {
	k ^= seed
	k ^= k >> 33
	k *= mul1
	k ^= k >> 33
	k *= mul2
	k ^= k >> 33
	return k
}

// filter is a blocked Bloom filter of mixed keys: a key sets four bits
// of one 64-bit word, so a check reads one word. At ten bits a key of
// the room newFilter is given, about one key in fifty that it lacks
// passes. Keys are mixed already: their bits serve as the hashes.
type filter []uint64

// filterBits is the filter's size per key of room.
const filterBits = 10

func newFilter(room int) filter { return make(filter, max(1, (room*filterBits+63)/64)) }

func (f filter) word(h uint64) (int, uint64) {
	i, _ := bits.Mul64(h, uint64(len(f))) // the top bits pick the word, uniformly
	mask := uint64(1)<<(h&63) | uint64(1)<<(h>>6&63) | uint64(1)<<(h>>12&63) | uint64(1)<<(h>>18&63)
	return int(i), mask
}

func (f filter) add(h uint64) {
	i, mask := f.word(h)
	f[i] |= mask
}

func (f filter) has(h uint64) bool {
	i, mask := f.word(h)
	return f[i]&mask == mask
}
