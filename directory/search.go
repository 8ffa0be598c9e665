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
// following page, empty on the last one. Total counts every match of the
// query (whatever the cursor) up to TotalCap; TotalCapped is set when
// there are at least that many, and then Total is TotalCap ("1000+"), so
// that counting never costs more than finding the page.
type Page struct {
	Items       []Entry `json:"items"`
	Next        string  `json:"next,omitempty"`
	Total       int     `json:"total"`
	TotalCapped bool    `json:"total_capped,omitempty"`
}

// TotalCap is the largest Page.Total counted exactly.
const TotalCap = 1000

// Candidate sets larger than scanFirst are first tried with an ordered
// walk of at most scanBudget docs.
const (
	scanFirst  = 2000
	scanBudget = 2048
)

// countBudget bounds the docs an ordered walk visits only to count (a
// query without a selective word or digit run, such as "" or "9").
const countBudget = 50000

// Ranks of the display order: favorites first, then VIPs, then the rest,
// each by last name, first name, company.
const (
	rankFavorite = iota
	rankVIP
	rankOther
)

type hit struct {
	rank int
	id   uint32
}

func encodeCursor(rank int, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d\x01%s", rank, key)))
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

// searcher is one Search call: the filters of the query and the first
// limit+1 hits in display order found so far (a top-k: most candidates
// are rejected by one integer comparison with the current last).
type searcher struct {
	x          *index
	p          accounts.Principal
	q          Query
	pq         parsedQuery
	k          int
	afterRank  int
	afterKey   string
	ranked     map[uint32]bool // favorites and VIPs of p, found in the ranked pass
	groupMarks map[string][]string
	tenant     string
	operator   bool
	personal   bool // p may see its personal contacts
	company    bool // p has company:read
	admin      bool // p has users:admin
	exact      bool // the candidates all match the text: it is one word, their source
	hits       []hit
	count      int
	capped     bool
}

func (sr *searcher) cmpHit(a, b hit) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	return sr.x.cmpDoc(a.id, b.id)
}

// visible reports whether d passes every filter but the text: alive,
// kind, group and what p may see (canSee on the doc's fields).
func (sr *searcher) visible(d *doc) bool {
	if !d.alive {
		return false
	}
	if sr.q.Kind != "" && d.kind != kindCode(sr.q.Kind) {
		return false
	}
	inTenant := sr.operator || strings.EqualFold(sr.tenant, d.domain(sr.x))
	switch d.kind {
	case kindCodePersonal:
		if !sr.personal || d.owner(sr.x) != sr.p.User {
			return false
		}
	case kindCodeCompany:
		if !sr.company || !inTenant {
			return false
		}
	case kindCodeTeam:
		if !((sr.p.User != "" && strings.EqualFold(sr.tenant, d.domain(sr.x))) || (sr.admin && inTenant)) {
			return false
		}
	default:
		return false
	}
	return sr.q.Group == "" || slices.Contains(sr.groupMarks[d.idView(sr.x)], sr.q.Group)
}

// after reports whether h comes after the cursor.
func (sr *searcher) after(h hit) bool {
	if sr.afterRank < 0 || h.rank > sr.afterRank {
		return true
	}
	return h.rank == sr.afterRank && sr.x.docs.at(h.id).cmpFullKey(sr.x, sr.afterKey) > 0
}

// beats reports whether h would enter the top-k.
func (sr *searcher) beats(h hit) bool {
	return len(sr.hits) < sr.k || sr.cmpHit(h, sr.hits[len(sr.hits)-1]) < 0
}

func (sr *searcher) offer(h hit) {
	if !sr.after(h) {
		return
	}
	i, found := slices.BinarySearchFunc(sr.hits, h, sr.cmpHit)
	if found {
		return
	}
	sr.hits = slices.Insert(sr.hits, i, h)
	if len(sr.hits) > sr.k {
		sr.hits = sr.hits[:sr.k]
	}
}

func (sr *searcher) counted() {
	if sr.count < TotalCap {
		sr.count++
	} else {
		sr.capped = true
	}
}

