package keymap

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

const benchN = 1_000_000

// benchKeys returns n keys of kind ("hash" or "dense", see keyGens) and n
// other keys of the same kind for misses.
func benchKeys(kind string, n int) (keys, misses []uint64) {
	r := rand.New(rand.NewPCG(5, 6))
	seen := make(map[uint64]bool, 2*n)
	for len(keys)+len(misses) < 2*n {
		var k uint64
		if kind == "hash" {
			k = r.Uint64()
		} else {
			k = 2<<62 | 9<<57 | 612_000_000 + r.Uint64N(uint64(4*n))
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		if len(keys) < n && (len(misses) == n || r.IntN(2) == 0) {
			keys = append(keys, k)
		} else {
			misses = append(misses, k)
		}
	}
	return keys, misses
}

// BenchmarkGet reports Get at a million keys, hits and misses, with the
// overlay empty (after Compact) and at an eighth of the base (the most a
// merge leaves it), against a Go map.
func BenchmarkGet(b *testing.B) {
	for _, kind := range []string{"hash", "dense"} {
		keys, misses := benchKeys(kind, benchN)
		for _, overlay := range []bool{false, true} {
			var m Map[uint32]
			base := keys
			if overlay {
				base = keys[:len(keys)*8/9]
			}
			for i, k := range base {
				m.Set(k, uint32(i))
			}
			m.Compact()
			for i, k := range keys[len(base):] {
				m.Set(k, uint32(i))
			}
			name := kind + "/compact"
			if overlay {
				name = kind + "/overlay"
			}
			b.Run(name+"/hit", func(b *testing.B) { benchGet(b, &m, keys, true) })
			b.Run(name+"/miss", func(b *testing.B) { benchGet(b, &m, misses, false) })
		}
		gm := make(map[uint64]uint32)
		for i, k := range keys {
			gm[k] = uint32(i)
		}
		b.Run(kind+"/gomap/hit", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := gm[keys[i]]; !ok {
					b.Fatal("miss")
				}
				i = (i + 1) % len(keys)
			}
		})
	}
}

func benchGet(b *testing.B, m *Map[uint32], keys []uint64, hit bool) {
	// Keys in a random order, so that lookups miss the caches as real
	// ones do.
	i := 0
	for b.Loop() {
		if _, ok := m.Get(keys[i]); ok != hit {
			b.Fatalf("Get(%#x) found %v", keys[i], ok)
		}
		i++
		if i == len(keys) {
			i = 0
		}
	}
}

// BenchmarkSet reports the amortised cost of Set over a load of a
// million new keys (merges included) and the memory held after it, in
// bytes per entry: before and after Compact, against a Go map.
func BenchmarkSet(b *testing.B) {
	keys, _ := benchKeys("hash", benchN)
	b.Run("keymap", func(b *testing.B) {
		for b.Loop() {
			var m Map[uint32]
			before := heap()
			for i, k := range keys {
				m.Set(k, uint32(i))
			}
			b.ReportMetric(float64(heap()-before)/benchN, "B/entry")
			m.Compact()
			b.ReportMetric(float64(heap()-before)/benchN, "B/entry_compact")
			runtime.KeepAlive(&m)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/set")
	})
	b.Run("gomap", func(b *testing.B) {
		for b.Loop() {
			before := heap()
			m := make(map[uint64]uint32)
			for i, k := range keys {
				m[k] = uint32(i)
			}
			b.ReportMetric(float64(heap()-before)/benchN, "B/entry")
			runtime.KeepAlive(m)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchN), "ns/set")
	})
}

// heap returns the live heap after a collection.
func heap() int64 {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	return int64(s.HeapAlloc)
}

// BenchmarkMerge reports one merge of a full overlay (an eighth of the
// base) into a million keys: the pause of the Set that triggers it,
// which callers take under their write lock.
func BenchmarkMerge(b *testing.B) {
	keys, _ := benchKeys("hash", benchN+benchN/overlayDiv)
	var base Map[uint32]
	for i, k := range keys[:benchN] {
		base.Set(k, uint32(i))
	}
	base.Compact()
	for b.Loop() {
		b.StopTimer()
		m := base
		m.over = make(map[uint64]uint32, benchN/overlayDiv)
		for i, k := range keys[benchN:] {
			m.over[mix(k)] = uint32(i)
		}
		b.StartTimer()
		m.merge()
	}
}
