package main

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The next trim comes soon only while the heap falls by a 256th or more
// from one trim to the next.
func TestTrimFalling(t *testing.T) {
	const mb = 1 << 20
	assert.True(t, falling(128*mb, 127*mb), "the tail of a burst: 1 MB of 128 let go")
	assert.True(t, falling(128*mb, 64*mb))
	assert.False(t, falling(128*mb, 128*mb-mb/4), "a steady process")
	assert.False(t, falling(128*mb, 128*mb))
	assert.False(t, falling(128*mb, 129*mb), "growing")
}

// resident counts what a trim returns: garbage let go and released.
func TestResidentFallsWithTrim(t *testing.T) {
	m := newMemSampler()
	runtime.GC()
	base := m.resident()
	garbage := make([][]byte, 0, 1024)
	for range 1024 {
		garbage = append(garbage, make([]byte, 16<<10))
	}
	held := m.resident()
	assert.Greater(t, held, base+8<<20, "16 MB allocated")
	runtime.KeepAlive(garbage)
	garbage = nil
	before := m.resident()
	c := m.cycles()
	debug.FreeOSMemory()
	assert.Greater(t, m.cycles(), c)
	assert.True(t, falling(before, m.resident()), "%d -> %d", before, m.resident())
}
