package auth

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// ncTable remembers the highest nonce-count accepted per nonce so that a
// captured request cannot be replayed within the nonce lifetime
// (RFC 7616 §3.3 / RFC 2617 §3.2.2: "the server can detect request
// replays by maintaining its own copy of this count").
//
// It is bounded: at most max entries, evicted least recently used first,
// and entries are useless once their nonce has expired. A nonce whose entry
// was evicted before expiry could otherwise be replayed, so the table keeps
// a watermark: an unseen nonce issued at or before the newest evicted
// nonce is refused (the client is re-challenged with stale=true and simply
// retries with a fresh nonce).
type ncTable struct {
	mu        sync.Mutex                       // guards lru, watermark and now
	lru       *simplelru.LRU[string, *ncEntry] // not safe for concurrent use on its own
	watermark time.Time                        // newest issue time evicted before expiry
	now       time.Time                        // time of the advance in progress, for onEvict
}

type ncEntry struct {
	nc      uint32
	issued  time.Time
	expires time.Time
}

func newNCTable(size int) *ncTable {
	t := &ncTable{}
	l, err := simplelru.NewLRU(max(size, 1), t.onEvict)
	if err != nil {
		panic(err) // only for a size below 1, excluded above
	}
	t.lru = l
	return t
}

// onEvict raises the watermark when an entry leaves before its nonce
// expired. simplelru calls it for every removal, under t.mu.
func (t *ncTable) onEvict(_ string, e *ncEntry) {
	if e.expires.After(t.now) && e.issued.After(t.watermark) {
		t.watermark = e.issued
	}
}

// sweepLimit bounds the work one call spends removing expired entries.
const sweepLimit = 8

// advance records nc for nonce and reports whether it is strictly greater
// than every count accepted before for that nonce.
func (t *ncTable) advance(nonce string, nc uint32, issued, expires, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now

	if e, ok := t.lru.Get(nonce); ok {
		if nc <= e.nc {
			return false
		}
		e.nc = nc
		return true
	}
	if !t.watermark.IsZero() && !issued.After(t.watermark) {
		return false
	}
	// Drop expired entries from the cold end (they leave the watermark
	// alone); Add then evicts the least recently used if still full.
	for range sweepLimit {
		_, e, ok := t.lru.GetOldest()
		if !ok || e.expires.After(now) {
			break
		}
		t.lru.RemoveOldest()
	}
	t.lru.Add(nonce, &ncEntry{nc: nc, issued: issued, expires: expires})
	return true
}

func (t *ncTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
