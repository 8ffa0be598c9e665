package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
)

// Following the change log. Every instance applies every change, its own
// included, from the store's log in sequence order: the writer right after
// its Apply (syncTo), and Run for changes made elsewhere. A gap (the log
// was trimmed past this instance, or the store was reset) triggers a full
// reload, whose differences are reported as change events so that
// observers such as the caller-ID index stay in step.

// Follow tuning.
const (
	followBatch = 16                    // changes fetched per read
	followWait  = time.Second           // how long one read waits for a change (also bounds how long Run takes to stop)
	maxBackoff  = time.Second           // between reads while the store fails
	writerGrace = 50 * time.Millisecond // how long Run leaves an own change to its writer per look
)

// state is everything the Service keeps in memory.
type state struct {
	idx    *index
	dups   *dupIndex
	marks  map[string]map[string][]string
	groups map[string]Group
	users  map[string]accounts.User
	pos    Position
}

// load reads the whole store. The log head is read first: changes
// committed during the load are applied again afterwards, which is
// harmless because applying a change sets state rather than adjusting it.
func (s *Service) load(ctx context.Context) (state, error) {
	st := state{idx: newIndex(), dups: newDupIndex(), marks: map[string]map[string][]string{}, groups: map[string]Group{}, users: map[string]accounts.User{}}
	var err error
	if st.pos, err = s.store.Head(ctx); err != nil {
		return st, fmt.Errorf("read change log head: %w", err)
	}
	err = s.store.ForEachContact(ctx, func(c Contact) error {
		st.idx.put(c)
		st.dups.add(&c)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("load contacts: %w", err)
	}
	st.idx.finish()
	st.dups.first.Compact()
	err = s.store.ForEachMark(ctx, func(m Mark) error {
		setMark(st.marks, m.Owner, m.ContactID, m.Groups)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("load marks: %w", err)
	}
	groups, err := s.store.ListGroups(ctx)
	if err != nil {
		return st, fmt.Errorf("load groups: %w", err)
	}
	for _, g := range groups {
		st.groups[g.ID] = g
	}
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return st, fmt.Errorf("load users: %w", err)
	}
	for _, u := range users {
		st.users[u.AOR()] = u
	}
	return st, nil
}

// Run follows the change log until ctx ends, applying changes other
// instances commit, and reloading when it finds a gap. While the store is
// unreachable it retries with backoff; it returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	backoff := 50 * time.Millisecond
	failing := false
	for ctx.Err() == nil {
		s.amu.Lock()
		pos := s.pos
		s.amu.Unlock()
		chs, err := s.changes(ctx, pos, followBatch, followWait)
		if err == nil && s.leaveToWriter(ctx, pos, chs) {
			continue
		}
		done := delivered
		if err == nil && len(chs) > 0 {
			s.amu.Lock()
			err = s.applyLocked(chs)
			done = s.emitted
			s.amu.Unlock()
		}
		if errors.Is(err, ErrGap) {
			s.amu.Lock()
			err = s.reloadLocked(ctx, err)
			done = s.emitted
			s.amu.Unlock()
		}
		<-done
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			if !failing {
				s.log.Warn().Err(err).Msg("follow directory changes: retrying")
			}
			failing = true
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
		default:
			if failing {
				s.log.Info().Uint64("seq", pos.Seq).Msg("directory changes followed again")
			}
			failing, backoff = false, 50*time.Millisecond
		}
	}
	return nil
}

// lazyStore is a Store that can read changes without decoding them
// (Change.decode does when they are applied).
type lazyStore interface {
	lazyChanges(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error)
}

var _ lazyStore = (*RedisStore)(nil)

// changes reads the log after pos, undecoded where the store can.
func (s *Service) changes(ctx context.Context, after Position, limit int, wait time.Duration) ([]Change, error) {
	if ls, ok := s.store.(lazyStore); ok {
		return ls.lazyChanges(ctx, after, limit, wait)
	}
	return s.store.Changes(ctx, after, limit, wait)
}

