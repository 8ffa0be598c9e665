package directory

import (
	"slices"
	"sort"
	"strings"
)

// index is the in-memory search index over every stored contact. It is not
// safe for concurrent use; the Service guards it with its mutex.
//
// Layout:
//   - docs: one doc per contact version; a change retires the old doc
//     (alive=false) and appends a new one. Retired docs are purged by a
//     rebuild once they outnumber live ones.
//   - postings: folded word token → doc IDs, with a sorted token array
//     (tokens, plus a small unsorted tail newTokens) for prefix ranges
//     found by binary search.
//   - grams: digit trigram → doc IDs, for digit-substring number search;
//     candidates are verified with strings.Contains on the number digits.
//   - order: doc IDs sorted by the display order key, plus a small sorted
//     tail pending merged in when it grows, so listing is a merge walk.
//   - owners/teams/companies: doc IDs of personal contacts per owner and
//     of team and company contacts per domain, so users without company
//     access, and users of a small tenant, never scan the others.
type index struct {
	docs      []*doc
	byID      map[string]uint32
	postings  map[string]*posting
	tokens    []string // sorted
	newTokens []string // unsorted, merged into tokens by settle
	grams     [1000][]uint32
	order     []uint32 // sorted by doc.key
	pending   []uint32 // sorted by doc.key after settle
	unsorted  bool     // pending needs sorting
	sortedTo  int      // pending[:sortedTo] is sorted
	scratch   []uint32 // reused by settle
	owners    map[string][]uint32
	teams     map[string][]uint32
	companies map[string][]uint32
	dead      int
}

type doc struct {
	c      Contact
	key    string   // see sortKey
	tokens []string // interned, distinct
	digits []string // digits of each number
	alive  bool
}

type posting struct {
	tok string
	ids []uint32
}

const (
	mergeAt     = 4096   // pending size that triggers a merge into order
	tokenMerge  = 1024   // newTokens size that triggers a merge into tokens
	scanLimit   = 400000 // candidate count above which a query scans in order
	minDigitRun = 3      // digits needed for the trigram index
)

func newIndex() *index {
	return &index{
		byID: map[string]uint32{}, postings: map[string]*posting{},
		owners: map[string][]uint32{}, teams: map[string][]uint32{}, companies: map[string][]uint32{},
	}
}

// sortKey orders by last name, first name, company; a contact without a
// last name sorts by its first name, one without a name by its company.
func sortKey(c *Contact) string {
	primary := c.LastName
	if primary == "" {
		primary = c.FirstName
	}
	if primary == "" {
		primary = c.Company
	}
	return fold(primary) + "\x00" + fold(c.FirstName) + "\x00" + fold(c.Company) + "\x00" + c.ID
}

// put adds or replaces c. Call settle after a batch of puts and removes.
func (x *index) put(c Contact) {
	x.remove(c.ID)
	id := uint32(len(x.docs))
	d := &doc{c: c, key: sortKey(&c), alive: true}
	seen := map[string]bool{}
	addTok := func(s string) {
		for _, w := range words(s) {
			if seen[w] {
				continue
			}
			seen[w] = true
			p := x.postings[w]
			if p == nil {
				p = &posting{tok: w}
				x.postings[w] = p
				x.newTokens = append(x.newTokens, w)
			}
			p.ids = append(p.ids, id)
			d.tokens = append(d.tokens, p.tok)
		}
	}
	for _, s := range []string{c.FirstName, c.LastName, c.Company, c.Department} {
		addTok(s)
	}
	for _, e := range c.Emails {
		addTok(e)
	}
	var grams []int
	for _, p := range c.Phones {
		dg := Digits(p.Number)
		d.digits = append(d.digits, dg)
		for i := 0; i+3 <= len(dg); i++ {
			grams = append(grams, int(dg[i]-'0')*100+int(dg[i+1]-'0')*10+int(dg[i+2]-'0'))
		}
	}
	slices.Sort(grams)
	for _, g := range slices.Compact(grams) {
		x.grams[g] = append(x.grams[g], id)
	}
	x.docs = append(x.docs, d)
	x.byID[c.ID] = id
	x.pending = append(x.pending, id)
	x.unsorted = true
	switch c.Kind {
	case KindPersonal:
		x.owners[c.Owner] = append(x.owners[c.Owner], id)
	case KindTeam:
		x.teams[c.Domain] = append(x.teams[c.Domain], id)
	case KindCompany:
		x.companies[c.Domain] = append(x.companies[c.Domain], id)
	}
}

