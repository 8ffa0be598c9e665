package directory

import "slices"

// What indexes kept beside the Service (the caller-ID lookup in callerid)
// read of it: a snapshot walk over every live contact, a way to observe
// changes without displacing an existing observer, and the built-in marks
// of one user. None of them checks permissions: their callers answer
// only what a principal may see.

// ScanContacts calls fn with every live contact under the Service read
// lock. fn must copy what it keeps and must not call the Service.
func (s *Service) ScanContacts(fn func(c *Contact)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, d := range s.idx.docs.all() {
		if d.alive {
			c := d.contact(s.idx)
			fn(&c)
		}
	}
}

// AddChangeObserver chains fn after the observer already set with
// OnChange, so that wiring the caller-ID lookup does not silently unhook
// another consumer (the contact event publisher). A later OnChange call
// still replaces both.
func (s *Service) AddChangeObserver(fn func(ChangeEvent)) {
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

// BuiltinMarks reports which built-in groups owner put any of ids in.
// Shared groups are never built in, so only owner's own marks count.
func (s *Service) BuiltinMarks(owner string, ids []string) (vip, favorite, blocked bool) {
	if owner == "" || len(ids) == 0 {
		return false, false, false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	own := s.marks[owner]
	if own == nil {
		return false, false, false
	}
	for _, id := range ids {
		groups := own[id]
		vip = vip || slices.Contains(groups, GroupVIP)
		favorite = favorite || slices.Contains(groups, GroupFavorite)
		blocked = blocked || slices.Contains(groups, GroupBlocked)
	}
	return vip, favorite, blocked
}
