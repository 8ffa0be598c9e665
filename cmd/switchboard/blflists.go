package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip"
)

// blfTeamList is the BLF list of every user of a domain: sip:blf-team@domain.
const blfTeamList = "team"

// blfLists resolves BLF list URIs over the directory: blf-team is the
// whole team of the domain, blf-<group> a group the watcher sees (a shared
// group of its domain or one of its own, by ID or by name with spaces
// written as '-', case ignored: "Front Desk" is blf-front-desk); members are the team contacts in it.
type blfLists struct {
	dir *directory.Service
}

var _ sip.ListResolver = blfLists{}

// ListMembers implements sip.ListResolver.
func (b blfLists) ListMembers(ctx context.Context, watcher presence.AOR, domain, name string) ([]sip.ListMember, bool, error) {
	if watcher.Domain != domain {
		return nil, false, nil
	}
	// The watcher as a user reading company and team contacts: it sees its
	// own groups and its domain's shared ones, never another user's.
	p := accounts.Principal{User: watcher.String(), Scopes: []accounts.Scope{accounts.ScopeCompanyRead}}
	q := directory.Query{Kind: directory.KindTeam, Limit: 500}
	if !strings.EqualFold(name, blfTeamList) {
		groups, err := b.dir.ListGroups(ctx, p)
		if err != nil {
			return nil, false, fmt.Errorf("list groups of %s: %w", watcher, err)
		}
		for _, g := range groups {
			if !g.Builtin && (g.ID == name || strings.EqualFold(strings.Join(strings.Fields(g.Name), "-"), name)) {
				q.Group = g.ID
				break
			}
		}
		if q.Group == "" {
			return nil, false, nil
		}
	}
	var out []sip.ListMember
	for {
		page, err := b.dir.Search(ctx, p, q)
		if errors.Is(err, directory.ErrNotFound) {
			return nil, false, nil // the group went away meanwhile
		}
		if err != nil {
			return nil, false, fmt.Errorf("read blf list %s of %s: %w", name, domain, err)
		}
		for _, e := range page.Items {
			aor, ok := strings.CutPrefix(e.Contact.ID, "team:")
			if !ok {
				continue
			}
			a, err := presence.ParseAOR(aor)
			if err != nil || a.Domain != domain {
				continue
			}
			out = append(out, sip.ListMember{AOR: a, Name: e.Contact.DisplayName()})
		}
		if page.Next == "" || len(out) >= 200 {
			return out, true, nil
		}
		q.Cursor = page.Next
	}
}
