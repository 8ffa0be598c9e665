package keymap

import (
	"cmp"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sync"
	"sync/atomic"
)

func TestMixInverts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, k := range []uint64{0, 1, 2, 1 << 63, ^uint64(0)} {
		assert.Equal(t, k, unmix(mix(k)))
	}
	for range 10_000 {
		k := r.Uint64()
		require.Equal(t, k, unmix(mix(k)))
	}
	assert.Equal(t, uint64(1), uint64(mul1)*inv1)
	assert.Equal(t, uint64(1), uint64(mul2)*inv2)
}

func TestZeroMap(t *testing.T) {
	var m Map[uint32]
	_, ok := m.Get(0)
	assert.False(t, ok)
	assert.False(t, m.Delete(0))
	assert.Zero(t, m.Len())
	m.Set(0, 7)
	v, ok := m.Get(0)
	assert.True(t, ok)
	assert.Equal(t, uint32(7), v)
	assert.Equal(t, 1, m.Len())
}

// kinds of key sets the callers use: uniform hashes, and dense small
// integers like packed phone numbers (kind and length in the top bits,
// value below).
var keyGens = map[string]func(r *rand.Rand) uint64{
	"hash":   func(r *rand.Rand) uint64 { return r.Uint64() },
	"dense":  func(r *rand.Rand) uint64 { return 2<<62 | 9<<57 | 612_000_000 + r.Uint64N(50_000) },
	"narrow": func(r *rand.Rand) uint64 { return r.Uint64N(300) },
}

// TestModel runs random operations on a Map and a Go map and checks that
// they agree after each, across many merges: sets of new and existing
// keys, deletes of present and absent keys, reinsertions of deleted base
// keys.
func TestModel(t *testing.T) {
	for name, gen := range keyGens {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			var m Map[uint64]
			model := map[uint64]uint64{}
			var seen []uint64 // keys ever set, to pick existing ones
			merges := 0
			ops := 200_000
			if testing.Short() {
				ops = 20_000
			}
			for i := range ops {
				var k uint64
				if len(seen) > 0 && r.IntN(3) > 0 {
					k = seen[r.IntN(len(seen))]
				} else {
					k = gen(r)
				}
				before := len(m.keys)
				switch op := r.IntN(1000); {
				case op < 600:
					v := r.Uint64()
					m.Set(k, v)
					model[k] = v
					seen = append(seen, k)
				case op < 999:
					if _, want := model[k]; m.Delete(k) != want {
						t.Fatalf("op %d: Delete(%#x) = %v, want %v", i, k, !want, want)
					}
					delete(model, k)
				default:
					m.Compact()
				}
				if len(m.keys) != before {
					merges++
				}
				if m.Len() != len(model) {
					t.Fatalf("op %d: Len() = %d, want %d", i, m.Len(), len(model))
				}
				got, ok := m.Get(k)
				if want, wantOK := model[k]; got != want || ok != wantOK {
					t.Fatalf("op %d: Get(%#x) = %d, %v, want %d, %v", i, k, got, ok, want, wantOK)
				}
				if i%20_000 == 0 {
					checkAll(t, &m, model)
				}
			}
			checkAll(t, &m, model)
			for k, v := range model {
				got, ok := m.Get(k)
				require.True(t, ok)
				require.Equal(t, v, got)
			}
			t.Logf("%d merges, %d keys at the end", merges, len(model))
			assert.Greater(t, merges, 10, "the run should cross many merges")
		})
	}
}

// checkAll checks m's contents, its invariants, and a miss.
func checkAll(t *testing.T, m *Map[uint64], model map[uint64]uint64) {
	t.Helper()
	require.Equal(t, model, maps.Collect(all(m)))
	require.IsIncreasing(t, m.keys)
	require.Len(t, m.vals, len(m.keys))
	dead := 0
	for i := range m.keys {
		if m.isDead(i) {
			dead++
		}
		_, inOver := m.over[m.keys[i]]
		require.False(t, inOver, "a key is in the base and the overlay")
	}
	require.Equal(t, m.ndead, dead)
	if m.filt != nil {
		for k := range model {
			require.True(t, m.filt.has(mix(k)), "the filter lacks live key %#x", k)
		}
	}
	require.Equal(t, len(m.over)+len(m.keys)-dead, m.Len())
	require.LessOrEqual(t, len(m.over)+m.ndead, max(minOverlay, len(m.keys)/overlayDiv))
}

