package callerid

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/switchboardhq/switchboard/directory/phone"
)

// numberCache is a bounded LRU of parsed incoming numbers for one region.
// Parsing costs tens of microseconds (libphonenumber regexes) while the
// same callers call again and again, so a hit saves almost the whole
// lookup. Failed parses are cached too: a trunk sending garbage sends the
// same garbage every time. Safe for concurrent use; a hit allocates
// nothing.
type numberCache struct {
	// A plain mutex over simplelru costs less per hit than lru.Cache's
	// RWMutex, which every Get takes for writing anyway.
	mu  sync.Mutex                          // guards lru
	lru *simplelru.LRU[string, cachedParse] // not safe for concurrent use on its own
}

// cachedParse is the outcome of parsing one raw number.
type cachedParse struct {
	num phone.Number
	ok  bool
}

func newNumberCache(capacity int) *numberCache {
	l, err := simplelru.NewLRU[string, cachedParse](max(capacity, 1), nil)
	if err != nil {
		panic(err) // only for a size below 1, excluded above
	}
	return &numberCache{lru: l}
}

// get returns the cached parse of raw and whether raw was cached.
func (c *numberCache) get(raw string) (num phone.Number, ok, found bool) {
	c.mu.Lock()
	p, found := c.lru.Get(raw)
	c.mu.Unlock()
	return p.num, p.ok, found
}

// put records the parse of raw, evicting the least recently used entry
// when full.
func (c *numberCache) put(raw string, num phone.Number, ok bool) {
	// Own the key: raw may be a slice of a large request buffer.
	key := strings.Clone(raw)
	num.Raw = key
	c.mu.Lock()
	c.lru.Add(key, cachedParse{num: num, ok: ok})
	c.mu.Unlock()
}

// len returns the number of cached entries.
func (c *numberCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// cacheShards splits the parse cache so concurrent lookups of different
// numbers do not queue on one mutex (every hit reorders the LRU list).
const cacheShards = 16

// shardedCache is a numberCache split by a hash of the raw number; its
// bound is the sum of the shards' (each gets capacity/cacheShards, at
// least 1).
type shardedCache struct {
	seed   maphash.Seed
	shards [cacheShards]*numberCache
}

func newShardedCache(capacity int) *shardedCache {
	c := &shardedCache{seed: maphash.MakeSeed()}
	per := max(capacity/cacheShards, 1)
	for i := range c.shards {
		c.shards[i] = newNumberCache(per)
	}
	return c
}

func (c *shardedCache) shard(raw string) *numberCache {
	return c.shards[maphash.String(c.seed, raw)%cacheShards]
}

func (c *shardedCache) get(raw string) (phone.Number, bool, bool) { return c.shard(raw).get(raw) }

func (c *shardedCache) put(raw string, num phone.Number, ok bool) { c.shard(raw).put(raw, num, ok) }

// len returns the number of cached entries over all shards.
func (c *shardedCache) len() int {
	n := 0
	for _, s := range c.shards {
		n += s.len()
	}
	return n
}
