package limit

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsWaitDoesNotTake(t *testing.T) {
	b := NewBuckets[string](0.5, 2, 100)
	assert.Zero(t, b.Wait("201@a.example", t0), "an unseen key may go")
	assert.Zero(t, b.Len(), "Wait tracks no new key")
	for range 2 {
		ok, _ := b.Take("201@a.example", t0)
		require.True(t, ok)
	}
	for range 3 {
		// Asking again and again spends nothing and moves nothing.
		assert.Equal(t, 2*time.Second, b.Wait("201@a.example", t0))
	}
	ok, wait := b.Take("201@a.example", t0)
	assert.False(t, ok)
	assert.Equal(t, 2*time.Second, wait)
	assert.Zero(t, b.Wait("201@b.example", t0), "another key is unaffected")
	assert.Zero(t, b.Wait("201@a.example", t0.Add(2*time.Second)), "refilled")
}

func TestBucketsShardedStringKeys(t *testing.T) {
	b := NewBuckets[string](1, 1, 5000)
	require.Len(t, b.shards, 16)
	for i := range 6000 {
		b.Take(string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	assert.LessOrEqual(t, b.Len(), 5000)
	assert.Greater(t, b.Len(), 4500, "keys spread over the shards")
}

// BenchmarkBucketsMemoryPerKey reports the heap held per tracked key in a
// full table (the cost of DefaultMaxSources under a spoofed-source flood).
func BenchmarkBucketsMemoryPerKey(b *testing.B) {
	const keys = 100_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		t := NewBuckets[netip.Addr](DefaultRate, DefaultBurst, keys)
		for i := range keys {
			t.Take(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), t0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "B/key")
		runtime.KeepAlive(t)
	}
}
