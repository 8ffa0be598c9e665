package directory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
)

// Store persists contacts, users, marks and groups. It is the source of
// truth; every Service keeps an index derived from it and follows its
// change log. Implementations must be safe for concurrent use.
type Store interface {
	// Apply performs every write of b atomically: either all of them or, on
	// error, none. Contact writes are compare-and-swap on the version (see
	// ContactWrite); a mismatch fails the whole batch with
	// ErrVersionMismatch. In the same atomic step b is appended to the
	// change log; Apply returns its sequence number.
	Apply(ctx context.Context, b Batch) (uint64, error)
	// Head returns the position of the newest change in the log. Taken
	// before a full load, it is where following the log resumes.
	Head(ctx context.Context) (Position, error)
	// Changes returns up to limit changes after pos, oldest first, waiting
	// up to wait for the first one (none with wait <= 0). It returns
	// ErrGap when the log no longer holds the change right after pos.
	Changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error)
	// GetContact returns the contact with id, or ErrNotFound.
	GetContact(ctx context.Context, id string) (Contact, error)
	// ForEachContact calls fn for every contact, in no particular order,
	// stopping at the first error fn returns.
	ForEachContact(ctx context.Context, fn func(Contact) error) error
	// GetUser returns the user with address of record aor, or ErrNotFound.
	GetUser(ctx context.Context, aor string) (accounts.User, error)
	// ListUsers returns every user sorted by AOR.
	ListUsers(ctx context.Context) ([]accounts.User, error)
	// ForEachMark calls fn for every non-empty mark.
	ForEachMark(ctx context.Context, fn func(Mark) error) error
	// ListGroups returns every own and shared group sorted by ID.
	ListGroups(ctx context.Context) ([]Group, error)
	// Close releases the store.
	Close() error
}

// Batch is a set of writes applied atomically by Store.Apply, and the
// unit of the change log.
type Batch struct {
	Contacts       []ContactWrite  `json:"contacts,omitempty"`
	DeleteContacts []ContactDelete `json:"delete_contacts,omitempty"`
	Users          []accounts.User `json:"users,omitempty"`
	DeleteUsers    []string        `json:"delete_users,omitempty"` // AORs
	Marks          []Mark          `json:"marks,omitempty"`        // a Mark with no Groups removes it
	Groups         []Group         `json:"groups,omitempty"`
	DeleteGroups   []string        `json:"delete_groups,omitempty"` // group IDs
	// Keys names API keys whose records changed in the key store (a
	// revocation): every instance drops its cached copy on applying it.
	Keys []string `json:"keys,omitempty"`

	// Actor and Origin travel with the change log only: the principal's
	// user who wrote the batch, and the writing Service's random origin
	// token, which tells each instance which changes are its own.
	Actor  string `json:"actor,omitempty"`
	Origin string `json:"origin,omitempty"`

	// prep, when set, holds Contacts prepared for the index, in order:
	// an import prepares its batches on its own goroutine, so that the
	// writer, which every batch passes through one at a time, does less.
	// It never leaves this process.
	prep []prepared
}

// ContactWrite stores Contact if the stored version equals Expected;
// Expected 0 means the contact must not exist yet.
type ContactWrite struct {
	Contact  Contact `json:"contact"`
	Expected uint64  `json:"expected,omitempty"`
	// fresh: Contact.ID was just drawn by newID (80 random bits), so no
	// stored contact can have it and the store skips reading its version
	// (a read and a WATCH per contact on Redis, a B+tree lookup on bolt,
	// for every row of an import), and the index skips looking for it.
	// Never leaves this process; copies of a Batch (clone) drop it.
	fresh bool
}

// ContactDelete removes contact ID if its stored version equals Expected.
type ContactDelete struct {
	ID       string `json:"id"`
	Expected uint64 `json:"expected,omitempty"`
}

func (b *Batch) empty() bool { return b.size() == 0 }

// checkVersions validates the compare-and-swap conditions of b against
// current, which returns the stored version of a contact (0 when absent).
// Writes and deletes of the same ID within b see earlier entries of b.
func (b *Batch) checkVersions(current func(id string) (uint64, error)) error {
	seen := map[string]uint64{}
	get := func(id string) (uint64, error) {
		if v, ok := seen[id]; ok {
			return v, nil
		}
		return current(id)
	}
	for _, w := range b.Contacts {
		if w.fresh && w.Expected == 0 {
			seen[w.Contact.ID] = w.Contact.Version
			continue
		}
		v, err := get(w.Contact.ID)
		if err != nil {
			return err
		}
		if v != w.Expected {
			return fmt.Errorf("write contact %s: stored version %d, expected %d: %w", w.Contact.ID, v, w.Expected, ErrVersionMismatch)
		}
		seen[w.Contact.ID] = w.Contact.Version
	}
	for _, d := range b.DeleteContacts {
		v, err := get(d.ID)
		if err != nil {
			return err
		}
		if v == 0 {
			return fmt.Errorf("delete contact %s: %w", d.ID, ErrNotFound)
		}
		if v != d.Expected {
			return fmt.Errorf("delete contact %s: stored version %d, expected %d: %w", d.ID, v, d.Expected, ErrVersionMismatch)
		}
		seen[d.ID] = 0
	}
	return nil
}

