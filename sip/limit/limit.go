// Package limit protects the SIP edge from overload in the spirit of
// Kamailio's pike module: a per-source token bucket (Limiter) and a global
// in-flight cap (Gate). Both answer immediately, so the edge can reply
// 503 Service Unavailable with Retry-After (RFC 3261 §21.5.4, §20.33)
// instead of queueing work without bound.
package limit

import (
	"container/list"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"
)

// Defaults applied by New for zero Config fields.
const (
	// DefaultRate is the sustained requests per second per source IP.
	DefaultRate = 50
	// DefaultBurst is how many requests a source may send at once.
	DefaultBurst = 100
	// DefaultMaxSources bounds the number of tracked source IPs.
	DefaultMaxSources = 100000
)

// Config configures a Limiter. Zero fields get defaults in New.
type Config struct {
	// Rate is the refill rate in requests per second per source IP.
	Rate float64
	// Burst is the bucket size: requests a quiet source may send at once.
	Burst int
	// MaxSources bounds memory: when the table is full the least recently
	// seen source is forgotten (and starts again with a full bucket).
	MaxSources int
	// Exempt sources (the PBX, monitoring) are never limited.
	Exempt []netip.Prefix
}

// Limiter is a per-source-IP token bucket limiter with a bounded table.
// It is safe for concurrent use; the table is sharded so concurrent
// handlers rarely contend on one mutex.
type Limiter struct {
	rate   float64
	burst  float64
	exempt []netip.Prefix
	shards []shard
}

// shard is one lock domain of the source table.
type shard struct {
	max int

	mu      sync.Mutex                   // guards buckets and lru
	buckets map[netip.Addr]*list.Element // source -> element holding *bucket
	lru     *list.List                   // front = most recently seen
	_       [64]byte                     // keep neighbouring shards' mutexes off one cache line
}

type bucket struct {
	src    netip.Addr
	tokens float64
	last   time.Time
}

// New returns a Limiter for cfg, applying defaults to zero or negative
// fields.
func New(cfg Config) *Limiter {
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = DefaultMaxSources
	}
	// Sixteen shards once each can hold a useful number of sources; the
	// per-shard caps sum to at most MaxSources.
	n := 16
	if cfg.MaxSources < 16*64 {
		n = 1
	}
	l := &Limiter{
		rate:   cfg.Rate,
		burst:  float64(cfg.Burst),
		exempt: append([]netip.Prefix(nil), cfg.Exempt...),
		shards: make([]shard, n),
	}
	for i := range l.shards {
		l.shards[i] = shard{
			max:     cfg.MaxSources / n,
			buckets: make(map[netip.Addr]*list.Element),
			lru:     list.New(),
		}
	}
	return l
}

// Allow takes one token from src's bucket at time now. When the bucket is
// empty it returns false and how long until a token is available, which
// the caller rounds up into Retry-After (see RetryAfterSeconds).
func (l *Limiter) Allow(src netip.Addr, now time.Time) (ok bool, retryAfter time.Duration) {
	// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they are
	// the same source.
	src = src.Unmap().WithZone("")
	for _, p := range l.exempt {
		if p.Contains(src) {
			return true, 0
		}
	}
	s := &l.shards[l.shardOf(src)]
	s.mu.Lock()
	defer s.mu.Unlock()

	var b *bucket
	if el, found := s.buckets[src]; found {
		b = el.Value.(*bucket)
		s.lru.MoveToFront(el)
		if elapsed := now.Sub(b.last); elapsed > 0 {
			b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rate)
			b.last = now
		}
	} else {
		for s.lru.Len() >= s.max {
			back := s.lru.Back()
			delete(s.buckets, back.Value.(*bucket).src)
			s.lru.Remove(back)
		}
		b = &bucket{src: src, tokens: l.burst, last: now}
		s.buckets[src] = s.lru.PushFront(b)
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, max(wait, time.Nanosecond)
}

// Len returns how many sources are tracked; it never exceeds MaxSources.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

func (l *Limiter) shardOf(src netip.Addr) int {
	if len(l.shards) == 1 {
		return 0
	}
	b := src.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:])
	h *= 0x9e3779b97f4a7c15 // Fibonacci hashing spreads adjacent addresses.
	return int((h >> 60) % uint64(len(l.shards)))
}

// RetryAfterSeconds converts a wait into the whole seconds of a
// Retry-After header (RFC 3261 §20.33), rounding up and never below 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
