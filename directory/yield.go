package directory

import (
	"runtime"
	"time"
)

// yieldPeriod is how long an import's loops run before they give their
// processor to waiting goroutines (a search, a caller-ID lookup). 1 ms
// and 2 ms measured alike (integration/million.sh: 83-87k rows/s for the
// first 250k, 63k for the fourth; lookups during the import p99 14-17 ms
// against 14 ms yielding every 32 rows); 0.5 ms was 5-10% slower.
const yieldPeriod = time.Millisecond

// yielder yields the processor about every yieldPeriod. Yielding by
// count (every 32 rows) made an import about 25% slower:
// runtime.Gosched puts the goroutine on the global run queue without
// waking an idle processor, and the execution trace showed a single
// goroutine running 30% of an import while the import's other stages
// waited there, runnable, with a core idle.
type yielder struct{ next time.Time }

// maybe yields if yieldPeriod has passed since the last yield (or since
// the first call).
func (y *yielder) maybe() {
	now := time.Now()
	if y.next.IsZero() {
		y.next = now.Add(yieldPeriod)
		return
	}
	if now.Before(y.next) {
		return
	}
	runtime.Gosched()
	y.next = time.Now().Add(yieldPeriod)
}
