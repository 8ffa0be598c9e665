package callerid

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/switchboardhq/switchboard/directory/phone"
)

// numberCache is a bounded LRU of parsed incoming numbers for one region.
// Parsing costs tens of microseconds (libphonenumber regexes) while the
// same callers call again and again, so a hit saves almost the whole
// lookup. Failed parses are cached too: a trunk sending garbage sends the
// same garbage every time. Safe for concurrent use; a hit allocates
// nothing.
type numberCache struct {
	capacity int

	mu         sync.Mutex // guards the fields below
	m          map[string]*cacheNode
	head, tail *cacheNode // most and least recently used
}

type cacheNode struct {
	key        string
	num        phone.Number
	ok         bool
	prev, next *cacheNode
}

func newNumberCache(capacity int) *numberCache {
	return &numberCache{capacity: capacity, m: make(map[string]*cacheNode, capacity)}
}

// get returns the cached parse of raw and whether raw was cached.
func (c *numberCache) get(raw string) (num phone.Number, ok, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.m[raw]
	if n == nil {
		return phone.Number{}, false, false
	}
	c.moveFront(n)
	return n.num, n.ok, true
}

// put records the parse of raw, evicting the least recently used entry
// when full.
func (c *numberCache) put(raw string, num phone.Number, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.m[raw]; n != nil {
		n.num, n.ok = num, ok
		c.moveFront(n)
		return
	}
	var n *cacheNode
	if len(c.m) >= c.capacity && c.tail != nil {
		n = c.tail
		c.unlink(n)
		delete(c.m, n.key)
		*n = cacheNode{}
	} else {
		n = &cacheNode{}
	}
	// Own the key: raw may be a slice of a large request buffer.
	n.key, n.num, n.ok = strings.Clone(raw), num, ok
	n.num.Raw = n.key
	c.m[n.key] = n
	c.pushFront(n)
}

// len returns the number of cached entries.
func (c *numberCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *numberCache) moveFront(n *cacheNode) {
	if c.head == n {
		return
	}
	c.unlink(n)
	c.pushFront(n)
}

func (c *numberCache) pushFront(n *cacheNode) {
	n.prev, n.next = nil, c.head
	if c.head != nil {
		c.head.prev = n
	}
	c.head = n
	if c.tail == nil {
		c.tail = n
	}
}

func (c *numberCache) unlink(n *cacheNode) {
	if n.prev != nil {
		n.prev.next = n.next
	} else {
		c.head = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	} else {
		c.tail = n.prev
	}
	n.prev, n.next = nil, nil
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
