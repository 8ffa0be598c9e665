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
// alone, so this costs nothing under load and one collection per
// interval at most when idle.
func trimMemory(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	cycles := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := cycles()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if now := cycles(); now != last {
			last = now // collected meanwhile: busy, or already trimmed
			continue
		}
		debug.FreeOSMemory()
		last = cycles()
	}
}
