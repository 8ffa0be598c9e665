package watcher

import (
	"context"
	"sync"
	"time"
)

// Lease hands out time-limited exclusive claims on keys, so that several
// Switchboard instances watching one PBX split the extensions between them
// instead of each subscribing to all of them. An implementation belongs to
// one instance: it knows who is asking.
type Lease interface {
	// Acquire claims key for ttl and reports whether this instance now holds it.
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Renew extends a claim this instance holds; false means it was lost.
	Renew(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release gives up a claim this instance holds.
	Release(ctx context.Context, key string) error
}

// MemLeases is an in-memory lease table for a single process and for tests;
// For returns the Lease of one (simulated) instance over the shared table.
type MemLeases struct {
	now func() time.Time

	mu     sync.Mutex // guards leases
	leases map[string]memLease
}

type memLease struct {
	owner   string
	expires time.Time
}

// NewMemLeases returns an empty lease table.
func NewMemLeases() *MemLeases {
	return &MemLeases{now: time.Now, leases: make(map[string]memLease)}
}

// For returns the Lease that instance owner uses over this table.
func (m *MemLeases) For(owner string) Lease { return memHolder{table: m, owner: owner} }

// Holder reports who holds key now, or "" when nobody does.
func (m *MemLeases) Holder(key string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[key]
	if !ok || !l.expires.After(m.now()) {
		return ""
	}
	return l.owner
}

// memHolder is one instance's view of a MemLeases table.
type memHolder struct {
	table *MemLeases
	owner string
}

var _ Lease = memHolder{}

// Acquire implements Lease.
func (h memHolder) Acquire(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m := h.table
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.leases[key]; ok && l.owner != h.owner && l.expires.After(now) {
		return false, nil
	}
	m.leases[key] = memLease{owner: h.owner, expires: now.Add(ttl)}
	return true, nil
}

// Renew implements Lease.
func (h memHolder) Renew(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m := h.table
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	l, ok := m.leases[key]
	if !ok || l.owner != h.owner || !l.expires.After(now) {
		return false, nil
	}
	m.leases[key] = memLease{owner: h.owner, expires: now.Add(ttl)}
	return true, nil
}

// Release implements Lease.
func (h memHolder) Release(_ context.Context, key string) error {
	m := h.table
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[key]; ok && l.owner == h.owner {
		delete(m.leases, key)
	}
	return nil
}