// leaveToWriter reports whether the next change in chs is this
// instance's own, written by a writer that has yet to apply it, after
// waiting a little for that writer to do so. The writer holds the batch
// decoded and, for an import, prepared; applied here it would be prepared
// again (and the writer's work thrown away). If the writer cannot apply
// it (its apply found the log out of turn), the writer syncs the log
// itself, so waiting never stalls the log.
func (s *Service) leaveToWriter(ctx context.Context, pos Position, chs []Change) bool {
	i := 0
	for i < len(chs) && chs[i].Seq <= pos.Seq {
		i++
	}
	if i == len(chs) || chs[i].Batch.Origin != s.origin || s.writing.Load() == 0 {
		return false
	}
	s.amu.Lock()
	advanced, moved := s.advanced, s.pos != pos
	s.amu.Unlock()
	if moved {
		return true
	}
	t := time.NewTimer(writerGrace)
	defer t.Stop()
	select {
	case <-advanced:
	case <-t.C:
	case <-ctx.Done():
	}
	return true
}

// syncTo applies the log up to seq at least. It returns the channel closed
// once the events applied are delivered.
func (s *Service) syncTo(ctx context.Context, seq uint64) (chan struct{}, error) {
	s.amu.Lock()
	defer s.amu.Unlock()
	for s.pos.Seq < seq {
		// The change is committed, so the log has it; a short wait
		// covers a replica or a reader racing the append.
		chs, err := s.changes(ctx, s.pos, followBatch, 100*time.Millisecond)
		if err == nil && len(chs) == 0 {
			err = fmt.Errorf("change %d not in the log yet", seq)
		}
		if err == nil {
			err = s.applyLocked(chs)
		}
		if errors.Is(err, ErrGap) {
			err = s.reloadLocked(ctx, err)
		}
		if err != nil {
			return s.emitted, err
		}
	}
	return s.emitted, nil
}

// applyLocked applies the changes in chs that are newer than s.pos. The
// caller holds amu.
func (s *Service) applyLocked(chs []Change) error {
	for i := range chs {
		ch := &chs[i]
		if ch.Seq <= s.pos.Seq {
			continue
		}
		if ch.Seq != s.pos.Seq+1 {
			return fmt.Errorf("change %d after %d: %w", ch.Seq, s.pos.Seq, ErrGap)
		}
		if err := ch.decode(); err != nil {
			return err
		}
		events := s.applyBatch(&ch.Batch)
		s.pos = ch.after()
		s.emit(events)
	}
	return nil
}

// applyChunk is how many contacts are applied per hold of the write lock:
// a 2,000-row import batch applied in one hold would stall every reader
// (caller-ID lookups included) for milliseconds. Readers may see a batch
// half applied; its contacts are independent rows, and the users, marks
// and groups of the batch are applied together at the end.
const applyChunk = 16

