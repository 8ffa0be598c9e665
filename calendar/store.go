package calendar

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/presence"
)

// Feed is one user's calendar source and what its poller last learned.
type Feed struct {
	AOR presence.AOR `json:"aor"`
	// URL is the iCalendar address. It is a secret (anyone holding it
	// reads the calendar): only the user and their administrators see it,
	// and logs never carry it.
	URL string `json:"url"`
	// Share lets colleagues read the user's busy blocks.
	Share bool `json:"share"`
	// Gen changes with every settings write, so a poll that began before
	// one does not store what it read from the old address.
	Gen     uint64    `json:"gen"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	Poll    PollState `json:"poll"`
	// Busy is the merged busy time of [Poll.From, Poll.To), as of the last
	// successful poll.
	Busy []presence.Busy `json:"busy,omitempty"`
}

// PollState is what the poller remembers of a feed.
type PollState struct {
	// ETag and LastModified make the next request conditional.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Attempted and Succeeded are the last poll and the last good one.
	Attempted time.Time `json:"attempted,omitzero"`
	Succeeded time.Time `json:"succeeded,omitzero"`
	// Error is why the last poll failed, fit to show the user; empty
	// after a success.
	Error string `json:"error,omitempty"`
	// Failures counts polls failed in a row, for the backoff.
	Failures int `json:"failures,omitempty"`
	// Next is when the feed is due.
	Next time.Time `json:"next"`
	// From and To bound the time Busy covers.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
}

// Store keeps feeds where every instance sees them. Update must be atomic
// per user, also across processes sharing the store.
type Store interface {
	// Update loads aor's feed (found false and a zero Feed when there is
	// none), runs fn on it and saves the result, atomically. fn may run
	// more than once; an error from it aborts the update and is returned
	// as is.
	Update(ctx context.Context, aor presence.AOR, fn func(f *Feed, found bool) error) (Feed, error)
	// Get returns aor's feed, or ErrNotFound.
	Get(ctx context.Context, aor presence.AOR) (Feed, error)
	// Delete removes aor's feed; ErrNotFound when there is none.
	Delete(ctx context.Context, aor presence.AOR) error
	// Due returns up to limit users whose feed's Poll.Next is at or
	// before now, the most overdue first.
	Due(ctx context.Context, now time.Time, limit int) ([]presence.AOR, error)
}

// MemStore is an in-process Store, for tests and a single process.
type MemStore struct {
	mu    sync.Mutex // guards feeds
	feeds map[presence.AOR]Feed
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{feeds: map[presence.AOR]Feed{}} }

func (f Feed) clone() Feed {
	f.Busy = slices.Clone(f.Busy)
	return f
}

// Update implements Store.
func (m *MemStore) Update(_ context.Context, aor presence.AOR, fn func(*Feed, bool) error) (Feed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, found := m.feeds[aor]
	f = f.clone()
	if err := fn(&f, found); err != nil {
		return Feed{}, err
	}
	m.feeds[aor] = f
	return f.clone(), nil
}

// Get implements Store.
func (m *MemStore) Get(_ context.Context, aor presence.AOR) (Feed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.feeds[aor]
	if !ok {
		return Feed{}, ErrNotFound
	}
	return f.clone(), nil
}

// Delete implements Store.
func (m *MemStore) Delete(_ context.Context, aor presence.AOR) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.feeds[aor]; !ok {
		return ErrNotFound
	}
	delete(m.feeds, aor)
	return nil
}

// Due implements Store.
func (m *MemStore) Due(_ context.Context, now time.Time, limit int) ([]presence.AOR, error) {
	m.mu.Lock()
	var due []Feed
	for _, f := range m.feeds {
		if !f.Poll.Next.After(now) {
			due = append(due, f)
		}
	}
	m.mu.Unlock()
	return oldestFirst(due, limit), nil
}

// oldestFirst is the users of feeds, most overdue first, at most limit.
func oldestFirst(feeds []Feed, limit int) []presence.AOR {
	slices.SortFunc(feeds, func(a, b Feed) int {
		return cmp.Or(a.Poll.Next.Compare(b.Poll.Next), cmp.Compare(a.AOR.String(), b.AOR.String()))
	})
	out := make([]presence.AOR, 0, min(len(feeds), limit))
	for _, f := range feeds {
		if len(out) == limit {
			break
		}
		out = append(out, f.AOR)
	}
	return out
}
