package calls

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// Store keeps the call documents: one per user (their calls and read
// marker), one per block list, one per live call leg and one per call-id
// (which extension answered it). Everything the Service does is a
// read-modify-write of one document, so a store needs only an atomic
// Update per key, also across processes sharing it.
type Store interface {
	// Get returns the document at key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Update loads the document at key (nil when absent), runs fn on it and
	// stores what fn returns, all atomically; ttl > 0 makes the document
	// expire that long after this write. fn may run more than once when a
	// concurrent writer wins, so it must have no side effects. fn returning
	// errKeep leaves the document as it is; a nil result deletes it. fn
	// must not modify old or keep it after returning (it may be the
	// store's own copy).
	Update(ctx context.Context, key string, ttl time.Duration, fn func(old []byte) ([]byte, error)) error
	// Delete removes the documents at keys; missing ones are no error.
	Delete(ctx context.Context, keys ...string) error
}

// errKeep, returned by an Update function, writes nothing.
var errKeep = errors.New("keep document")

// MemStore is an in-process Store for tests and single-instance use.
type MemStore struct {
	now func() time.Time

	mu   sync.Mutex // guards docs
	docs map[string]memDoc
}

type memDoc struct {
	val     []byte
	expires time.Time // zero: never
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{now: time.Now, docs: map[string]memDoc{}} }

// Get implements Store.
func (m *MemStore) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[key]
	if !ok || (!d.expires.IsZero() && !d.expires.After(m.now())) {
		return nil, ErrNotFound
	}
	return slices.Clone(d.val), nil
}

// Update implements Store.
func (m *MemStore) Update(_ context.Context, key string, ttl time.Duration, fn func([]byte) ([]byte, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var old []byte
	if d, ok := m.docs[key]; ok && (d.expires.IsZero() || d.expires.After(now)) {
		old = slices.Clone(d.val)
	}
	val, err := fn(old)
	if errors.Is(err, errKeep) {
		return nil
	}
	if err != nil {
		return err
	}
	if val == nil {
		delete(m.docs, key)
		return nil
	}
	d := memDoc{val: slices.Clone(val)}
	if ttl > 0 {
		d.expires = now.Add(ttl)
	}
	m.docs[key] = d
	return nil
}

// Delete implements Store.
func (m *MemStore) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		delete(m.docs, k)
	}
	return nil
}

// keys lists the live keys with prefix, for tests.
func (m *MemStore) keys(prefix string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.docs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
