package directory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// Mark puts contact contactID in group groupID for p (on) or takes it out.
// Built-in and own groups are p's own marks and need contacts:personal;
// shared groups are domain-wide and need users:admin. A contact is never
// both Favorite-or-VIP and Blocked: such a request fails with ErrConflict.
func (s *Service) Mark(ctx context.Context, p accounts.Principal, contactID, groupID string, on bool) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	owner, cur, err := s.markTarget(p, contactID, groupID)
	if err != nil {
		return err
	}
	if on == slices.Contains(cur, groupID) {
		return nil
	}
	var next []string
	if on {
		if err := markConflict(cur, groupID); err != nil {
			return err
		}
		next = append(slices.Clone(cur), groupID)
	} else {
		next = slices.DeleteFunc(slices.Clone(cur), func(g string) bool { return g == groupID })
	}
	if err := s.commit(ctx, Batch{Marks: []Mark{{Owner: owner, ContactID: contactID, Groups: next}}}, p.User); err != nil {
		return fmt.Errorf("mark %s in %s: %w", contactID, groupID, err)
	}
	return nil
}

// markTarget checks that p may put contactID in groupID and returns the
// owner of the marks and the contact's current groups of that owner.
func (s *Service) markTarget(p accounts.Principal, contactID, groupID string) (string, []string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, err := s.visible(p, contactID); err != nil {
		return "", nil, err
	}
	owner, err := s.groupOwnerLocked(p, groupID)
	if err != nil {
		return "", nil, err
	}
	if strings.HasPrefix(owner, "@") {
		if !p.Has(accounts.ScopeUsersAdmin) {
			return "", nil, fmt.Errorf("shared group %s needs scope %s: %w", groupID, accounts.ScopeUsersAdmin, ErrForbidden)
		}
	} else if !p.Has(accounts.ScopePersonal) {
		return "", nil, fmt.Errorf("marks need scope %s: %w", accounts.ScopePersonal, ErrForbidden)
	}
	return owner, slices.Clone(s.marks[owner][contactID]), nil
}

// markConflict refuses adding groupID to a contact already in cur when
// that would make it both Favorite/VIP and Blocked.
func markConflict(cur []string, groupID string) error {
	switch groupID {
	case GroupFavorite, GroupVIP:
		if slices.Contains(cur, GroupBlocked) {
			return fmt.Errorf("contact is blocked and cannot also be %s; unblock it first: %w", groupID, ErrConflict)
		}
	case GroupBlocked:
		for _, g := range []string{GroupFavorite, GroupVIP} {
			if slices.Contains(cur, g) {
				return fmt.Errorf("contact is %s and cannot also be blocked; remove it from %s first: %w", g, g, ErrConflict)
			}
		}
	}
	return nil
}

// CreateGroup creates a named group owned by p.User.
func (s *Service) CreateGroup(ctx context.Context, p accounts.Principal, name string) (Group, error) {
	if p.User == "" || !p.Has(accounts.ScopePersonal) {
		return Group{}, fmt.Errorf("own groups need a user with scope %s: %w", accounts.ScopePersonal, ErrForbidden)
	}
	return s.createGroup(ctx, Group{ID: ownGroupID(p.User, name), Name: strings.TrimSpace(name), Owner: p.User})
}

// CreateSharedGroup creates a group shared by every user of domain. It
// needs users:admin; domain defaults to p's tenant, and only an operator
// key may name another one.
func (s *Service) CreateSharedGroup(ctx context.Context, p accounts.Principal, domain, name string) (Group, error) {
	if !p.Has(accounts.ScopeUsersAdmin) {
		return Group{}, fmt.Errorf("shared groups need scope %s: %w", accounts.ScopeUsersAdmin, ErrForbidden)
	}
	domain, err := tenantFor(p, domain, s.cfg.Domains)
	if err != nil {
		return Group{}, err
	}
	return s.createGroup(ctx, Group{ID: sharedGroupID(domain, name), Name: strings.TrimSpace(name), Domain: domain})
}

func (s *Service) createGroup(ctx context.Context, g Group) (Group, error) {
	if fe := checkGroupName(g.Name); fe != nil {
		return Group{}, fe
	}
	if isBuiltin(groupSlug(g.Name)) {
		return Group{}, fmt.Errorf("group %q is built in: %w", g.Name, ErrConflict)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	_, exists := s.groups[g.ID]
	s.mu.RUnlock()
	if exists {
		return Group{}, fmt.Errorf("group %q already exists: %w", g.Name, ErrConflict)
	}
	s.mu.RLock()
	err := s.checkGroupRoomLocked(g)
	s.mu.RUnlock()
	if err != nil {
		return Group{}, err
	}
	if err := s.commit(ctx, Batch{Groups: []Group{g}}, g.Owner); err != nil {
		return Group{}, fmt.Errorf("create group %s: %w", g.ID, err)
	}
	return g, nil
}

// ListGroups returns the groups p can use: the built-in ones and p's own
// groups (for users), and the shared groups of p's domain (all shared
// groups for users:admin), sorted by ID after the built-in ones.
func (s *Service) ListGroups(_ context.Context, p accounts.Principal) ([]Group, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []Group
	for id := range s.groups {
		if _, err := s.groupOwnerLocked(p, id); err == nil {
			out = append(out, s.groups[id])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if p.User != "" {
		out = append(slices.Clone(builtinGroups), out...)
	}
	return out, nil
}

// DeleteGroup deletes an own group (its owner) or a shared group
// (users:admin) and every membership in it. Built-in groups cannot go.
func (s *Service) DeleteGroup(ctx context.Context, p accounts.Principal, id string) error {
	if isBuiltin(id) {
		return fmt.Errorf("group %s is built in: %w", id, ErrForbidden)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.RLock()
	owner, err := s.groupOwnerLocked(p, id)
	if err == nil && strings.HasPrefix(owner, "@") && !p.Has(accounts.ScopeUsersAdmin) {
		err = fmt.Errorf("shared group %s needs scope %s: %w", id, accounts.ScopeUsersAdmin, ErrForbidden)
	}
	b := Batch{DeleteGroups: []string{id}}
	for cid, groups := range s.marks[owner] {
		if err == nil && slices.Contains(groups, id) {
			b.Marks = append(b.Marks, Mark{Owner: owner, ContactID: cid,
				Groups: slices.DeleteFunc(slices.Clone(groups), func(g string) bool { return g == id })})
		}
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if err := s.commit(ctx, b, p.User); err != nil {
		return fmt.Errorf("delete group %s: %w", id, err)
	}
	return nil
}
