package auth

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkNCTable measures the replay table: a new nonce per request in
// a full table (each evicts one), and the next count of a known nonce.
func BenchmarkNCTable(b *testing.B) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	nonces := make([]string, 1<<16)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("nonce-%08x", i)
	}
	b.Run("new_nonce_full", func(b *testing.B) {
		tab := newNCTable(4096)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.advance(nonces[i%len(nonces)], 1, now.Add(time.Duration(i)), exp, now)
			i++
		}
	})
	b.Run("next_count", func(b *testing.B) {
		tab := newNCTable(4096)
		for _, n := range nonces[:1024] {
			tab.advance(n, 1, now, exp, now)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tab.advance(nonces[i%1024], uint32(2+i/1024), now, exp, now)
			i++
		}
	})
}