// remove retires the doc of contact id, if any.
func (x *index) remove(contactID string) {
	id, ok := x.byID[contactID]
	if !ok {
		return
	}
	x.docs[id].alive = false
	delete(x.byID, contactID)
	x.dead++
}

// get returns the live doc of contact id.
func (x *index) get(contactID string) (*doc, bool) {
	id, ok := x.byID[contactID]
	if !ok {
		return nil, false
	}
	return x.docs[id], true
}

func (x *index) less(a, b uint32) bool { return x.docs[a].key < x.docs[b].key }

// settle restores the sorted invariants after puts and removes, merging
// the tails when they have grown and rebuilding when retired docs dominate.
func (x *index) settle() {
	if x.dead > 10000 && x.dead > len(x.byID) {
		x.rebuild()
		return
	}
	if x.unsorted {
		// Sort only what was added since the last settle and insert it
		// from the back, finding each place by binary search and moving
		// the larger part with one copy: an import settles every few
		// puts, and sorting all of pending each time cost more than the
		// puts.
		tail := x.pending[x.sortedTo:]
		slices.SortFunc(tail, func(a, b uint32) int { return strings.Compare(x.docs[a].key, x.docs[b].key) })
		x.scratch = append(x.scratch[:0], tail...)
		n := x.sortedTo
		for j := len(x.scratch) - 1; j >= 0; j-- {
			id := x.scratch[j]
			p := sort.Search(n, func(k int) bool { return x.less(id, x.pending[k]) })
			copy(x.pending[p+j+1:n+j+1], x.pending[p:n])
			x.pending[p+j] = id
			n = p
		}
		x.unsorted = false
	}
	x.sortedTo = len(x.pending)
	// Merging pending into order costs the whole order: with a large
	// order, merge less often (a pending of len(order)/64 costs readers
	// nothing, walkOrder merges the two anyway).
	if len(x.pending) > max(mergeAt, len(x.order)/64) {
		merged := make([]uint32, 0, len(x.order)+len(x.pending))
		i, j := 0, 0
		for i < len(x.order) || j < len(x.pending) {
			var id uint32
			if j >= len(x.pending) || (i < len(x.order) && x.less(x.order[i], x.pending[j])) {
				id, i = x.order[i], i+1
			} else {
				id, j = x.pending[j], j+1
			}
			if x.docs[id].alive {
				merged = append(merged, id)
			}
		}
		x.order, x.pending, x.sortedTo = merged, x.pending[:0], 0
	}
	// Likewise for tokens; prefixPostings scans the unsorted tail, which
	// stays under a few thousand tokens (tens of µs) at a million.
	if len(x.newTokens) > max(tokenMerge, len(x.tokens)/128) {
		// Sort the small tail and merge it in linearly: re-sorting every
		// token would hold the write lock for O(n log n) each time.
		sort.Strings(x.newTokens)
		merged := make([]string, 0, len(x.tokens)+len(x.newTokens))
		i, j := 0, 0
		for i < len(x.tokens) || j < len(x.newTokens) {
			if j >= len(x.newTokens) || (i < len(x.tokens) && x.tokens[i] < x.newTokens[j]) {
				merged, i = append(merged, x.tokens[i]), i+1
			} else {
				merged, j = append(merged, x.newTokens[j]), j+1
			}
		}
		x.tokens, x.newTokens = merged, x.newTokens[:0]
	}
}

// rebuild recreates the index from its live docs, dropping retired ones.
func (x *index) rebuild() {
	live := make([]Contact, 0, len(x.byID))
	for _, id := range x.byID {
		live = append(live, x.docs[id].c)
	}
	*x = *newIndex()
	for _, c := range live {
		x.put(c)
	}
	x.finish()
}