func TestUint32Values(t *testing.T) {
	var m Map[uint32]
	const n = 50_000
	for i := range n {
		m.Set(uint64(i)*0x9e3779b97f4a7c15, uint32(i))
	}
	require.Equal(t, n, m.Len())
	for i := range n {
		v, ok := m.Get(uint64(i) * 0x9e3779b97f4a7c15)
		require.True(t, ok)
		require.Equal(t, uint32(i), v)
	}
	m.Compact()
	assert.Empty(t, m.over)
	assert.LessOrEqual(t, baseBytes(&m), n*12+n/2, "12 bytes an entry and the directory")
	m = Map[uint32]{}
	assert.Zero(t, m.Len())
	_, ok := m.Get(0)
	assert.False(t, ok)
}

// TestSearchClustered checks the search on keys that crowd into one
// bucket of the directory, and on sparse ones: the base is filled
// directly, bypassing mix.
func TestSearchClustered(t *testing.T) {
	var m Map[uint32]
	var keys []uint64
	var vals []uint32
	for i := range 10_000 {
		k := uint64(i)
		if i >= 9_990 {
			k = 1<<63 + uint64(i)<<40 // a few far keys, the rest in bucket 0
		}
		keys = append(keys, k)
		vals = append(vals, uint32(i))
	}
	setBase(&m, keys, vals)
	for i, k := range m.keys {
		j, ok := m.search(k)
		require.True(t, ok)
		require.Equal(t, i, j)
		if i > 0 && m.keys[i-1] < k-1 {
			_, ok = m.search(k - 1)
			require.False(t, ok)
		}
	}
	for _, k := range []uint64{10_000, 1 << 62, ^uint64(0)} {
		_, ok := m.search(k)
		assert.False(t, ok)
	}
	setBase(&m, []uint64{5}, []uint32{1})
	_, ok := m.search(5)
	assert.True(t, ok)
	_, ok = m.search(4)
	assert.False(t, ok)
	_, ok = m.search(6)
	assert.False(t, ok)
}

// TestSortPairs checks the counting sort on uniform keys and on keys
// crowding into one bucket (the comparison-sort fallback).
func TestSortPairs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, gen := range map[string]func() uint64{
		"uniform": r.Uint64,
		"crowded": func() uint64 { return r.Uint64N(1 << 20) },
		"few":     func() uint64 { return r.Uint64() >> r.IntN(64) },
	} {
		for _, n := range []int{0, 1, 2, 3, 100, 5000} {
			p := make([]pair[uint32], n)
			for i := range p {
				p[i] = pair[uint32]{gen(), uint32(i)}
			}
			want := slices.Clone(p)
			slices.SortStableFunc(want, func(a, b pair[uint32]) int { return cmp.Compare(a.k, b.k) })
			got := sortPairs(slices.Clone(p))
			require.True(t, slices.IsSortedFunc(got, func(a, b pair[uint32]) int { return cmp.Compare(a.k, b.k) }), "%s/%d", name, n)
			require.ElementsMatch(t, want, got, "%s/%d", name, n)
		}
	}
}

// setBase makes sorted keys and vals m's base.
func setBase(m *Map[uint32], keys []uint64, vals []uint32) {
	m.keys, m.vals = keys, vals
	m.dir, m.shift = directory(keys)
}

// TestDeferredMerge: a deferred Map merges only when its owner installs
// a merge (or far past NeedsMerge), and reads see the same content
// before and after.
func TestDeferredMerge(t *testing.T) {
	var m Map[uint32]
	m.Defer()
	want := map[uint64]uint32{}
	for i := range uint64(3 * minOverlay) {
		m.Set(i*7919, uint32(i))
		want[i*7919] = uint32(i)
	}
	require.Empty(t, m.keys, "a deferred Map merged by itself")
	require.True(t, m.NeedsMerge())
	b := m.BuildMerge()
	for k, v := range want { // the build changed nothing
		got, ok := m.Get(k)
		require.True(t, ok && got == v, "key %d", k)
	}
	m.InstallMerge(b)
	require.Len(t, m.keys, len(want))
	require.False(t, m.NeedsMerge())
	for k, v := range want {
		got, ok := m.Get(k)
		require.True(t, ok && got == v, "key %d", k)
	}
	// A merge built before a write must not be installed after it.
	m.Set(1, 1)
	stale := m.BuildMerge()
	m.Set(2, 2)
	assert.Panics(t, func() { m.InstallMerge(stale) })
	// Past the slack, Set merges by itself.
	for i := range uint64(deferredSlack*len(m.keys)/overlayDiv + minOverlay*deferredSlack + 1) {
		m.Set(1<<40+i, 1)
	}
	assert.Less(t, len(m.over), deferredSlack*max(minOverlay, len(m.keys)/overlayDiv)+1)
	assert.Greater(t, len(m.keys), len(want))
}