func markKey(owner, contactID string) string { return owner + "\x00" + contactID }

// MemStore is an in-memory Store for tests and benchmarks. Nothing survives
// the process.
type MemStore struct {
	log *localLog

	mu       sync.RWMutex // guards the maps below
	contacts map[string]Contact
	users    map[string]accounts.User
	marks    map[string]Mark
	groups   map[string]Group
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{
		log: newLocalLog(), contacts: map[string]Contact{}, users: map[string]accounts.User{},
		marks: map[string]Mark{}, groups: map[string]Group{},
	}
}

// Apply implements Store.
func (s *MemStore) Apply(ctx context.Context, b Batch) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := b.checkVersions(func(id string) (uint64, error) { return s.contacts[id].Version, nil })
	if err != nil {
		return 0, err
	}
	for _, w := range b.Contacts {
		s.contacts[w.Contact.ID] = cloneContact(w.Contact)
	}
	for _, d := range b.DeleteContacts {
		delete(s.contacts, d.ID)
	}
	for _, u := range b.Users {
		s.users[u.AOR()] = u
	}
	for _, aor := range b.DeleteUsers {
		delete(s.users, aor)
	}
	for _, m := range b.Marks {
		if len(m.Groups) == 0 {
			delete(s.marks, markKey(m.Owner, m.ContactID))
			continue
		}
		m.Groups = slices.Clone(m.Groups)
		s.marks[markKey(m.Owner, m.ContactID)] = m
	}
	for _, g := range b.Groups {
		s.groups[g.ID] = g
	}
	for _, id := range b.DeleteGroups {
		delete(s.groups, id)
	}
	return s.log.append(b.clone()), nil
}

func (s *MemStore) applyAt(ctx context.Context, b Batch) (Position, error) {
	seq, err := s.Apply(ctx, b)
	return Position{Seq: seq}, err
}

// Head implements Store.
func (s *MemStore) Head(context.Context) (Position, error) { return s.log.head(), nil }

// Changes implements Store.
func (s *MemStore) Changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	return s.log.changes(ctx, after, limit, wait)
}

// GetContact implements Store.
func (s *MemStore) GetContact(_ context.Context, id string) (Contact, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.contacts[id]
	if !ok {
		return Contact{}, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	return cloneContact(c), nil
}

// ForEachContact implements Store.
func (s *MemStore) ForEachContact(ctx context.Context, fn func(Contact) error) error {
	s.mu.RLock()
	all := slices.Collect(maps.Values(s.contacts))
	s.mu.RUnlock()
	for _, c := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(cloneContact(c)); err != nil {
			return err
		}
	}
	return nil
}

// GetUser implements Store.
func (s *MemStore) GetUser(_ context.Context, aor string) (accounts.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[aor]
	if !ok {
		return accounts.User{}, fmt.Errorf("user %s: %w", aor, ErrNotFound)
	}
	return u, nil
}

// ListUsers implements Store.
func (s *MemStore) ListUsers(context.Context) ([]accounts.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Collect(maps.Values(s.users))
	sort.Slice(out, func(i, j int) bool { return out[i].AOR() < out[j].AOR() })
	return out, nil
}

// ForEachMark implements Store.
func (s *MemStore) ForEachMark(_ context.Context, fn func(Mark) error) error {
	s.mu.RLock()
	all := slices.Collect(maps.Values(s.marks))
	s.mu.RUnlock()
	for _, m := range all {
		m.Groups = slices.Clone(m.Groups)
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ListGroups implements Store.
func (s *MemStore) ListGroups(context.Context) ([]Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := slices.Collect(maps.Values(s.groups))
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Close implements Store.
func (s *MemStore) Close() error { return nil }

// clone copies b deeply enough that the caller may reuse its slices.
func (b Batch) clone() Batch {
	b.Contacts = slices.Clone(b.Contacts)
	for i := range b.Contacts {
		b.Contacts[i].Contact = cloneContact(b.Contacts[i].Contact)
		// A copy may be applied again (a reload re-applies the changes
		// committed while it loaded), when the contact is in memory:
		// only the writer's own apply may rely on fresh.
		b.Contacts[i].fresh = false
	}
	b.DeleteContacts = slices.Clone(b.DeleteContacts)
	b.Users = slices.Clone(b.Users)
	b.DeleteUsers = slices.Clone(b.DeleteUsers)
	b.Marks = slices.Clone(b.Marks)
	for i := range b.Marks {
		b.Marks[i].Groups = slices.Clone(b.Marks[i].Groups)
	}
	b.Groups = slices.Clone(b.Groups)
	b.DeleteGroups = slices.Clone(b.DeleteGroups)
	b.Keys = slices.Clone(b.Keys)
	b.prep = nil
	return b
}

func cloneContact(c Contact) Contact {
	c.Phones = slices.Clone(c.Phones)
	c.Emails = slices.Clone(c.Emails)
	return c
}

// sortedMarkGroups returns groups deduplicated and sorted.
func sortedMarkGroups(groups []string) []string {
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out)
}
