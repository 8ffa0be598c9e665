package auth

import (
	"container/list"
	"sync"
	"time"
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
	max int

	mu        sync.Mutex               // guards entries, lru and watermark
	entries   map[string]*list.Element // nonce -> element holding *ncEntry
	lru       *list.List               // front = most recently used
	watermark time.Time                // newest issue time evicted before expiry
}

type ncEntry struct {
	nonce   string
	nc      uint32
	issued  time.Time
	expires time.Time
}

func newNCTable(max int) *ncTable {
	return &ncTable{
		max:     max,
		entries: make(map[string]*list.Element, min(max, 1024)),
		lru:     list.New(),
	}
}

// sweepLimit bounds the work one call spends removing expired entries.
const sweepLimit = 8

// advance records nc for nonce and reports whether it is strictly greater
// than every count accepted before for that nonce.
func (t *ncTable) advance(nonce string, nc uint32, issued, expires, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()

	if el, ok := t.entries[nonce]; ok {
		e := el.Value.(*ncEntry)
		if nc <= e.nc {
			return false
		}
		e.nc = nc
		t.lru.MoveToFront(el)
		return true
	}
	if !t.watermark.IsZero() && !issued.After(t.watermark) {
		return false
	}

	// Drop expired entries from the cold end, then make room if needed.
	for i := 0; i < sweepLimit; i++ {
		back := t.lru.Back()
		if back == nil || back.Value.(*ncEntry).expires.After(now) {
			break
		}
		t.remove(back)
	}
	for t.lru.Len() >= t.max {
		back := t.lru.Back()
		if e := back.Value.(*ncEntry); e.expires.After(now) && e.issued.After(t.watermark) {
			t.watermark = e.issued
		}
		t.remove(back)
	}
	t.entries[nonce] = t.lru.PushFront(&ncEntry{nonce: nonce, nc: nc, issued: issued, expires: expires})
	return true
}

func (t *ncTable) remove(el *list.Element) {
	delete(t.entries, el.Value.(*ncEntry).nonce)
	t.lru.Remove(el)
}

func (t *ncTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
