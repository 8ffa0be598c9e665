package presence

import (
	"context"
	"sync"
	"time"
)

// MemStore is the in-process Store: the default when no Redis is configured.
type MemStore struct {
	mu      sync.Mutex // guards records
	records map[AOR]Record
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-process store.
func NewMemStore() *MemStore { return &MemStore{records: make(map[AOR]Record)} }

// Update implements Store. It holds one lock across fn, which is cheap for
// the in-memory work fn does and keeps updates of one AOR strictly ordered.
func (m *MemStore) Update(_ context.Context, aor AOR, fn func(*Record) error) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.records[aor].Clone()
	if err := fn(&r); err != nil {
		return Record{}, err
	}
	m.records[aor] = r
	return r.Clone(), nil
}

// Get implements Store.
func (m *MemStore) Get(_ context.Context, aor AOR) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.records[aor]
	if !ok {
		return Record{}, ErrNotFound
	}
	return r.Clone(), nil
}

// Due implements Store.
func (m *MemStore) Due(_ context.Context, now time.Time) ([]AOR, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var due []AOR
	for aor, r := range m.records {
		if !r.Next.IsZero() && !r.Next.After(now) {
			due = append(due, aor)
		}
	}
	return due, nil
}
