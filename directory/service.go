package directory

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
)

// Service is the directory: contacts, users, marks and groups, with every
// permission rule enforced from the Principal of each call. It is safe for
// concurrent use.
//
// The store is the authority; the Service's in-memory state (search index,
// users, marks, groups) is a cache that follows the store's change log.
// Every change, this instance's own included, reaches that state the same
// way: applied from the log in sequence order (see apply.go). A write goes
// to the store first, then waits until the log has been applied up to it,
// so a caller reads its own writes.
//
// Lock order: wmu, then amu, then mu. Readers take only mu, for reading,
// and never wait on store I/O: mu is held for writing only while one
// logged change is applied in memory.
type Service struct {
	cfg    Config
	store  Store
	log    zerolog.Logger
	now    func() time.Time
	origin string // random per Service: tells this instance's changes apart in the log

	wmu sync.Mutex // serialises this instance's writers (validation through commit)

	amu     sync.Mutex    // guards pos, emitted and advanced; held while changes are fetched and applied
	pos     Position      // the newest change applied
	emitted chan struct{} // closed once the events of pos are delivered (see emitter)
	// advanced is closed (and replaced) when a writer applies its own
	// batch; writing counts this instance's batches between their store
	// write and their apply. Run leaves such a batch to its writer, which
	// holds it decoded and prepared.
	advanced chan struct{}
	writing  atomic.Int32
	emitter  emitter
	prep     struct { // applyBatch's scratch, guarded by amu
		docs [applyChunk]prepared
		dups [applyChunk][]uint64
	}

	mu       sync.RWMutex // guards the fields below
	idx      *index
	dups     *dupIndex                      // the import's duplicate keys of idx's contacts
	marks    map[string]map[string][]string // owner → contact ID → sorted group IDs
	groups   map[string]Group               // own and shared groups by ID
	users    map[string]accounts.User       // by AOR
	onChange func(ChangeEvent)
	onKey    func(id string)
}

// ChangeOp is the kind of a contact change.
type ChangeOp string

// Contact change kinds.
const (
	ChangeCreated ChangeOp = "created"
	ChangeUpdated ChangeOp = "updated"
	ChangeDeleted ChangeOp = "deleted"
)

