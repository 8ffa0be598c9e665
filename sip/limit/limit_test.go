package limit

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestAllowBurstThenRefuse(t *testing.T) {
	l := New(Config{Rate: 10, Burst: 5})
	src := netip.MustParseAddr("192.0.2.1")
	for i := range 5 {
		ok, wait := l.Allow(src, t0)
		require.True(t, ok, "request %d within burst", i)
		assert.Zero(t, wait)
	}
	ok, wait := l.Allow(src, t0)
	assert.False(t, ok)
	// One token at 10/s takes 100ms.
	assert.InDelta(t, 100*time.Millisecond, wait, float64(time.Millisecond))
	assert.Equal(t, 1, RetryAfterSeconds(wait))

	// Another source is unaffected.
	ok, _ = l.Allow(netip.MustParseAddr("192.0.2.2"), t0)
	assert.True(t, ok)
}

func TestAllowRefill(t *testing.T) {
	tests := []struct {
		name    string
		elapsed time.Duration
		want    int // requests allowed after elapsed
	}{
		{name: "no time", elapsed: 0, want: 0},
		{name: "half a token", elapsed: 50 * time.Millisecond, want: 0},
		{name: "one token", elapsed: 100 * time.Millisecond, want: 1},
		{name: "three tokens", elapsed: 350 * time.Millisecond, want: 3},
		{name: "capped at burst", elapsed: time.Hour, want: 5},
		{name: "clock going backwards", elapsed: -time.Second, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Config{Rate: 10, Burst: 5})
			src := netip.MustParseAddr("2001:db8::1")
			for range 5 {
				ok, _ := l.Allow(src, t0)
				require.True(t, ok)
			}
			now := t0.Add(tt.elapsed)
			got := 0
			for {
				ok, wait := l.Allow(src, now)
				if !ok {
					assert.Positive(t, wait)
					assert.LessOrEqual(t, wait, 100*time.Millisecond)
					break
				}
				got++
				require.LessOrEqual(t, got, 5, "more than burst allowed")
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAllowSustainedRate(t *testing.T) {
	l := New(Config{Rate: 50, Burst: 100})
	src := netip.MustParseAddr("192.0.2.9")
	allowed := 0
	// 10 seconds at 1000 requests/s: burst plus 50/s gets through.
	for i := range 10000 {
		if ok, _ := l.Allow(src, t0.Add(time.Duration(i)*time.Millisecond)); ok {
			allowed++
		}
	}
	assert.InDelta(t, 100+50*10, allowed, 2)
}

func TestAllowExempt(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 1, Exempt: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("2001:db8:aa::/48"),
	}})
	tests := []struct {
		name   string
		src    netip.Addr
		exempt bool
	}{
		{name: "pbx v4", src: netip.MustParseAddr("10.1.2.3"), exempt: true},
		{name: "pbx v4 mapped in v6", src: netip.MustParseAddr("::ffff:10.1.2.3"), exempt: true},
		{name: "pbx v6", src: netip.MustParseAddr("2001:db8:aa::5"), exempt: true},
		{name: "phone", src: netip.MustParseAddr("192.0.2.1"), exempt: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			refused := 0
			for range 1000 {
				if ok, _ := l.Allow(tt.src, t0); !ok {
					refused++
				}
			}
			if tt.exempt {
				assert.Zero(t, refused)
			} else {
				assert.Equal(t, 999, refused)
			}
		})
	}
	assert.Equal(t, 1, l.Len(), "exempt sources are not tracked")
}

func TestAllowMappedAddressIsSameSource(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 1})
	ok, _ := l.Allow(netip.MustParseAddr("192.0.2.1"), t0)
	require.True(t, ok)
	ok, _ = l.Allow(netip.MustParseAddr("::ffff:192.0.2.1"), t0)
	assert.False(t, ok)
}

func TestAllowBoundedMemory(t *testing.T) {
	tests := []struct {
		name       string
		maxSources int
	}{
		{name: "single shard", maxSources: 100},
		{name: "sharded", maxSources: 5000},
		{name: "sharded uneven", maxSources: 4099},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := New(Config{Rate: 1, Burst: 1, MaxSources: tt.maxSources})
			var peak int
			for i := range 3 * tt.maxSources {
				ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
				ok, _ := l.Allow(ip, t0)
				require.True(t, ok, "a new source starts with a full bucket")
				if i%97 == 0 {
					peak = max(peak, l.Len())
				}
			}
			peak = max(peak, l.Len())
			assert.LessOrEqual(t, peak, tt.maxSources)
			assert.Greater(t, l.Len(), tt.maxSources*9/10, "the table should be used, not thrashed")
		})
	}
}

func TestAllowEvictsLeastRecentlySeen(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 1, MaxSources: 3})
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	c := netip.MustParseAddr("192.0.2.3")
	d := netip.MustParseAddr("192.0.2.4")
	for _, ip := range []netip.Addr{a, b, c} {
		ok, _ := l.Allow(ip, t0)
		require.True(t, ok)
	}
	ok, _ := l.Allow(a, t0) // a is now the most recently seen (and empty)
	require.False(t, ok)
	ok, _ = l.Allow(d, t0) // evicts b, the least recently seen
	require.True(t, ok)
	assert.Equal(t, 3, l.Len())

	ok, _ = l.Allow(a, t0)
	assert.False(t, ok, "a must still be tracked and limited")
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int
	}{
		{name: "zero", d: 0, want: 1},
		{name: "sub second", d: 20 * time.Millisecond, want: 1},
		{name: "exact", d: 2 * time.Second, want: 2},
		{name: "round up", d: 2*time.Second + time.Nanosecond, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, RetryAfterSeconds(tt.d))
		})
	}
}

func TestAllowConcurrent(t *testing.T) {
	l := New(Config{Rate: 1, Burst: 10, MaxSources: 2048})
	src := netip.MustParseAddr("192.0.2.77")
	var (
		wg      sync.WaitGroup
		allowed atomic.Int64
	)
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if ok, _ := l.Allow(src, t0); ok {
					allowed.Add(1)
				}
				l.Allow(netip.AddrFrom4([4]byte{172, 16, byte(g), byte(i)}), t0)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(10), allowed.Load(), "exactly the burst passes at a single instant")
	assert.LessOrEqual(t, l.Len(), 2048)
}

func BenchmarkAllow(b *testing.B) {
	l := New(Config{})
	srcs := make([]netip.Addr, 1024)
	for i := range srcs {
		srcs[i] = netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)})
	}
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Allow(srcs[i%len(srcs)], now.Add(time.Duration(i)*time.Microsecond))
	}
}

func BenchmarkAllowParallel(b *testing.B) {
	l := New(Config{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			l.Allow(netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}), t0)
		}
	})
}
