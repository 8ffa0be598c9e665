package directory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Service is the directory: contacts, users, marks and groups, with every
// permission rule enforced from the Principal of each call. It is safe for
// concurrent use.
//
// Writes are serialised by the Service and applied to the Store before the
// index is updated, so the index never shows data the store lacks.
type Service struct {
	cfg   Config
	store Store
	log   zerolog.Logger
	now   func() time.Time

	mu       sync.RWMutex // guards the fields below
	idx      *index
	marks    map[string]map[string][]string // owner → contact ID → sorted group IDs
	groups   map[string]Group               // own and shared groups by ID
	users    map[string]User                // by AOR
	onChange func(ChangeEvent)
}

// ChangeOp is the kind of a contact change.
type ChangeOp string

// Contact change kinds.
const (
	ChangeCreated ChangeOp = "created"
	ChangeUpdated ChangeOp = "updated"
	ChangeDeleted ChangeOp = "deleted"
)

// ChangeEvent reports one committed contact change. Contact is the new
// state, or the last state for ChangeDeleted. Actor is the principal's
// User (empty for admin-only keys).
type ChangeEvent struct {
	Op      ChangeOp
	Contact Contact
	Actor   string
}

// Entry is a contact as seen by one principal: the contact plus the IDs of
// the groups that principal (and its domain's shared groups) put it in.
type Entry struct {
	Contact Contact  `json:"contact"`
	Marks   []string `json:"marks,omitempty"`
}

// DefaultMaxContactsPerUser bounds a user's personal contacts when
// Config.MaxContactsPerUser is 0.
const DefaultMaxContactsPerUser = 10000

// Config tunes a Service.
type Config struct {
	// Domains are the served SIP domains (tenants). Users, company
	// contacts and shared groups belong to one of them; the first is the
	// default domain that data written before tenants existed moves to.
	// Empty accepts any domain (tests).
	Domains []string
	// MaxContactsPerUser bounds each user's personal contacts; 0 means
	// DefaultMaxContactsPerUser, a negative value no limit.
	MaxContactsPerUser int
}

