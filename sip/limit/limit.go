// Package limit protects the SIP edge from overload in the spirit of
// Kamailio's pike module: a per-source token bucket (Limiter) and a global
// in-flight cap (Gate). Both answer immediately, so the edge can reply
// 503 Service Unavailable with Retry-After (RFC 3261 §21.5.4, §20.33)
// instead of queueing work without bound. Buckets, the bounded per-key
// table behind Limiter, also counts failed digest attempts per account.
package limit

import (
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
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
// It is safe for concurrent use.
type Limiter struct {
	exempt  []netip.Prefix
	buckets *Buckets[netip.Addr]
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
	return &Limiter{
		exempt:  append([]netip.Prefix(nil), cfg.Exempt...),
		buckets: NewBuckets[netip.Addr](cfg.Rate, cfg.Burst, cfg.MaxSources),
	}
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
	return l.buckets.Take(src, now)
}

// Len returns how many sources are tracked; it never exceeds MaxSources.
func (l *Limiter) Len() int { return l.buckets.Len() }

// Buckets is a bounded table of token buckets, one per key: the core of
// Limiter, usable with any key (an account name, a source address). It is
// safe for concurrent use; the table is sharded so concurrent handlers
// rarely contend on one mutex. Each bucket is a rate.Limiter; each shard's
// table is an LRU.
type Buckets[K comparable] struct {
	rate   rate.Limit
	burst  int
	seed   maphash.Seed
	shards []shard[K]
}

// shard is one lock domain of the table.
type shard[K comparable] struct {
	mu  sync.Mutex                       // guards lru (not safe for concurrent use on its own)
	lru *simplelru.LRU[K, *rate.Limiter] // most recently seen first
	_   [64]byte                         // keep neighbouring shards' mutexes off one cache line
}

// NewBuckets returns a table of buckets refilling at rate tokens per
// second up to burst, tracking at most maxKeys keys; when full, the least
// recently seen key is forgotten (and starts again with a full bucket).
// Values below 1 (0 for rate) are raised to the package defaults.
func NewBuckets[K comparable](perSecond float64, burst, maxKeys int) *Buckets[K] {
	if perSecond <= 0 {
		perSecond = DefaultRate
	}
	if burst <= 0 {
		burst = DefaultBurst
	}
	if maxKeys <= 0 {
		maxKeys = DefaultMaxSources
	}
	// Sixteen shards once each can hold a useful number of keys; the
	// per-shard caps sum to at most maxKeys.
	n := 16
	if maxKeys < 16*64 {
		n = 1
	}
	b := &Buckets[K]{rate: rate.Limit(perSecond), burst: burst, seed: maphash.MakeSeed(), shards: make([]shard[K], n)}
	for i := range b.shards {
		l, err := simplelru.NewLRU[K, *rate.Limiter](maxKeys/n, nil)
		if err != nil {
			panic(err) // only for a size below 1, excluded above
		}
		b.shards[i].lru = l
	}
	return b
}

// Take takes one token from key's bucket at time now. When the bucket is
// empty it returns false and how long until a token is available.
func (b *Buckets[K]) Take(key K, now time.Time) (ok bool, retryAfter time.Duration) {
	s := &b.shards[b.shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, found := s.lru.Get(key)
	if !found {
		// A new key starts with a full bucket (rate.Limiter fills an
		// unused bucket on first use).
		lim = rate.NewLimiter(b.rate, b.burst)
		s.lru.Add(key, lim)
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, b.wait(lim, now)
}

// Wait reports how long until key's bucket holds a token at time now,
// without taking one: zero when Take would succeed. It lets a caller
// refuse before doing work whose outcome alone decides whether a token is
// spent (a password check).
func (b *Buckets[K]) Wait(key K, now time.Time) time.Duration {
	s := &b.shards[b.shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, found := s.lru.Get(key)
	if !found {
		return 0
	}
	return b.wait(lim, now)
}

// wait returns how long until lim holds a token at now, zero if it does.
func (b *Buckets[K]) wait(lim *rate.Limiter, now time.Time) time.Duration {
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	wait := time.Duration((1 - tokens) / float64(b.rate) * float64(time.Second))
	return max(wait, time.Nanosecond)
}

// Len returns how many keys are tracked; it never exceeds maxKeys.
func (b *Buckets[K]) Len() int {
	n := 0
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

func (b *Buckets[K]) shardOf(key K) int {
	if len(b.shards) == 1 {
		return 0
	}
	return int(maphash.Comparable(b.seed, key) % uint64(len(b.shards)))
}

// RetryAfterSeconds converts a wait into the whole seconds of a
// Retry-After header (RFC 3261 §20.33), rounding up and never below 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
