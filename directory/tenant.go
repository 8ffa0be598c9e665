package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/rs/zerolog"
)

// Tenants: every company contact, shared group, team contact and user
// belongs to one SIP domain. Stores written before tenants existed hold
// company contacts without a domain and may hold shared groups without
// one; migrateTenants moves them to the default domain when a Service
// starts.

// migrateBatch bounds the contacts moved per store batch.
const migrateBatch = 1000

// migrateAttempts bounds the rescans after losing a race to another
// instance migrating the same store.
const migrateAttempts = 5

// migrateTenants moves company contacts without a domain, and shared
// groups without a domain with their memberships, to the default domain. It reads and
// writes the store only, so it must run before the Service builds its
// state from it. Each contact write is compare-and-swap on its version:
// instances starting together on one Redis move each contact once, and
// the loser of a race rescans and finds less to move. domain is the
// default (first) of the served domains; none configured does nothing.
func migrateTenants(ctx context.Context, store Store, served []string, log zerolog.Logger) error {
	if len(served) == 0 {
		return nil
	}
	domain := served[0]
	moved := 0
	for attempt := 1; ; attempt++ {
		n, err := migrateContacts(ctx, store, domain)
		moved += n
		if err == nil {
			break
		}
		if !errors.Is(err, ErrVersionMismatch) || attempt == migrateAttempts {
			return fmt.Errorf("move company contacts to %s: %w", domain, err)
		}
	}
	groups, err := migrateSharedGroups(ctx, store, domain)
	if err != nil {
		return fmt.Errorf("move shared groups to %s: %w", domain, err)
	}
	if moved > 0 || groups > 0 {
		log.Info().Str("domain", domain).Int("company_contacts", moved).Int("shared_groups", groups).
			Msg("moved data without a tenant to the default domain")
	}
	return nil
}

// migrateContacts moves every company contact without a domain to
// domain, returning how many it moved.
func migrateContacts(ctx context.Context, store Store, domain string) (int, error) {
	var todo []Contact
	err := store.ForEachContact(ctx, func(c Contact) error {
		if c.Kind == KindCompany && c.Domain == "" {
			todo = append(todo, c)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	moved := 0
	for chunk := range slices.Chunk(todo, migrateBatch) {
		var b Batch
		for _, c := range chunk {
			expected := c.Version
			c.Domain, c.Version = domain, c.Version+1
			b.Contacts = append(b.Contacts, ContactWrite{Contact: c, Expected: expected})
		}
		if _, err := store.Apply(ctx, b); err != nil {
			return moved, err
		}
		moved += len(chunk)
	}
	return moved, nil
}

// migrateSharedGroups re-creates every shared group without a domain (no
// owner, not built in) as a shared group of domain, moves its
// memberships from the domainless shared owner "@" to "@domain" (merged
// with memberships already there), and deletes the old group, in one
// batch. It returns how many groups it moved.
func migrateSharedGroups(ctx context.Context, store Store, domain string) (int, error) {
	groups, err := store.ListGroups(ctx)
	if err != nil {
		return 0, err
	}
	rename := map[string]string{} // old ID → new ID
	var b Batch
	for _, g := range groups {
		if g.Owner != "" || g.Domain != "" || g.Builtin || isBuiltin(g.ID) {
			continue
		}
		ng := Group{ID: sharedGroupID(domain, g.Name), Name: g.Name, Domain: domain}
		rename[g.ID] = ng.ID
		b.Groups = append(b.Groups, ng)
		b.DeleteGroups = append(b.DeleteGroups, g.ID)
	}
	if len(rename) == 0 {
		return 0, nil
	}
	from, to := sharedOwner(""), sharedOwner(domain)
	old := map[string][]string{}    // contact ID → groups under "@"
	merged := map[string][]string{} // contact ID → groups under "@domain"
	err = store.ForEachMark(ctx, func(m Mark) error {
		switch m.Owner {
		case from:
			old[m.ContactID] = m.Groups
		case to:
			merged[m.ContactID] = m.Groups
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for cid, gs := range old {
		var keep []string // memberships of groups not being moved stay
		next := slices.Clone(merged[cid])
		for _, g := range gs {
			if n, ok := rename[g]; ok {
				next = append(next, n)
			} else {
				keep = append(keep, g)
			}
		}
		b.Marks = append(b.Marks, Mark{Owner: from, ContactID: cid, Groups: keep},
			Mark{Owner: to, ContactID: cid, Groups: sortedMarkGroups(next)})
	}
	if _, err := store.Apply(ctx, b); err != nil {
		return 0, err
	}
	return len(rename), nil
}