// consider handles one candidate of rank other. Once the count is
// complete, a candidate that cannot enter the page costs one comparison.
func (sr *searcher) consider(id uint32) bool {
	if sr.capped && len(sr.hits) >= sr.k {
		// The count is complete and the page full: a candidate whose
		// head sorts after the last hit's cannot enter it (cmpHit
		// compares rank, then heads first), and is told so from the
		// dense heads rather than its doc, a cache miss each: short
		// prefixes have hundreds of thousands of candidates.
		last := sr.hits[len(sr.hits)-1]
		if last.rank < rankOther || (last.rank == rankOther && *sr.x.heads.at(id) > *sr.x.heads.at(last.id)) {
			return true
		}
	}
	d := sr.x.docs.at(id)
	if !d.alive || sr.ranked[id] {
		return true
	}
	h := hit{rank: rankOther, id: id}
	if sr.capped && !sr.beats(h) {
		return true
	}
	if !sr.visible(d) || (!sr.exact && !d.matches(sr.x, &sr.pq)) {
		return true
	}
	sr.counted()
	if sr.beats(h) {
		sr.offer(h)
	}
	return true
}

// count counts one candidate, until the count is capped.
func (sr *searcher) count1(id uint32) bool {
	d := sr.x.docs.at(id)
	if d.alive && !sr.ranked[id] && sr.visible(d) && (sr.exact || d.matches(sr.x, &sr.pq)) {
		sr.counted()
	}
	return !sr.capped
}

// fill offers pt's docs in display order, after the cursor, visiting at
// most budget docs (<0: no limit). It reports whether it found a full
// page: then no later doc of pt can enter it.
func (sr *searcher) fill(ctx context.Context, pt *part, budget int) bool {
	start := func(ordered) bool { return false }
	if sr.afterRank == rankOther {
		start = func(o ordered) bool { return sr.x.docs.at(o.id).cmpFullKey(sr.x, sr.afterKey) <= 0 }
	} else if sr.afterRank > rankOther {
		return true
	}
	n, found := 0, 0
	pt.order.ascend(start, func(o ordered) bool {
		id := o.id
		if n++; n == budget || (n%8192 == 0 && ctx.Err() != nil) {
			return false
		}
		d := sr.x.docs.at(id)
		if !sr.ranked[id] && sr.visible(d) && d.matches(sr.x, &sr.pq) {
			sr.offer(hit{rank: rankOther, id: id})
			found++
		}
		return found < sr.k
	})
	return found >= sr.k
}

// countWalk counts matches in pt's display order until the cap, visiting
// at most budget docs. It reports whether the count is complete; if not,
// it leaves the count as it was.
func (sr *searcher) countWalk(pt *part, budget int) bool {
	count, n, done := sr.count, 0, true
	pt.order.ascend(func(ordered) bool { return false }, func(o ordered) bool {
		id := o.id
		if n++; n > budget {
			done = false
			return false
		}
		d := sr.x.docs.at(id)
		if !sr.ranked[id] && sr.visible(d) && d.matches(sr.x, &sr.pq) {
			sr.counted()
		}
		return !sr.capped
	})
	if !done {
		sr.count = count
	}
	return done
}

// walk fills the page from pt's display order, then counts from its
// beginning within countBudget.
func (sr *searcher) walk(ctx context.Context, pt *part) {
	sr.fill(ctx, pt, -1)
	n := 0
	pt.order.ascend(func(ordered) bool { return false }, func(o ordered) bool {
		id := o.id
		if n++; n > countBudget || sr.capped {
			sr.capped = true
			return false
		}
		d := sr.x.docs.at(id)
		if !sr.ranked[id] && sr.visible(d) && d.matches(sr.x, &sr.pq) {
			sr.counted()
		}
		return true
	})
}