// applyBatch sets the in-memory state to what b wrote and returns the
// contact events. It takes mu for writing in short holds.
func (s *Service) applyBatch(b *Batch) []ChangeEvent {
	local := b.Origin == s.origin
	events := make([]ChangeEvent, 0, len(b.Contacts)+len(b.DeleteContacts))
	for i := 0; i < len(b.DeleteContacts); i += applyChunk {
		s.mu.Lock()
		for _, d := range b.DeleteContacts[i:min(i+applyChunk, len(b.DeleteContacts))] {
			if old, ok := s.idx.get(d.ID); ok {
				oc := old.contact(s.idx)
				events = append(events, ChangeEvent{Op: ChangeDeleted, Contact: oc, Actor: b.Actor, Local: local})
				s.dups.remove(&oc)
				s.idx.remove(d.ID)
			}
		}
		s.idx.settle()
		s.mu.Unlock()
		s.mergeMaps()
	}
	// What a contact alone decides (its doc bytes, tokens, duplicate
	// key hashes) is computed before taking mu, so readers wait only for
	// the index's own updates. amu is held: the scratch is ours.
	prep := &s.prep
	given := len(b.prep) == len(b.Contacts) // prepared by the importer
	var y yielder
	for i := 0; i < len(b.Contacts); i += applyChunk {
		chunk := b.Contacts[i:min(i+applyChunk, len(b.Contacts))]
		docs := prep.docs[:len(chunk)]
		if given {
			docs = b.prep[i : i+len(chunk)]
		}
		for j := range chunk {
			c := &chunk[j].Contact
			if !given {
				prepare(c, &docs[j])
			}
			docs[j].fresh = chunk[j].fresh && chunk[j].Expected == 0
			if given && docs[j].haveKeys {
				prep.dups[j] = s.dups.hashKeys(dupScope(c), docs[j].keys, prep.dups[j][:0])
			} else {
				prep.dups[j] = s.dups.keyHashes(c, prep.dups[j][:0])
			}
		}
		s.mu.Lock()
		for j, w := range chunk {
			op := ChangeCreated
			if !docs[j].fresh { // a fresh ID is in no doc: no need to look
				if old, ok := s.idx.get(w.Contact.ID); ok {
					op = ChangeUpdated
					oc := old.contact(s.idx)
					s.dups.remove(&oc)
				}
			}
			c := cloneContact(w.Contact)
			s.idx.putPrepared(&c, &docs[j])
			s.dups.addHashes(c.ID, prep.dups[j])
			events = append(events, ChangeEvent{Op: op, Contact: c, Actor: b.Actor, Local: local})
		}
		s.idx.settle()
		s.mu.Unlock()
		s.mergeMaps()
		y.maybe() // let the readers queued on mu run between chunks
	}
	s.mu.Lock()
	onKey := s.onKey
	defer func() {
		s.mu.Unlock()
		if onKey != nil {
			for _, id := range b.Keys {
				onKey(id)
			}
		}
	}()
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
	return events
}

// mergeMaps merges the index's contact-ID map and the duplicate index
// when they need it, building the merge without mu so that readers wait
// only for its install (a merge at a million contacts takes tens of
// milliseconds). Call with amu held (appliers alone write them), not mu.
func (s *Service) mergeMaps() {
	s.idx.byID.byHash.MergeUnder(&s.mu)
	s.dups.first.MergeUnder(&s.mu)
}

// reloadLocked replaces the in-memory state with a fresh load of the store
// and reports the contact differences as events. The caller holds amu;
// readers keep the old state until the swap.
func (s *Service) reloadLocked(ctx context.Context, cause error) error {
	s.log.Warn().Err(cause).Uint64("seq", s.pos.Seq).Msg("directory change log gap: reloading from the store")
	st, err := s.load(ctx)
	if err != nil {
		return fmt.Errorf("reload directory: %w", err)
	}
	s.mu.Lock()
	old := s.idx
	s.idx, s.dups, s.marks, s.groups, s.users = st.idx, st.dups, st.marks, st.groups, st.users
	s.mu.Unlock()
	s.pos = st.pos
	s.emit(diffIndex(old, st.idx))
	s.log.Info().Int("contacts", st.idx.len()).Uint64("seq", st.pos.Seq).Msg("directory reloaded")
	return nil
}

// diffIndex returns the events that turn the contacts of old into those of
// cur. Neither index may change meanwhile.
func diffIndex(old, cur *index) []ChangeEvent {
	var events []ChangeEvent
	for _, d := range cur.docs.all() {
		if !d.alive {
			continue
		}
		c := d.contact(cur)
		o, ok := old.get(c.ID)
		switch {
		case !ok:
			events = append(events, ChangeEvent{Op: ChangeCreated, Contact: c})
		case o.contact(old).Version != c.Version || !o.contact(old).Updated.Equal(c.Updated):
			events = append(events, ChangeEvent{Op: ChangeUpdated, Contact: c})
		}
	}
	for _, d := range old.docs.all() {
		if d.alive {
			if _, ok := cur.get(d.idView(old)); !ok {
				events = append(events, ChangeEvent{Op: ChangeDeleted, Contact: d.contact(old)})
			}
		}
	}
	return events
}

// Position returns the newest change this Service has applied.
func (s *Service) Position() Position {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.pos
}
