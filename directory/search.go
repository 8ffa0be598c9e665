package directory

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/switchboardhq/switchboard/accounts"
)

// Query selects contacts for Search. Text matches word prefixes of names,
// company, department and email (accent- and case-insensitive) and digit
// substrings of numbers whatever their formatting. Kind and Group filter
// ("" for any). Limit defaults to 50 and is capped at 500. Cursor is the
// Next value of the previous Page.
type Query struct {
	Text   string
	Kind   Kind
	Group  string
	Limit  int
	Cursor string
}

// Page is one page of search results. Next is the opaque cursor of the
// following page, empty on the last one.
type Page struct {
	Items []Entry `json:"items"`
	Next  string  `json:"next,omitempty"`
}

// Candidate sets larger than scanFirst are first tried with an ordered
// scan of at most scanBudget docs.
const (
	scanFirst  = 2000
	scanBudget = 20000
)

// Ranks of the display order: favorites first, then VIPs, then the rest,
// each by last name, first name, company.
const (
	rankFavorite = iota
	rankVIP
	rankOther
)

type hit struct {
	rank int
	d    *doc
}

func hitLess(a, b hit) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	return strings.Compare(a.d.key, b.d.key)
}

func encodeCursor(h hit) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d\x01%s", h.rank, h.d.key)))
}

func decodeCursor(s string) (rank int, key string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, "", &FieldError{Field: "cursor", Reason: "malformed cursor"}
	}
	r, k, ok := strings.Cut(string(raw), "\x01")
	if !ok || len(r) != 1 || r[0] < '0' || r[0] > '2' {
		return 0, "", &FieldError{Field: "cursor", Reason: "malformed cursor"}
	}
	return int(r[0] - '0'), k, nil
}