// finish fully sorts the index after a bulk load.
func (x *index) finish() {
	x.order = append(x.order, x.pending...)
	x.pending, x.sortedTo = nil, 0
	slices.SortFunc(x.order, func(a, b uint32) int { return strings.Compare(x.docs[a].key, x.docs[b].key) })
	x.unsorted = false
	x.tokens = append(x.tokens, x.newTokens...)
	sort.Strings(x.tokens)
	x.newTokens = nil
}

// prefixPostings returns the postings of every token starting with w.
func (x *index) prefixPostings(w string) []*posting {
	var out []*posting
	lo := sort.SearchStrings(x.tokens, w)
	for i := lo; i < len(x.tokens) && strings.HasPrefix(x.tokens[i], w); i++ {
		out = append(out, x.postings[x.tokens[i]])
	}
	for _, t := range x.newTokens {
		if strings.HasPrefix(t, w) {
			out = append(out, x.postings[t])
		}
	}
	return out
}

// walkOrder calls fn for every live doc in display order until fn returns
// false, starting after key `after` ("" for the beginning).
func (x *index) walkOrder(after string, fn func(uint32, *doc) bool) {
	i := sort.Search(len(x.order), func(k int) bool { return x.docs[x.order[k]].key > after })
	j := sort.Search(len(x.pending), func(k int) bool { return x.docs[x.pending[k]].key > after })
	for i < len(x.order) || j < len(x.pending) {
		var id uint32
		if j >= len(x.pending) || (i < len(x.order) && x.less(x.order[i], x.pending[j])) {
			id, i = x.order[i], i+1
		} else {
			id, j = x.pending[j], j+1
		}
		d := x.docs[id]
		if d.alive && !fn(id, d) {
			return
		}
	}
}

// matches reports whether d matches every word prefix and the digit run.
func (d *doc) matches(ws []string, digits string) bool {
	for _, w := range ws {
		ok := false
		for _, t := range d.tokens {
			if strings.HasPrefix(t, w) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if digits != "" {
		for _, dg := range d.digits {
			if strings.Contains(dg, digits) {
				return true
			}
		}
		return false
	}
	return true
}

// parsedQuery is a search text split into folded word prefixes and the
// concatenated digits of its number-like words ("91 550 142" → 91550142).
type parsedQuery struct {
	words  []string
	digits string
}

func parseQuery(text string) parsedQuery {
	var q parsedQuery
	for _, f := range strings.Fields(text) {
		if isNumberWord(f) {
			q.digits += Digits(f)
			continue
		}
		q.words = append(q.words, words(f)...)
	}
	return q
}

func isNumberWord(f string) bool {
	hasDigit := false
	for _, r := range f {
		switch {
		case r >= '0' && r <= '9':
			hasDigit = true
		case strings.ContainsRune("+-.()/", r):
		default:
			return false
		}
	}
	return hasDigit
}

// candidates returns a small superset of the docs matching q, or ok=false
// when no selective source exists and the caller should scan in order.
func (x *index) candidates(q parsedQuery) (ids []uint32, ok bool) {
	best, bestCost := -1, scanLimit+1
	var bestPost []*posting
	for _, w := range q.words {
		ps := x.prefixPostings(w)
		cost := 0
		for _, p := range ps {
			cost += len(p.ids)
		}
		if cost < bestCost {
			best, bestCost, bestPost = 0, cost, ps
		}
	}
	if len(q.digits) >= minDigitRun {
		for i := 0; i+3 <= len(q.digits); i++ {
			g := int(q.digits[i]-'0')*100 + int(q.digits[i+1]-'0')*10 + int(q.digits[i+2]-'0')
			if len(x.grams[g]) < bestCost {
				best, bestCost, bestPost = 1, len(x.grams[g]), []*posting{{ids: x.grams[g]}}
			}
		}
	}
	if best < 0 {
		return nil, false
	}
	for _, p := range bestPost {
		ids = append(ids, p.ids...)
	}
	if len(bestPost) > 1 {
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	return ids, true
}
