package limit

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGateSequential(t *testing.T) {
	g := NewGate(2)
	require.True(t, g.TryEnter())
	require.True(t, g.TryEnter())
	assert.False(t, g.TryEnter())
	assert.Equal(t, 2, g.InFlight())
	g.Leave()
	assert.True(t, g.TryEnter())
	g.Leave()
	g.Leave()
	assert.Equal(t, 0, g.InFlight())
	assert.Panics(t, g.Leave)
}

func TestNewGateClampsToOne(t *testing.T) {
	g := NewGate(0)
	require.True(t, g.TryEnter())
	assert.False(t, g.TryEnter())
}

func TestGateNeverExceedsMax(t *testing.T) {
	const limit = 4
	g := NewGate(limit)
	var (
		wg       sync.WaitGroup
		current  atomic.Int64
		peak     atomic.Int64
		admitted atomic.Int64
		refused  atomic.Int64
	)
	for range 32 {
		wg.Go(func() {
			for range 2000 {
				if !g.TryEnter() {
					refused.Add(1)
					continue
				}
				admitted.Add(1)
				n := current.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				runtime.Gosched() // hold the slot so holders overlap
				current.Add(-1)
				g.Leave()
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, peak.Load(), int64(limit))
	assert.Positive(t, admitted.Load())
	assert.Positive(t, refused.Load(), "32 goroutines on 4 slots must see refusals")
	assert.Equal(t, int64(32*2000), admitted.Load()+refused.Load())
	assert.Equal(t, 0, g.InFlight())
}

func BenchmarkGate(b *testing.B) {
	g := NewGate(1 << 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if g.TryEnter() {
				g.Leave()
			}
		}
	})
}