// Search returns the contacts visible to p matching q, favorites first,
// then VIPs, then by name. Pagination is by key, so a page boundary stays
// put when contacts are added before it.
func (s *Service) Search(ctx context.Context, p accounts.Principal, q Query) (Page, error) {
	if !p.Has(accounts.ScopePersonal) && !p.Has(accounts.ScopeCompanyRead) && !p.Has(accounts.ScopeUsersAdmin) {
		return Page{}, fmt.Errorf("search needs scope %s, %s or %s: %w", accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeUsersAdmin, ErrForbidden)
	}
	switch q.Kind {
	case "", KindTeam:
	case KindPersonal:
		if p.User == "" || !p.Has(accounts.ScopePersonal) {
			return Page{}, fmt.Errorf("personal contacts need a user with scope %s: %w", accounts.ScopePersonal, ErrForbidden)
		}
	case KindCompany:
		if !p.Has(accounts.ScopeCompanyRead) {
			return Page{}, fmt.Errorf("company contacts need scope %s: %w", accounts.ScopeCompanyRead, ErrForbidden)
		}
	default:
		return Page{}, &FieldError{Field: "kind", Reason: fmt.Sprintf("unknown kind %q", q.Kind)}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	afterRank, afterKey := -1, ""
	if q.Cursor != "" {
		var err error
		if afterRank, afterKey, err = decodeCursor(q.Cursor); err != nil {
			return Page{}, err
		}
	}
	pq := parseQuery(q.Text)

	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	var groupOwner string
	if q.Group != "" {
		var err error
		if groupOwner, err = s.groupOwnerLocked(p, q.Group); err != nil {
			return Page{}, err
		}
	}
	own := s.marks[p.User]
	if p.User == "" {
		own = nil
	}
	rankOf := func(id string) int {
		m := own[id]
		if slices.Contains(m, GroupFavorite) {
			return rankFavorite
		}
		if slices.Contains(m, GroupVIP) {
			return rankVIP
		}
		return rankOther
	}
	match := func(d *doc) bool {
		if !d.alive || (q.Kind != "" && d.c.Kind != q.Kind) || !canSee(p, &d.c) {
			return false
		}
		if q.Group != "" && !slices.Contains(s.marks[groupOwner][d.c.ID], q.Group) {
			return false
		}
		return d.matches(pq.words, pq.digits)
	}
	after := func(h hit) bool {
		return afterRank < 0 || hitLess(h, hit{rank: afterRank, d: &doc{key: afterKey}}) > 0
	}

	// scan walks the display order: ranked contacts (few) first, then the
	// global order, visiting at most budget docs (<0: no limit). complete
	// is false when the budget ran out first.
	scan := func(budget int) (hits []hit, complete bool) {
		for id, groups := range own {
			if !slices.Contains(groups, GroupFavorite) && !slices.Contains(groups, GroupVIP) {
				continue
			}
			if d, ok := s.idx.get(id); ok && match(d) {
				if h := (hit{rank: rankOf(id), d: d}); after(h) {
					hits = append(hits, h)
				}
			}
		}
		slices.SortFunc(hits, hitLess)
		start := ""
		if afterRank == rankOther {
			start = afterKey
		}
		n, complete := 0, true
		s.idx.walkOrder(start, func(_ uint32, d *doc) bool {
			if len(hits) > limit {
				return false
			}
			if n++; n == budget || (n%8192 == 0 && ctx.Err() != nil) {
				complete = false
				return false
			}
			if match(d) && rankOf(d.c.ID) == rankOther {
				hits = append(hits, hit{rank: rankOther, d: d})
			}
			return true
		})
		return hits, complete || len(hits) > limit
	}

	var hits []hit
	ids, ok := s.smallUniverseLocked(p, q, groupOwner, pq)
	scanned := false
	if ok && len(ids) > scanFirst && q.Group == "" {
		// Matches of a common word are usually spread over the display
		// order, so a short scan often fills the page; words correlated
		// with the order (last names) exhaust the budget instead.
		hits, scanned = scan(scanBudget)
	}
	switch {
	case scanned:
	case ok:
		// Keep the first limit+1 hits in order (top-k): most candidates
		// are rejected by one comparison with the current last.
		hits = hits[:0]
		k := limit + 1
		for n, id := range ids {
			if n%8192 == 0 && ctx.Err() != nil {
				return Page{}, ctx.Err()
			}
			d := s.idx.docs[id]
			h := hit{rank: rankOf(d.c.ID), d: d}
			if (len(hits) == k && hitLess(h, hits[k-1]) >= 0) || !after(h) || !match(d) {
				continue
			}
			i, _ := slices.BinarySearchFunc(hits, h, hitLess)
			hits = slices.Insert(hits, i, h)
			if len(hits) > k {
				hits = hits[:k]
			}
		}
	default:
		hits, _ = scan(-1)
	}
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	var page Page
	if len(hits) > limit {
		hits = hits[:limit]
		page.Next = encodeCursor(hits[limit-1])
	}
	page.Items = make([]Entry, len(hits))
	for i, h := range hits {
		page.Items[i] = Entry{Contact: cloneContact(h.d.c), Marks: s.marksFor(p, h.d.c.ID)}
	}
	return page, nil
}

// smallUniverseLocked returns a superset of the docs Search may return
// when one is cheaply known to be small: the members of the filtered
// group, the personal and team contacts when company contacts are out of
// scope, the contacts of p's tenant when it is a small part of the
// directory, or the index candidates for the query text.
func (s *Service) smallUniverseLocked(p accounts.Principal, q Query, groupOwner string, pq parsedQuery) ([]uint32, bool) {
	if q.Group != "" {
		var ids []uint32
		for cid, groups := range s.marks[groupOwner] {
			if slices.Contains(groups, q.Group) {
				if id, ok := s.idx.byID[cid]; ok {
					ids = append(ids, id)
				}
			}
		}
		return ids, true
	}
	if q.Kind == KindPersonal || q.Kind == KindTeam || !p.Has(accounts.ScopeCompanyRead) {
		var ids []uint32
		if q.Kind != KindTeam && p.User != "" {
			ids = append(ids, s.idx.owners[p.User]...)
		}
		if q.Kind != KindPersonal {
			if p.Has(accounts.ScopeUsersAdmin) && p.Operator() {
				for _, l := range s.idx.teams {
					ids = append(ids, l...)
				}
			} else if p.Tenant() != "" {
				ids = append(ids, s.idx.teams[p.Tenant()]...)
			}
		}
		return ids, true
	}
	cands, ok := s.idx.candidates(pq)
	// A tenant that is a small part of the directory is cheaper to list
	// than to find by scanning everyone's contacts in order.
	if t := p.Tenant(); t != "" {
		own, teams, companies := s.idx.owners[p.User], s.idx.teams[t], s.idx.companies[t]
		if n := len(own) + len(teams) + len(companies); (!ok || n < len(cands)) && 4*n < len(s.idx.byID) {
			ids := make([]uint32, 0, n)
			if p.User != "" {
				ids = append(ids, own...)
			}
			return append(append(ids, teams...), companies...), true
		}
	}
	return cands, ok
}

// groupOwnerLocked checks that p may use group id and returns the mark
// owner holding its membership for p.
func (s *Service) groupOwnerLocked(p accounts.Principal, id string) (string, error) {
	if isBuiltin(id) {
		if p.User == "" {
			return "", fmt.Errorf("group %s: %w", id, ErrNotFound)
		}
		return p.User, nil
	}
	g, ok := s.groups[id]
	switch {
	case !ok:
	case g.Shared() && ((p.User != "" && g.Domain == p.Tenant()) || (p.Has(accounts.ScopeUsersAdmin) && p.InTenant(g.Domain))):
		return sharedOwner(g.Domain), nil
	case !g.Shared() && p.User != "" && g.Owner == p.User:
		return p.User, nil
	}
	return "", fmt.Errorf("group %s: %w", id, ErrNotFound)
}
