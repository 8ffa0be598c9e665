package callerid

import (
	"fmt"
	"testing"

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