// New loads every contact, user, mark and group from store and builds the
// search index. The Service does not close store.
func New(ctx context.Context, store Store, cfg Config, log zerolog.Logger) (*Service, error) {
	s := &Service{
		cfg: cfg, store: store, log: log.With().Str("component", "directory").Logger(), now: time.Now,
		idx: newIndex(), marks: map[string]map[string][]string{},
		groups: map[string]Group{}, users: map[string]User{},
	}
	if err := migrateTenants(ctx, store, cfg.Domains, s.log); err != nil {
		return nil, err
	}
	err := store.ForEachContact(ctx, func(c Contact) error {
		s.idx.put(c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load contacts: %w", err)
	}
	s.idx.finish()
	err = store.ForEachMark(ctx, func(m Mark) error {
		s.setMarkLocked(m.Owner, m.ContactID, m.Groups)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load marks: %w", err)
	}
	groups, err := store.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("load groups: %w", err)
	}
	for _, g := range groups {
		s.groups[g.ID] = g
	}
	users, err := store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	for _, u := range users {
		s.users[u.AOR()] = u
	}
	s.log.Info().Int("contacts", len(s.idx.byID)).Int("users", len(users)).Msg("directory loaded")
	return s, nil
}

// OnChange sets the observer called after every committed contact change,
// outside the Service lock, in commit order. fn must not block for long.
// A nil fn removes the observer.
func (s *Service) OnChange(fn func(ChangeEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = fn
}

// commit applies b to the store and, on success, to the in-memory state.
// It must be called with s.mu held for writing. The returned events are
// delivered by emit once the lock is released.
func (s *Service) commit(ctx context.Context, b Batch) error {
	if b.empty() {
		return nil
	}
	if err := s.store.Apply(ctx, b); err != nil {
		return err
	}
	for _, d := range b.DeleteContacts {
		s.idx.remove(d.ID)
	}
	for _, w := range b.Contacts {
		s.idx.put(w.Contact)
	}
	s.idx.settle()
	for _, u := range b.Users {
		s.users[u.AOR()] = u
	}
	for _, aor := range b.DeleteUsers {
		delete(s.users, aor)
	}
	for _, m := range b.Marks {
		s.setMarkLocked(m.Owner, m.ContactID, m.Groups)
	}
	for _, g := range b.Groups {
		s.groups[g.ID] = g
	}
	for _, id := range b.DeleteGroups {
		delete(s.groups, id)
	}
	return nil
}

// emit delivers events to the observer. Call without s.mu held.
func (s *Service) emit(events []ChangeEvent) {
	s.mu.RLock()
	fn := s.onChange
	s.mu.RUnlock()
	if fn == nil {
		return
	}
	for _, e := range events {
		fn(e)
	}
}

func (s *Service) setMarkLocked(owner, contactID string, groups []string) {
	m := s.marks[owner]
	if len(groups) == 0 {
		if m != nil {
			delete(m, contactID)
			if len(m) == 0 {
				delete(s.marks, owner)
			}
		}
		return
	}
	if m == nil {
		m = map[string][]string{}
		s.marks[owner] = m
	}
	m[contactID] = sortedMarkGroups(groups)
}

// marksFor returns the group IDs p sees on contact id: its own marks plus
// the shared group membership of its domain.
func (s *Service) marksFor(p Principal, id string) []string {
	var out []string
	if p.User != "" {
		out = append(out, s.marks[p.User][id]...)
		out = append(out, s.marks[sharedOwner(p.domain())][id]...)
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func newID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return "c_" + hex.EncodeToString(b[:])
}

// visible returns the live contact id if p may read it, ErrNotFound for
// missing and hidden contacts, and ErrForbidden for company contacts
// without company:read.
func (s *Service) visible(p Principal, id string) (*doc, error) {
	d, ok := s.idx.get(id)
	if !ok {
		return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	if !p.canSee(&d.c) {
		if p.hidden(&d.c) {
			return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("read company contact %s: missing scope %s: %w", id, ScopeCompanyRead, ErrForbidden)
	}
	return d, nil
}

// canWrite checks that p may create, change or delete a contact of kind k.
func canWrite(p Principal, k Kind) error {
	switch k {
	case KindPersonal:
		if p.User == "" || !p.Has(ScopePersonal) {
			return fmt.Errorf("personal contacts need a user with scope %s: %w", ScopePersonal, ErrForbidden)
		}
	case KindCompany:
		if !p.Has(ScopeCompanyWrite) {
			return fmt.Errorf("company contacts need scope %s: %w", ScopeCompanyWrite, ErrForbidden)
		}
	case KindTeam:
		return fmt.Errorf("team contacts change only through user provisioning: %w", ErrForbidden)
	default:
		return &FieldError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q (want personal or company)", k)}
	}
	return nil
}

// Create stores a new personal or company contact and returns it with its
// ID, owner, times and version 1 set. Personal contacts belong to p.User;
// company contacts to p's tenant, or for an operator key to the c.Domain
// it names.
func (s *Service) Create(ctx context.Context, p Principal, c Contact) (Contact, error) {
	if err := canWrite(p, c.Kind); err != nil {
		return Contact{}, err
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return Contact{}, err
	}
	requested := c.Domain
	c.ID, c.Owner, c.Domain = newID(), "", ""
	if c.Kind == KindPersonal {
		c.Owner = p.User
	}
	if c.Kind == KindCompany {
		var err error
		if c.Domain, err = p.tenantFor(requested, s.cfg.Domains); err != nil {
			return Contact{}, err
		}
	}
	c.Created = s.now().UTC()
	c.Updated, c.Version = c.Created, 1
	s.mu.Lock()
	err := s.commit(ctx, Batch{Contacts: []ContactWrite{{Contact: c}}})
	s.mu.Unlock()
	if err != nil {
		return Contact{}, fmt.Errorf("create contact: %w", err)
	}
	s.emit([]ChangeEvent{{Op: ChangeCreated, Contact: c, Actor: p.User}})
	return cloneContact(c), nil
}

// Get returns contact id with p's marks.
func (s *Service) Get(_ context.Context, p Principal, id string) (Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, err := s.visible(p, id)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Contact: cloneContact(d.c), Marks: s.marksFor(p, id)}, nil
}

// Update replaces the editable fields of contact c.ID if its stored
// version is expectedVersion (else ErrVersionMismatch), and returns the new
// state. Kind and owner cannot change.
func (s *Service) Update(ctx context.Context, p Principal, c Contact, expectedVersion uint64) (Contact, error) {
	c.normalize()
	s.mu.Lock()
	d, err := s.visible(p, c.ID)
	if err == nil {
		err = canWrite(p, d.c.Kind)
	}
	if err == nil && c.Kind != "" && c.Kind != d.c.Kind {
		err = &FieldError{Field: "kind", Reason: "cannot change the kind of a contact"}
	}
	if err == nil {
		err = c.Validate()
	}
	if err == nil && d.c.Version != expectedVersion {
		err = fmt.Errorf("update contact %s: version is %d, not %d: %w", c.ID, d.c.Version, expectedVersion, ErrVersionMismatch)
	}
	if err != nil {
		s.mu.Unlock()
		return Contact{}, err
	}
	c.Kind, c.Owner, c.Domain, c.Created = d.c.Kind, d.c.Owner, d.c.Domain, d.c.Created
	c.Updated, c.Version = s.now().UTC(), expectedVersion+1
	err = s.commit(ctx, Batch{Contacts: []ContactWrite{{Contact: c, Expected: expectedVersion}}})
	s.mu.Unlock()
	if err != nil {
		return Contact{}, fmt.Errorf("update contact %s: %w", c.ID, err)
	}
	s.emit([]ChangeEvent{{Op: ChangeUpdated, Contact: c, Actor: p.User}})
	return cloneContact(c), nil
}

// Delete removes contact id if its stored version is expectedVersion, with
// every mark referencing it.
func (s *Service) Delete(ctx context.Context, p Principal, id string, expectedVersion uint64) error {
	s.mu.Lock()
	d, err := s.visible(p, id)
	if err == nil {
		err = canWrite(p, d.c.Kind)
	}
	if err == nil && d.c.Version != expectedVersion {
		err = fmt.Errorf("delete contact %s: version is %d, not %d: %w", id, d.c.Version, expectedVersion, ErrVersionMismatch)
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	old := d.c
	b := Batch{DeleteContacts: []ContactDelete{{ID: id, Expected: expectedVersion}}, Marks: s.marksOfContactLocked(id)}
	err = s.commit(ctx, b)
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete contact %s: %w", id, err)
	}
	s.emit([]ChangeEvent{{Op: ChangeDeleted, Contact: old, Actor: p.User}})
	return nil
}

// marksOfContactLocked returns removals of every mark on contact id.
func (s *Service) marksOfContactLocked(id string) []Mark {
	var out []Mark
	for owner, m := range s.marks {
		if _, ok := m[id]; ok {
			out = append(out, Mark{Owner: owner, ContactID: id})
		}
	}
	return out
}

// ForEachNumber calls fn with every phone number (as digits) of every
// contact p may resolve for caller ID, until fn returns false. It needs
// scope lookup, which covers team and company contacts of p's tenant; p's own personal
// contacts are included when p holds contacts:personal. fn runs under the
// Service read lock and must not call the Service.
func (s *Service) ForEachNumber(ctx context.Context, p Principal, fn func(digits string, c Contact) bool) error {
	if !p.Has(ScopeLookup) {
		return fmt.Errorf("number lookup needs scope %s: %w", ScopeLookup, ErrForbidden)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for n, d := range s.idx.docs {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !d.alive || (d.c.Kind == KindPersonal && !p.canSee(&d.c)) || (d.c.Kind != KindPersonal && !p.InTenant(d.c.Domain)) {
			continue
		}
		for _, dg := range d.digits {
			if !fn(dg, d.c) {
				return nil
			}
		}
	}
	return nil
}
