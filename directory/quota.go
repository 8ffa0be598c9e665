package directory

import (
	"fmt"
	"math"
)

// maxPersonal returns the personal contact quota per user, or -1 for none.
func (s *Service) maxPersonal() int {
	switch n := s.cfg.MaxContactsPerUser; {
	case n == 0:
		return DefaultMaxContactsPerUser
	case n < 0:
		return -1
	default:
		return n
	}
}

// personalCountLocked counts owner's live personal contacts in the index.
// Call with s.mu held.
func (s *Service) personalCountLocked(owner string) int {
	n := 0
	for _, id := range s.idx.owners[owner] {
		if s.idx.docs.at(id).alive {
			n++
		}
	}
	return n
}

// personalRoomLocked returns how many more personal contacts owner may
// create: math.MaxInt without a quota. An import calls it at the start of
// each batch (committed batches are in the index) and counts down.
// Call with s.mu held.
func (s *Service) personalRoomLocked(owner string) int {
	limit := s.maxPersonal()
	if limit < 0 {
		return math.MaxInt
	}
	return max(0, limit-s.personalCountLocked(owner))
}

// quotaReason says why a personal contact cannot be created.
func (s *Service) quotaReason() string {
	return fmt.Sprintf("personal contact limit of %d reached; delete contacts first or ask the administrator to raise --max-contacts-per-user", s.maxPersonal())
}

// checkQuotaLocked returns ErrQuotaExceeded when creating c would take its
// owner past the personal contact quota. Call with s.mu held.
func (s *Service) checkQuotaLocked(c Contact) error {
	if c.Kind != KindPersonal || s.personalRoomLocked(c.Owner) > 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", s.quotaReason(), ErrQuotaExceeded)
}

// checkGroupRoomLocked returns ErrQuotaExceeded when g would be one group
// too many for its owner (own groups) or domain (shared groups).
// Call with s.mu held.
func (s *Service) checkGroupRoomLocked(g Group) error {
	n := 0
	for _, o := range s.groups {
		if (g.Owner != "" && o.Owner == g.Owner) || (g.Domain != "" && o.Domain == g.Domain) {
			n++
		}
	}
	if n >= MaxGroupsPerOwner {
		return fmt.Errorf("group limit of %d reached; delete groups first: %w", MaxGroupsPerOwner, ErrQuotaExceeded)
	}
	return nil
}