// TestMergeUnderWhileReading: one writer merging outside the lock while
// readers Get under it (run with -race); every key written stays found.
func TestMergeUnderWhileReading(t *testing.T) {
	var (
		mu      sync.RWMutex
		m       Map[uint32]
		written atomic.Uint64
		wg      sync.WaitGroup
	)
	m.Defer()
	const n = 6 * minOverlay
	for r := range 2 {
		wg.Go(func() {
			for w := written.Load(); w < n; w = written.Load() {
				k := uint64(r) + w/2*2 - 2 // written before w was read
				if w < 2 {
					continue
				}
				mu.RLock()
				v, ok := m.Get(k)
				mu.RUnlock()
				if !ok || v != uint32(k) {
					t.Errorf("key %d: %d, %v", k, v, ok)
					return
				}
			}
		})
	}
	merges := 0
	for k := range uint64(n) {
		mu.Lock()
		m.Set(k, uint32(k))
		mu.Unlock()
		written.Store(k + 1)
		if m.NeedsMerge() {
			merges++
		}
		m.MergeUnder(&mu)
	}
	wg.Wait()
	assert.Greater(t, merges, 1)
	assert.Equal(t, n, m.Len())
}

// all yields m's keys and values, for comparing with a model.
func all[V Value](m *Map[V]) iter.Seq2[uint64, V] {
	return func(yield func(uint64, V) bool) {
		for h, v := range m.over {
			if !yield(unmix(h), v) {
				return
			}
		}
		for i, h := range m.keys {
			if !m.isDead(i) && !yield(unmix(h), m.vals[i]) {
				return
			}
		}
	}
}

// baseBytes returns the bytes m's base arrays hold.
func baseBytes[V Value](m *Map[V]) int {
	var v V
	return cap(m.keys)*8 + cap(m.vals)*int(unsafe.Sizeof(v)) + cap(m.dead)*8 + cap(m.dir)*4
}

// inv1 and inv2 are the inverses of mix's multipliers modulo 2^64.
var inv1, inv2 = inverse(mul1), inverse(mul2)

// unmix inverts mix. A shift by 33 of 64 bits is its own inverse.
func unmix(h uint64) uint64 {
	h ^= h >> 33
	h *= inv2
	h ^= h >> 33
	h *= inv1
	h ^= h >> 33
	return h ^ seed
}

// inverse returns the inverse of odd a modulo 2^64 by Newton's
// iteration, each step doubling the correct low bits.
func inverse(a uint64) uint64 {
	x := a // correct to 3 bits for odd a
	for range 5 {
		x *= 2 - a*x
	}
	return x
}

// TestFilterRejectsMisses: after a merge the filter holds every key and
// turns away nearly all others without a search.
func TestFilterRejectsMisses(t *testing.T) {
	var m Map[uint32]
	r := rand.New(rand.NewPCG(7, 8))
	const n = 100_000
	for i := range n {
		m.Set(r.Uint64(), uint32(i))
	}
	m.Compact()
	require.NotNil(t, m.filt)
	for i := range n / 10 { // overlay keys, added to the filter by Set
		m.Set(r.Uint64(), uint32(i))
	}
	passed := 0
	for range n {
		k := r.Uint64()
		if m.filt.has(mix(k)) {
			passed++
		}
		_, ok := m.Get(k)
		require.False(t, ok)
	}
	assert.Less(t, passed, n/25, "false positives: %d of %d", passed, n)
	t.Logf("%d of %d misses passed the filter, %d bits a key", passed, n, len(m.filt)*64/m.Len())
}
