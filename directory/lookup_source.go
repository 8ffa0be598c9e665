package directory

import "slices"

// This file holds the small unexported accessors the caller-ID Lookup
// needs of the Service: a snapshot walk over every live contact, a way to
// observe changes without displacing an existing observer, and the
// built-in marks of one user.

// lookupSnapshot calls fn with every live contact under the Service read
// lock. fn must copy what it keeps and must not call the Service.
func (s *Service) lookupSnapshot(fn func(c *Contact)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range s.idx.docs {
		if d.alive {
			fn(&d.c)
		}
	}
}

// addChangeObserver chains fn after the observer already set with
// OnChange, so that wiring the Lookup does not silently unhook another
// consumer (the contact event publisher). A later OnChange call still
// replaces both.
func (s *Service) addChangeObserver(fn func(ChangeEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.onChange
	if prev == nil {
		s.onChange = fn
		return
	}
	s.onChange = func(e ChangeEvent) {
		prev(e)
		fn(e)
	}
}

// builtinMarks reports which built-in groups owner put any of ids in.
// Shared groups are never built in, so only owner's own marks count.
func (s *Service) builtinMarks(owner string, ids []string) (m LookupMarks) {
	if owner == "" || len(ids) == 0 {
		return m
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	own := s.marks[owner]
	if own == nil {
		return m
	}
	for _, id := range ids {
		groups := own[id]
		m.VIP = m.VIP || slices.Contains(groups, GroupVIP)
		m.Favorite = m.Favorite || slices.Contains(groups, GroupFavorite)
		m.Blocked = m.Blocked || slices.Contains(groups, GroupBlocked)
	}
	return m
}