// Search returns the contacts visible to p matching q, favorites first,
// then VIPs, then by name. Pagination is by key, so a page boundary stays
// put when contacts are added before it. Only the partitions of p's
// tenant are read (every one for an operator key), and within one the
// most selective posting lists of the query text.
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
	sr := &searcher{
		p: p, q: q, pq: parseQuery(q.Text), k: limit + 1, afterRank: -1,
		tenant: p.Tenant(), operator: p.Operator(),
		personal: p.User != "" && p.Has(accounts.ScopePersonal), company: p.Has(accounts.ScopeCompanyRead), admin: p.Has(accounts.ScopeUsersAdmin),
	}
	if q.Cursor != "" {
		var err error
		if sr.afterRank, sr.afterKey, err = decodeCursor(q.Cursor); err != nil {
			return Page{}, err
		}
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	sr.x = s.idx
	if q.Group != "" {
		groupOwner, err := s.groupOwnerLocked(p, q.Group)
		if err != nil {
			return Page{}, err
		}
		sr.groupMarks = s.marks[groupOwner]
	}

	// Ranked contacts (few) first.
	if p.User != "" {
		for cid, groups := range s.marks[p.User] {
			rank := rankOther
			if slices.Contains(groups, GroupFavorite) {
				rank = rankFavorite
			} else if slices.Contains(groups, GroupVIP) {
				rank = rankVIP
			}
			id, ok := s.idx.docID(cid)
			if rank == rankOther || !ok {
				continue
			}
			if sr.ranked == nil {
				sr.ranked = map[uint32]bool{}
			}
			sr.ranked[id] = true
			if d := s.idx.docs.at(id); sr.visible(d) && d.matches(sr.x, &sr.pq) {
				sr.counted()
				sr.offer(hit{rank: rank, id: id})
			}
		}
	}

	each := func(lists ...[]uint32) {
		for _, l := range lists {
			for _, id := range l {
				sr.consider(id)
			}
		}
	}
	switch {
	case q.Group != "":
		for cid, groups := range sr.groupMarks {
			if id, ok := s.idx.docID(cid); ok && slices.Contains(groups, q.Group) {
				sr.consider(id)
			}
		}
	case q.Kind == KindPersonal || q.Kind == KindTeam || !sr.company:
		if q.Kind != KindTeam && sr.personal {
			each(s.idx.owners[p.User])
		}
		if q.Kind != KindPersonal {
			if sr.admin && sr.operator {
				for _, l := range s.idx.teams {
					each(l)
				}
			} else if sr.tenant != "" {
				each(s.idx.teams[sr.tenant])
			}
		}
	default:
		for name, pt := range s.idx.parts {
			if !sr.operator && name != sr.tenant {
				continue
			}
			// Matches of a common word are usually spread over the
			// display order, so a short walk fills the page and the
			// count stops at its cap; words correlated with the order
			// (last names) exhaust the walk and take the top-k over
			// every candidate instead.
			lists, n, ok := pt.source(s.idx, &sr.pq)
			sr.exact = ok && len(sr.pq.words) == 1 && sr.pq.digits == "" && len(sr.pq.words[0]) > 0
			switch {
			case !ok:
				sr.walk(ctx, pt)
			case n > scanFirst && n*scanBudget >= sr.k*pt.order.n && sr.fill(ctx, pt, scanBudget):
				// Count in order only where matches are dense enough
				// to reach the cap within the budget.
				if n*scanBudget < TotalCap*pt.order.n || !sr.countWalk(pt, scanBudget) {
					s.idx.union(lists, n, sr.count1)
				}
			default:
				s.idx.union(lists, n, sr.consider)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Page{}, err
	}
	page := Page{Total: sr.count, TotalCapped: sr.capped}
	hits := sr.hits
	if len(hits) > limit {
		hits = hits[:limit]
		last := hits[limit-1]
		page.Next = encodeCursor(last.rank, s.idx.docs.at(last.id).fullKey(s.idx))
	}
	page.Items = make([]Entry, len(hits))
	for i, h := range hits {
		c := s.idx.docs.at(h.id).contact(s.idx)
		page.Items[i] = Entry{Contact: c, Marks: s.marksFor(p, c.ID)}
	}
	return page, nil
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
