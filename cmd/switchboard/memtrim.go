package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// trimMemory hands freed heap back to the operating system once the
// process goes quiet, checking every interval until ctx ends. Go collects
// only when it allocates, so after a burst (a restart storm of
// SUBSCRIBEs, whose finished transactions sipgo keeps for Timer J, 32 s)
// an idle process would keep the burst's memory for up to two minutes;
// when no collection ran during a whole interval, one is forced and the
// free pages are released. A busy process collects by itself and is left
// alone, so this costs nothing under load.
//
// A burst's memory is not let go at once but over Timer J after it, a
// little every second as its transactions expire (each also frees the
// pages it kept from being returned with the request garbage around it).
// So while the process's heap keeps falling from one trim to the next
// (falling), the next trim comes after a tenth of the interval: RSS
// follows the live heap down within a second or so instead of keeping up
// to an interval's worth of expired transactions. Once it stops falling
// (a steady or idle process: what a trim returns, it allocated since),
// one collection per interval at most, as before.
func trimMemory(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	m := newMemSampler()
	t := time.NewTimer(interval)
	defer t.Stop()
	last := m.cycles()
	var prev uint64 // resident after the last trim; 0 after a busy interval
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := interval
		if now := m.cycles(); now != last {
			last, prev = now, 0 // collected meanwhile: busy, or already trimmed
		} else {
			before := m.resident()
			debug.FreeOSMemory()
			last = m.cycles()
			after := m.resident()
			if prev == 0 {
				prev = before
			}
			if falling(prev, after) {
				next = interval / 10
			}
			prev = after
		}
		t.Reset(next)
	}
}

// falling reports whether the resident heap went from prev bytes to now
// down by a 256th or more. A collection costs CPU in proportion to the
// heap, so a share of it, not a number of bytes, is what makes the next
// one soon worth its cost.
func falling(prev, now uint64) bool {
	return now < prev && prev-now >= prev/256
}

// memSampler reads the runtime's figures trimMemory goes by.
type memSampler struct{ s []metrics.Sample }

func newMemSampler() *memSampler {
	return &memSampler{s: []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}}
}

func (m *memSampler) cycles() uint64 {
	metrics.Read(m.s[:1])
	return m.s[0].Value.Uint64()
}

// resident is the heap memory the runtime holds from the system and has
// not released: objects (live, or dead and not yet collected), the room
// left in their spans, and free pages not yet returned.
func (m *memSampler) resident() uint64 {
	metrics.Read(m.s[1:])
	return m.s[1].Value.Uint64() + m.s[2].Value.Uint64() + m.s[3].Value.Uint64()
}