// ChangeEvent reports one applied contact change, whichever instance made
// it. Contact is the new state, or the last state for ChangeDeleted. Actor
// is the principal's User (empty for admin-only keys). Local is true for
// changes this Service wrote.
type ChangeEvent struct {
	Op      ChangeOp
	Contact Contact
	Actor   string
	Local   bool
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
// search index. Run must then follow the store's change log for changes
// other instances make. The Service does not close store.
func New(ctx context.Context, store Store, cfg Config, log zerolog.Logger) (*Service, error) {
	s := &Service{
		cfg: cfg, store: store, log: log.With().Str("component", "directory").Logger(), now: time.Now,
		origin: newID()[2:], emitted: delivered, advanced: make(chan struct{}),
	}
	if err := migrateTenants(ctx, store, cfg.Domains, s.log); err != nil {
		return nil, err
	}
	st, err := s.load(ctx)
	if err != nil {
		return nil, err
	}
	s.idx, s.dups, s.marks, s.groups, s.users, s.pos = st.idx, st.dups, st.marks, st.groups, st.users, st.pos
	s.log.Info().Int("contacts", s.idx.len()).Int("users", len(s.users)).Uint64("seq", s.pos.Seq).Msg("directory loaded")
	return s, nil
}

// OnChange sets the observer called after every applied contact change,
// in log order, outside the Service lock. fn must not block for long and
// must not write to the Service. A nil fn removes the observer.
func (s *Service) OnChange(fn func(ChangeEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onChange = fn
}

// OnKeyChange sets the observer of API key changes read from the change
// log (see KeyChanged), called outside the Service lock. A nil fn removes
// it.
func (s *Service) OnKeyChange(fn func(id string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onKey = fn
}

// KeyChanged records in the change log that API key id changed in the key
// store (it was revoked), so that every instance drops its cached copy at
// once instead of after KeyCacheTTL. A failure is logged: the revocation
// itself is done, and caches still expire.
func (s *Service) KeyChanged(ctx context.Context, id string) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.commit(ctx, Batch{Keys: []string{id}}, ""); err != nil {
		s.log.Warn().Err(err).Str("key", id).Msg("announce api key change; other instances notice within the cache time")
	}
}

// positionedStore is a Store whose Apply can also return the position of
// the change in the log.
type positionedStore interface {
	applyAt(ctx context.Context, b Batch) (Position, error)
}

var (
	_ positionedStore = (*RedisStore)(nil)
	_ positionedStore = (*BoltStore)(nil)
	_ positionedStore = (*MemStore)(nil)
)

// commit writes b to the store and waits until the change log is applied
// up to it and its events are delivered. Callers hold wmu, never mu. A
// store error leaves nothing written; once the store has the batch,
// commit succeeds even if applying it is delayed (the follower catches
// up).
func (s *Service) commit(ctx context.Context, b Batch, actor string) error {
	done, err := s.commitQueued(ctx, b, actor)
	<-done
	return err
}

// commitQueued is commit returning once b is applied in memory, with the
// channel closed when its events are delivered: an import writes its next
// batch meanwhile.
func (s *Service) commitQueued(ctx context.Context, b Batch, actor string) (chan struct{}, error) {
	w, err := s.writeQueued(ctx, &b, actor)
	if err != nil || w.empty {
		return delivered, err
	}
	return s.applyQueued(ctx, &b, w), nil
}

// written is where writeQueued stored a batch.
type written struct {
	pos        Position
	positioned bool // pos is the batch's own (positionedStore): it may be applied as written
	empty      bool // nothing was written
}

// writeQueued is commitQueued's store write. Call with wmu held.
func (s *Service) writeQueued(ctx context.Context, b *Batch, actor string) (written, error) {
	if b.empty() {
		return written{empty: true}, nil
	}
	b.Actor, b.Origin = actor, s.origin
	s.writing.Add(1) // until applyQueued
	var w written
	var err error
	if pa, ok := s.store.(positionedStore); ok {
		w.pos, err = pa.applyAt(ctx, *b)
		w.positioned = true
	} else {
		w.pos.Seq, err = s.store.Apply(ctx, *b)
	}
	if err != nil {
		s.writing.Add(-1)
	}
	return w, err
}

// applyQueued is commitQueued's in-memory apply of b, stored as w. It
// needs no lock held: a writer that stored a later batch meanwhile finds
// its own apply out of turn and waits for the follower instead.
func (s *Service) applyQueued(ctx context.Context, b *Batch, w written) chan struct{} {
	defer s.writing.Add(-1)
	if w.positioned {
		// Next in line: apply b as written, rather than read it back
		// from the log (for Redis, a round trip and the decoding of a
		// whole import batch).
		s.amu.Lock()
		if s.pos.Seq+1 == w.pos.Seq {
			events := s.applyBatch(b)
			s.pos = w.pos
			s.emit(events)
			close(s.advanced)
			s.advanced = make(chan struct{})
			done := s.emitted
			s.amu.Unlock()
			return done
		}
		s.amu.Unlock()
	}
	done, err := s.syncTo(context.WithoutCancel(ctx), w.pos.Seq)
	if err != nil {
		s.log.Warn().Err(err).Uint64("seq", w.pos.Seq).Msg("change written but not applied yet; the follower will catch up")
	}
	return done
}

// emit queues events for the observer. Call with amu held (so events
// keep log order) and without mu; wait on s.emitted after releasing amu.
func (s *Service) emit(events []ChangeEvent) {
	if len(events) == 0 {
		return
	}
	s.mu.RLock()
	fn := s.onChange
	s.mu.RUnlock()
	if done := s.emitter.push(fn, events); done != delivered {
		s.emitted = done
	}
}

func (s *Service) setMarkLocked(owner, contactID string, groups []string) {
	setMark(s.marks, owner, contactID, groups)
}

func setMark(marks map[string]map[string][]string, owner, contactID string, groups []string) {
	m := marks[owner]
	if len(groups) == 0 {
		if m != nil {
			delete(m, contactID)
			if len(m) == 0 {
				delete(marks, owner)
			}
		}
		return
	}
	if m == nil {
		m = map[string][]string{}
		marks[owner] = m
	}
	m[contactID] = sortedMarkGroups(groups)
}

// marksFor returns the group IDs p sees on contact id: its own marks plus
// the shared group membership of its domain. An administrator (users:admin)
// manages shared groups, so it sees their membership in its tenant, or in
// the contact's domain for an operator key. Call with s.mu held.
func (s *Service) marksFor(p accounts.Principal, id string) []string {
	var out []string
	if p.User != "" {
		out = append(out, s.marks[p.User][id]...)
		out = append(out, s.marks[sharedOwner(p.Tenant())][id]...)
	}
	if p.Has(accounts.ScopeUsersAdmin) {
		// Shared groups of a domain hold contacts its users see: those of
		// that domain.
		d := p.Tenant()
		if dc, ok := s.idx.get(id); ok && p.Operator() {
			d = dc.domain(s.idx)
		}
		if d != "" && (p.User == "" || d != p.Tenant()) {
			out = append(out, s.marks[sharedOwner(d)][id]...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// newID returns a new contact ID: "c_", the time in milliseconds (6
// bytes) and 10 random bytes, in hex. IDs made later sort later, so an
// import appends to the end of the bolt B+tree instead of rewriting a
// random page of it per contact; the random part keeps them unique across
// instances.
func newID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return "c_" + hex.EncodeToString(b[:])
}

// visible returns the live contact id if p may read it, ErrNotFound for
// missing and hidden contacts, and ErrForbidden for company contacts
// without company:read.
func (s *Service) visible(p accounts.Principal, id string) (*doc, error) {
	d, ok := s.idx.get(id)
	if !ok {
		return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
	}
	c := d.contact(s.idx)
	if !canSee(p, &c) {
		if hidden(p, &c) {
			return nil, fmt.Errorf("contact %s: %w", id, ErrNotFound)
		}
		return nil, fmt.Errorf("read company contact %s: missing scope %s: %w", id, accounts.ScopeCompanyRead, ErrForbidden)
	}
	return d, nil
}

// canWrite checks that p may create, change or delete a contact of kind k.
func canWrite(p accounts.Principal, k Kind) error {
	switch k {
	case KindPersonal:
		if p.User == "" || !p.Has(accounts.ScopePersonal) {
			return fmt.Errorf("personal contacts need a user with scope %s: %w", accounts.ScopePersonal, ErrForbidden)
		}
	case KindCompany:
		if !p.Has(accounts.ScopeCompanyWrite) {
			return fmt.Errorf("company contacts need scope %s: %w", accounts.ScopeCompanyWrite, ErrForbidden)
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
func (s *Service) Create(ctx context.Context, p accounts.Principal, c Contact) (Contact, error) {
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
		if c.Domain, err = tenantFor(p, requested, s.cfg.Domains); err != nil {
			return Contact{}, err
		}
	}
	c.Created = s.now().UTC()
	c.Updated, c.Version = c.Created, 1
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	err := s.checkQuotaLocked(c)
	s.mu.RUnlock()
	if err == nil {
		err = s.commit(ctx, Batch{Contacts: []ContactWrite{{Contact: c, fresh: true}}}, p.User)
	}
	if err != nil {
		return Contact{}, fmt.Errorf("create contact: %w", err)
	}
	return cloneContact(c), nil
}

// Get returns contact id with p's marks.
func (s *Service) Get(_ context.Context, p accounts.Principal, id string) (Entry, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, err := s.visible(p, id)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Contact: d.contact(s.idx), Marks: s.marksFor(p, id)}, nil
}

// Update replaces the editable fields of contact c.ID if its stored
// version is expectedVersion (else ErrVersionMismatch), and returns the new
// state. Kind and owner cannot change.
func (s *Service) Update(ctx context.Context, p accounts.Principal, c Contact, expectedVersion uint64) (Contact, error) {
	c.normalize()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	d, err := s.visible(p, c.ID)
	var cur Contact
	if err == nil {
		cur = d.contact(s.idx)
	}
	s.mu.RUnlock()
	if err == nil {
		err = canWrite(p, cur.Kind)
	}
	if err == nil && c.Kind != "" && c.Kind != cur.Kind {
		err = &FieldError{Field: "kind", Reason: "cannot change the kind of a contact"}
	}
	if err == nil {
		err = c.Validate()
	}
	if err == nil && cur.Version != expectedVersion {
		err = fmt.Errorf("update contact %s: version is %d, not %d: %w", c.ID, cur.Version, expectedVersion, ErrVersionMismatch)
	}
	if err != nil {
		return Contact{}, err
	}
	c.Kind, c.Owner, c.Domain, c.Created = cur.Kind, cur.Owner, cur.Domain, cur.Created
	c.Updated, c.Version = s.now().UTC(), expectedVersion+1
	// The store compares versions again: another instance may have
	// written in between.
	if err := s.commit(ctx, Batch{Contacts: []ContactWrite{{Contact: c, Expected: expectedVersion}}}, p.User); err != nil {
		return Contact{}, fmt.Errorf("update contact %s: %w", c.ID, err)
	}
	return cloneContact(c), nil
}

// Delete removes contact id if its stored version is expectedVersion, with
// every mark referencing it.
func (s *Service) Delete(ctx context.Context, p accounts.Principal, id string, expectedVersion uint64) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	d, err := s.visible(p, id)
	var b Batch
	var cur Contact
	if err == nil {
		cur = d.contact(s.idx)
		err = canWrite(p, cur.Kind)
	}
	if err == nil && cur.Version != expectedVersion {
		err = fmt.Errorf("delete contact %s: version is %d, not %d: %w", id, cur.Version, expectedVersion, ErrVersionMismatch)
	}
	if err == nil {
		b = Batch{DeleteContacts: []ContactDelete{{ID: id, Expected: expectedVersion}}, Marks: s.marksOfContactLocked(id)}
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := s.commit(ctx, b, p.User); err != nil {
		return fmt.Errorf("delete contact %s: %w", id, err)
	}
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
func (s *Service) ForEachNumber(ctx context.Context, p accounts.Principal, fn func(digits string, c Contact) bool) error {
	if !p.Has(accounts.ScopeLookup) {
		return fmt.Errorf("number lookup needs scope %s: %w", accounts.ScopeLookup, ErrForbidden)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for n, id := range s.idx.tenantDocs(p) {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		d := s.idx.docs.at(id)
		if !d.alive {
			continue
		}
		c := d.contact(s.idx)
		if (c.Kind == KindPersonal && !canSee(p, &c)) || (c.Kind != KindPersonal && !p.InTenant(c.Domain)) {
			continue
		}
		t := d.text(s.idx)
		for _, dg := range strings.Split(t[strings.IndexByte(t, 1)+1:], "\x00") {
			if dg != "" && !fn(dg, c) {
				return nil
			}
		}
	}
	return nil
}
