package limit

import "sync/atomic"

// Gate caps the number of requests in flight without queueing: TryEnter
// either admits at once or refuses, so the edge answers 503 instead of
// piling up goroutines (sipgo runs one per message).
type Gate struct {
	max      int64
	inFlight atomic.Int64
}

// NewGate returns a Gate admitting at most n concurrent holders; n
// below 1 is treated as 1.
func NewGate(n int) *Gate {
	return &Gate{max: int64(max(n, 1))}
}

// TryEnter admits the caller if fewer than max are in flight. Every
// successful TryEnter must be paired with one Leave.
func (g *Gate) TryEnter() bool {
	for {
		n := g.inFlight.Load()
		if n >= g.max {
			return false
		}
		if g.inFlight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Leave releases a slot taken by TryEnter. It panics on an unpaired call,
// which would otherwise silently raise the cap.
func (g *Gate) Leave() {
	if g.inFlight.Add(-1) < 0 {
		panic("limit: Gate.Leave without TryEnter")
	}
}

// InFlight returns the number of current holders.
func (g *Gate) InFlight() int { return int(g.inFlight.Load()) }
