package directory

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
)

// index is the in-memory search index over every stored contact, and the
// only in-memory copy of the contacts: each doc's contact is encoded in
// its compact bytes (see encodeContact) in a slab, decoded when a page is
// rendered. It is not safe for concurrent use; the Service guards it with
// its mutex.
//
// Layout:
//   - docs: one doc per contact version, by integer ID; a change retires
//     the old doc (alive=false) and appends a new one. Retired IDs stay
//     in posting lists (skipped), and their bytes in their slab, until a
//     rebuild (see settle).
//   - data: the docs' bytes, in append-only slabs (arena.go); byID finds
//     a contact's live doc by the hash of its ID. Neither a doc nor byID
//     holds a pointer, so the collector does not visit a million objects
//     for a million contacts.
//   - parts: one partition per SIP domain (tenant), holding the postings
//     (folded word token → doc IDs, varint-delta encoded), the sorted
//     token list for prefix ranges, the digit trigrams for number search
//     and the display order of that domain's contacts. A search, a
//     lookup or an import of one domain costs what that domain holds.
//     Personal contacts live in their owner's domain.
//   - owners/teams/companies: doc IDs of personal contacts per owner and
//     of team and company contacts per domain.
//
// Sorted structures are blists (blocked sorted lists): no write ever
// moves more than one block, so the write lock is never held for O(n).
type index struct {
	docs      paged[doc]
	heads     paged[uint64] // docs[i].head by doc ID, dense: a search's candidates that cannot enter a full page are told from these (searcher.consider)
	data      slabs
	byID      idMap
	parts     map[string]*part
	owners    map[string][]uint32
	teams     map[string][]uint32
	companies map[string][]uint32
	strs      map[string]string // interned domains and owners
	scopes    []scope           // by doc.sc
	scopeIDs  map[scope]uint32
	lastScope uint32 // the scope of the last put
	dead      int
	deadBytes int      // bytes of retired docs in data
	scratch   prepared // put's buffers, reused
	bulk      bool     // loading (from newIndex to finish): order and tokens are sorted by finish
}

// part is the index of one domain.
type part struct {
	terms   map[string]*term
	sorted  *blist[*term]
	grams   gramTable
	order   *blist[ordered] // every doc of the part, in display order
	loading []uint32        // bulk load only: the order, unsorted
}

// gramTable holds a part's trigram posting lists: a map while the part
// is small (a user's own contacts), then all 1,000 trigrams in an array,
// which a large part fills anyway and an import reaches without hashing.
type gramTable struct {
	m   map[uint16]*plist
	all *[1000]*plist
}

// gramTableMap is the size at which a gramTable moves to its array.
const gramTableMap = 200

func (g *gramTable) get(k uint16) *plist {
	if g.all != nil {
		return g.all[k]
	}
	return g.m[k]
}

// list returns the posting list of trigram k, creating it.
func (g *gramTable) list(k uint16) *plist {
	if g.all != nil {
		if g.all[k] == nil {
			g.all[k] = &plist{}
		}
		return g.all[k]
	}
	if pl := g.m[k]; pl != nil {
		return pl
	}
	if len(g.m) < gramTableMap {
		if g.m == nil {
			g.m = map[uint16]*plist{}
		}
		pl := &plist{}
		g.m[k] = pl
		return pl
	}
	g.all = new([1000]*plist)
	for k, pl := range g.m {
		g.all[k] = pl
	}
	g.m = nil
	return g.list(k)
}

type term struct {
	tok string
	pl  plist
}

// plist is a posting list: increasing doc IDs, varint-delta encoded.
type plist struct {
	b    []byte
	last uint32
	n    uint32
}

func (p *plist) add(id uint32) {
	d := id
	if p.n > 0 {
		d = id - p.last
	}
	p.b = binary.AppendUvarint(p.b, uint64(d))
	p.last, p.n = id, p.n+1
}

// each calls fn with every ID in order, until fn returns false.
func (p *plist) each(fn func(uint32) bool) {
	b, id := p.b, uint64(0)
	for i := 0; len(b) > 0; i++ {
		v, k := binary.Uvarint(b)
		b = b[k:]
		if i == 0 {
			id = v
		} else {
			id += v
		}
		if !fn(uint32(id)) {
			return
		}
	}
}

// mark sets the bit of every ID in bs.
func (p *plist) mark(bs []uint64) {
	b, id := p.b, uint64(0)
	for i := 0; len(b) > 0; i++ {
		v, k := binary.Uvarint(b)
		b = b[k:]
		if i == 0 {
			id = v
		} else {
			id += v
		}
		bs[id>>6] |= 1 << (id & 63)
	}
}

// doc is one contact version. Its bytes, the end bytes at off in slab,
// hold the sort key, then the match text, then the encoded contact
// (keyEnd, numEnd and textEnd are offsets from off). It holds no pointer.
type doc struct {
	head    uint64 // the key's first 8 bytes, big-endian: most comparisons end here
	head2   uint64 // its next 8: common last names ("mullins\x00") share the first
	slab    uint32
	off     uint32
	keyEnd  uint32
	numEnd  uint32 // end of the word tokens, start of the numbers' digits
	textEnd uint32
	end     uint32
	sc      uint32 // index.scopes
	kind    uint8
	alive   bool
}

const (
	kindCodePersonal = iota
	kindCodeCompany
	kindCodeTeam
	kindCodeOther
)

func kindCode(k Kind) uint8 {
	switch k {
	case KindPersonal:
		return kindCodePersonal
	case KindCompany:
		return kindCodeCompany
	case KindTeam:
		return kindCodeTeam
	}
	return kindCodeOther
}

// scope is a contact's domain and owner, interned: many contacts share
// one.
type scope struct{ domain, owner string }

// The accessors below take the index holding d: a doc has no pointer to
// its bytes or scope.

func (d *doc) domain(x *index) string { return x.scopes[d.sc].domain }
func (d *doc) owner(x *index) string  { return x.scopes[d.sc].owner }

// view returns d's bytes, sharing the slab's memory: for reads under
// the index's lock only.
func (d *doc) view(x *index) string { return x.data.view(d.slab, d.off, d.end) }

// key is the display order key, see sortKey (a view).
func (d *doc) key(x *index) string { return d.view(x)[:d.keyEnd] }

// text is "\x00tok\x00tok…\x01digits\x00digits…": the distinct folded
// word tokens and the digits of each number, so a word prefix matches by
// one strings.Contains of "\x00"+prefix and a digit run by one on the
// number part. The result is a copy.
func (d *doc) text(x *index) string { return strings.Clone(d.view(x)[d.keyEnd:d.textEnd]) }

// contact decodes the contact. Its strings are substrings of one copy of
// the doc's encoded contact, so it shares no memory with the index and
// holds no slab alive.
func (d *doc) contact(x *index) Contact {
	c := decodeContact(strings.Clone(d.view(x)[d.textEnd:]))
	sc := &x.scopes[d.sc]
	c.Domain, c.Owner = sc.domain, sc.owner
	return c
}

// id returns a copy of the contact ID without decoding the rest.
func (d *doc) id(x *index) string { return strings.Clone(d.idView(x)) }

// idView returns the contact ID as a view.
func (d *doc) idView(x *index) string {
	s, _ := readStr(d.view(x)[d.textEnd:])
	return s
}

func (d *doc) matches(x *index, pq *parsedQuery) bool {
	v := d.view(x)
	for _, w := range pq.prefixes {
		if !strings.Contains(v[d.keyEnd:d.numEnd], w) {
			return false
		}
	}
	return pq.digits == "" || strings.Contains(v[d.numEnd:d.textEnd], pq.digits)
}

const (
	minDigitRun = 3 // digits needed for the trigram index
)

func newIndex() *index {
	return &index{
		byID: newIDMap(), parts: map[string]*part{}, strs: map[string]string{}, scopeIDs: map[scope]uint32{},
		owners: map[string][]uint32{}, teams: map[string][]uint32{}, companies: map[string][]uint32{},
		bulk: true,
	}
}

func (x *index) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := x.strs[s]; ok {
		return v
	}
	s = strings.Clone(s)
	x.strs[s] = s
	return s
}

func (x *index) scope(domain, owner string) uint32 {
	k := scope{domain, owner}
	// An import or a load puts runs of contacts of one scope.
	if n := uint32(len(x.scopes)); x.lastScope < n && x.scopes[x.lastScope] == k {
		return x.lastScope
	}
	sc, ok := x.scopeIDs[k]
	if !ok {
		sc = uint32(len(x.scopes))
		x.scopes = append(x.scopes, scope{x.intern(domain), x.intern(owner)})
		x.scopeIDs[x.scopes[sc]] = sc
	}
	x.lastScope = sc
	return sc
}

// partName is the partition of c: its domain, or for a personal contact
// its owner's domain.
func partName(c *Contact) string {
	d := c.Domain
	if c.Kind == KindPersonal {
		if _, od, ok := accounts.SplitAOR(c.Owner); ok {
			d = od
		}
	}
	return strings.ToLower(strings.TrimSpace(d))
}

func (x *index) part(name string) *part {
	pt := x.parts[name]
	if pt == nil {
		pt = &part{terms: map[string]*term{}}
		pt.sorted = newHeadBlist(func(a, b *term) int { return strings.Compare(a.tok, b.tok) }, func(t *term) uint64 { return keyHead(t.tok) })
		pt.order = newHeadBlist(x.cmpOrdered, func(o ordered) uint64 { return o.head })
		x.parts[name] = pt
	}
	return pt
}

// sortKey orders by last name, first name, company; a contact without a
// last name sorts by its first name, one without a name by its company;
// the contact ID breaks ties (see cmpDoc and fullKey).
func sortKey(c *Contact) string {
	primary := c.LastName
	if primary == "" {
		primary = c.FirstName
	}
	if primary == "" {
		primary = c.Company
	}
	return fold(primary) + "\x00" + fold(c.FirstName) + "\x00" + fold(c.Company)
}

// fullKey is the key with the ID appended: the position a cursor keeps.
// It orders as cmpDoc does, since no key byte is below 0x00.
func (d *doc) fullKey(x *index) string { return d.key(x) + "\x00" + d.idView(x) }

// cmpFullKey compares d's fullKey with k without building it.
func (d *doc) cmpFullKey(x *index, k string) int {
	key := d.key(x)
	if len(k) > len(key) && k[:len(key)] == key {
		// k = key + "\x00"… or key + a greater byte.
		if k[len(key)] != 0 {
			return -1
		}
		return strings.Compare(d.idView(x), k[len(key)+1:])
	}
	if c := strings.Compare(key, k); c != 0 {
		return c
	}
	// k == key: d's fullKey is longer.
	return 1
}

func keyHead(k string) uint64 {
	var b [8]byte
	copy(b[:], k)
	return binary.BigEndian.Uint64(b[:])
}

// keyHeads returns the key's first 16 bytes as two integers, zero-padded:
// comparing them orders as comparing the bytes, and only keys equal that
// far need their bytes read from the slab.
func keyHeads(k string) (uint64, uint64) {
	if len(k) <= 8 {
		return keyHead(k), 0
	}
	return keyHead(k), keyHead(k[8:])
}

// ordered is a doc as the display order holds it: with the first 24
// bytes of its sort key, so that finding a doc's place (an import does it
// per contact) reads a block's own entries rather than a doc and slab
// bytes per step, each a cache miss in a large index. 24 bytes take in a
// last and a first name and the start of the company, which 16 often do
// not ("rodriguez\x00jennif"): at a million contacts with common names,
// ties on 16 bytes made half the comparisons read the slab. An entry is
// 32 bytes where the ID alone is 4 (32 MB at a million contacts).
type ordered struct {
	head, head2, head3 uint64
	id                 uint32
}

func (x *index) ordered(id uint32) ordered {
	d := x.docs.at(id)
	o := ordered{head: d.head, head2: d.head2, id: id}
	if d.keyEnd > 16 {
		o.head3 = keyHead(d.key(x)[16:])
	}
	return o
}

// cmpOrdered is cmpDoc, on the heads the entries carry when they differ.
func (x *index) cmpOrdered(a, b ordered) int {
	if c := cmp.Compare(a.head, b.head); c != 0 {
		return c
	}
	if c := cmp.Compare(a.head2, b.head2); c != 0 {
		return c
	}
	if c := cmp.Compare(a.head3, b.head3); c != 0 {
		return c
	}
	return x.cmpDoc(a.id, b.id)
}

// cmpDoc compares docs a and b in display order.
func (x *index) cmpDoc(a, b uint32) int {
	da, db := x.docs.at(a), x.docs.at(b)
	if da.head != db.head {
		if da.head < db.head {
			return -1
		}
		return 1
	}
	if da.head2 != db.head2 {
		if da.head2 < db.head2 {
			return -1
		}
		return 1
	}
	return cmp.Or(strings.Compare(da.key(x), db.key(x)), strings.Compare(da.idView(x), db.idView(x)))
}

// prepared is what put computes from a contact alone: its doc bytes
// (sort key, word tokens, digits, encoded contact) and trigrams. Applying
// a batch prepares its contacts before taking the Service lock, so the
// lock covers only the index's own updates.
type prepared struct {
	b                       []byte
	toks                    []string
	digits                  []string
	grams                   []uint16
	keyEnd, numEnd, textEnd int
	h1, h2                  uint64
	// keys are the contact's duplicate keys (dupKeys) when haveKeys:
	// the importer has them already.
	keys     []string
	haveKeys bool
	fresh    bool // the contact's ID is new (ContactWrite.fresh): no doc to replace
}

// prepare fills p for c, reusing p's slices.
func prepare(c *Contact, p *prepared) {
	key := sortKey(c)
	toks := p.toks[:0]
	for _, s := range [...]string{c.FirstName, c.LastName, c.Company, c.Department} {
		for _, w := range words(s) {
			if !slices.Contains(toks, w) {
				toks = append(toks, w)
			}
		}
	}
	for _, e := range c.Emails {
		for _, w := range words(e) {
			if !slices.Contains(toks, w) {
				toks = append(toks, w)
			}
		}
	}
	digits, grams := p.digits[:0], p.grams[:0]
	for _, ph := range c.Phones {
		dg := Digits(ph.Number)
		digits = append(digits, dg)
		for i := 0; i+3 <= len(dg); i++ {
			grams = append(grams, uint16(dg[i]-'0')*100+uint16(dg[i+1]-'0')*10+uint16(dg[i+2]-'0'))
		}
	}
	slices.Sort(grams)
	grams = slices.Compact(grams)
	b := append(p.b[:0], key...)
	for _, t := range toks {
		b = append(append(b, 0), t...)
	}
	b = append(b, 1)
	numEnd := len(b)
	for i, dg := range digits {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, dg...)
	}
	textEnd := len(b)
	b = encodeContact(b, c)
	p.h1, p.h2 = keyHeads(key)
	p.b, p.toks, p.digits, p.grams = b, toks, digits, grams
	p.keyEnd, p.numEnd, p.textEnd = len(key), numEnd, textEnd
}

// put adds or replaces c.
func (x *index) put(c Contact) {
	// The scratch is reused: an import puts a million contacts.
	prepare(&c, &x.scratch)
	x.putPrepared(&c, &x.scratch)
}

// putPrepared adds or replaces c, prepared as p.
func (x *index) putPrepared(c *Contact, p *prepared) {
	if !p.fresh {
		x.remove(c.ID)
	}
	id := uint32(x.docs.len())
	toks, grams, b := p.toks, p.grams, p.b
	slab, off := x.data.add(b)
	h1, h2 := p.h1, p.h2
	key, numEnd, textEnd := b[:p.keyEnd], p.numEnd, p.textEnd

	x.heads.add(h1)
	x.docs.add(doc{
		slab: slab, off: off, sc: x.scope(c.Domain, c.Owner), head: h1, head2: h2,
		keyEnd: uint32(len(key)), numEnd: uint32(numEnd), textEnd: uint32(textEnd), end: uint32(len(b)),
		kind: kindCode(c.Kind), alive: true,
	})
	x.setID(c.ID, id)

	pt := x.part(partName(c))
	for _, w := range toks {
		t := pt.terms[w]
		if t == nil {
			t = &term{tok: strings.Clone(w)}
			pt.terms[t.tok] = t
			if !x.bulk {
				pt.sorted.insert(t)
			}
		}
		t.pl.add(id)
	}
	for _, g := range grams {
		pt.grams.list(g).add(id)
	}
	if x.bulk {
		pt.loading = append(pt.loading, id)
	} else {
		pt.order.insert(x.ordered(id))
	}
	switch c.Kind {
	case KindPersonal:
		x.owners[x.intern(c.Owner)] = append(x.owners[c.Owner], id)
	case KindTeam:
		x.teams[x.intern(c.Domain)] = append(x.teams[c.Domain], id)
	case KindCompany:
		x.companies[x.intern(c.Domain)] = append(x.companies[c.Domain], id)
	}
}

// remove retires the doc of contact id, if any.
func (x *index) remove(contactID string) {
	id, ok := x.docID(contactID)
	if !ok {
		return
	}
	d := x.docs.at(id)
	sc := &x.scopes[d.sc]
	c := Contact{Kind: [...]Kind{KindPersonal, KindCompany, KindTeam, ""}[d.kind], Owner: sc.owner, Domain: sc.domain}
	if pt := x.parts[partName(&c)]; pt != nil && !x.bulk {
		pt.order.remove(x.ordered(id))
	}
	x.deleteID(contactID, id)
	d.alive = false
	// A retired doc stays in posting lists until a rebuild, skipped by
	// its alive flag before anything else is read; its bytes stay in
	// their slab (never rewritten) until then too.
	x.dead++
	x.deadBytes += int(d.end)
}

// get returns the live doc of contact id.
func (x *index) get(contactID string) (*doc, bool) {
	id, ok := x.docID(contactID)
	if !ok {
		return nil, false
	}
	return x.docs.at(id), true
}

// len returns the number of live contacts.
func (x *index) len() int { return x.byID.len() }

// rebuildMinDead is the least number of retired docs worth a rebuild (a
// variable for tests).
var rebuildMinDead = 100000

// settle purges retired docs once they far outnumber live ones, or their
// bytes outweigh the live docs' bytes. It is the only O(n) step left on
// the write path, and it is amortised over at least as many writes as
// the index holds. So the slabs hold at most about twice the live docs'
// bytes (plus rebuildMinDead docs' worth), and the docs slice and
// posting lists at most three times the live docs' entries.
func (x *index) settle() {
	if x.dead <= rebuildMinDead {
		return
	}
	if x.dead > 2*x.len() || x.deadBytes > x.data.size()-x.deadBytes {
		x.rebuild()
	}
}

// rebuild recreates the index from its live docs, dropping retired ones
// and the slabs holding their bytes.
func (x *index) rebuild() {
	live := make([]Contact, 0, x.len())
	for _, d := range x.docs.all() {
		if d.alive {
			live = append(live, d.contact(x))
		}
	}
	slices.SortFunc(live, func(a, b Contact) int { return strings.Compare(a.ID, b.ID) })
	*x = *newIndex()
	for _, c := range live {
		x.put(c)
	}
	x.finish()
}

// finish sorts the index after a bulk load.
func (x *index) finish() {
	for _, pt := range x.parts {
		if x.bulk {
			pt.loading = slices.DeleteFunc(pt.loading, func(id uint32) bool { return !x.docs.at(id).alive })
			slices.SortFunc(pt.loading, x.cmpDoc)
			order := make([]ordered, len(pt.loading))
			for i, id := range pt.loading {
				order[i] = x.ordered(id)
			}
			pt.order.build(order)
			pt.loading = nil
			ts := make([]*term, 0, len(pt.terms))
			for _, t := range pt.terms {
				ts = append(ts, t)
			}
			slices.SortFunc(ts, pt.sorted.cmp)
			pt.sorted.build(ts)
		}
	}
	x.bulk = false
	x.byID.byHash.Compact() // a bulk load leaves up to an eighth of it in a Go map
}

// prefixTerms returns the terms of pt starting with w.
func (pt *part) prefixTerms(w string) []*term {
	var out []*term
	pt.sorted.ascend(func(t *term) bool { return t.tok < w }, func(t *term) bool {
		if !strings.HasPrefix(t.tok, w) {
			return false
		}
		out = append(out, t)
		return true
	})
	return out
}

// parsedQuery is a search text split into folded word prefixes and the
// concatenated digits of its number-like words ("91 550 142" → 91550142).
type parsedQuery struct {
	words    []string
	prefixes []string // "\x00"+word, for doc.matches
	digits   string
}

func parseQuery(text string) parsedQuery {
	var q parsedQuery
	for _, f := range strings.Fields(text) {
		if isNumberWord(f) {
			q.digits += Digits(f)
			continue
		}
		for _, w := range words(f) {
			q.words = append(q.words, w)
			q.prefixes = append(q.prefixes, "\x00"+w)
		}
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

// source returns the most selective posting lists of pt for q (their
// union is a superset of the matches), or ok=false when q has no
// selective part and the caller should walk the order. When q has a
// second selective part (another word, a digit trigram) and the first
// is large, the lists are narrowed to the IDs in both: "acme plomberie"
// then costs the documents holding both words, not all of either.
func (pt *part) source(x *index, q *parsedQuery) (lists []*plist, n int, ok bool) {
	var best, next candidates
	consider := func(c candidates) {
		switch {
		case best.n < 0 || c.n < best.n:
			best, next = c, best
		case next.n < 0 || c.n < next.n:
			next = c
		}
	}
	best.n, next.n = -1, -1
	for _, w := range q.words {
		var c candidates
		for _, t := range pt.prefixTerms(w) {
			c.n += int(t.pl.n)
			c.lists = append(c.lists, &t.pl)
		}
		consider(c)
	}
	if len(q.digits) >= minDigitRun {
		for i := 0; i+3 <= len(q.digits); i++ {
			g := uint16(q.digits[i]-'0')*100 + uint16(q.digits[i+1]-'0')*10 + uint16(q.digits[i+2]-'0')
			var c candidates
			if pl := pt.grams.get(g); pl != nil {
				c.n, c.lists = int(pl.n), []*plist{pl}
			}
			consider(c)
		}
	}
	if best.n > narrowMin && next.n >= 0 {
		both := x.intersect(best.lists, next.lists)
		return []*plist{both}, int(both.n), true
	}
	return best.lists, best.n, best.n >= 0
}

// candidates is a union of posting lists and its size (with repeats).
type candidates struct {
	lists []*plist
	n     int
}

// narrowMin is the candidate count above which a second part of the
// query narrows the first: below it, checking each candidate's text is
// cheaper than reading a second set of lists.
const narrowMin = 2000

// intersect returns, as one posting list, the IDs in a union of a and
// in a union of b.
func (x *index) intersect(a, b []*plist) *plist {
	bs := x.bitset()
	defer bitsetPool.Put(&bs)
	for _, l := range a {
		l.mark(bs)
	}
	var ids []uint32
	for _, l := range b {
		l.each(func(id uint32) bool {
			if w, bit := &bs[id>>6], uint64(1)<<(id&63); *w&bit != 0 {
				*w &^= bit // each ID once, whatever repeats b has
				ids = append(ids, id)
			}
			return true
		})
	}
	clear(bs)
	slices.Sort(ids)
	out := &plist{}
	for _, id := range ids {
		out.add(id)
	}
	return out
}

// bitset returns a zeroed bitset over every doc ID, from bitsetPool; put
// it back zeroed.
func (x *index) bitset() []uint64 {
	words := (x.docs.len() + 63) / 64
	if v, ok := bitsetPool.Get().(*[]uint64); ok && cap(*v) >= words {
		return (*v)[:words]
	}
	return make([]uint64, words)
}

var bitsetPool sync.Pool

// union calls fn with each distinct ID of lists in increasing order,
// until fn returns false.
func (x *index) union(lists []*plist, n int, fn func(uint32) bool) {
	if len(lists) == 1 {
		lists[0].each(fn)
		return
	}
	if n < 4096 {
		ids := make([]uint32, 0, n)
		for _, l := range lists {
			l.each(func(id uint32) bool { ids = append(ids, id); return true })
		}
		slices.Sort(ids)
		for _, id := range slices.Compact(ids) {
			if !fn(id) {
				return
			}
		}
		return
	}
	bs := x.bitset()
	for _, l := range lists {
		l.mark(bs)
	}
	stopped := false
	for i, w := range bs {
		if w == 0 {
			continue
		}
		bs[i] = 0
		for w != 0 && !stopped {
			b := w & -w
			stopped = !fn(uint32(i*64 + bits.TrailingZeros64(b)))
			w ^= b
		}
	}
	bitsetPool.Put(&bs)
}

// Compact contact encoding: strings as uvarint length + bytes, kind and
// phone types as one code byte (0xff + string for unknown values), times
// as a location byte + zigzag seconds + nanoseconds. Owner and Domain are
// interned in the doc instead.

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readStr(s string) (string, string) {
	n, k := uvarintStr(s)
	return s[k : k+int(n)], s[k+int(n):]
}

func uvarintStr(s string) (uint64, int) {
	var x uint64
	var sh uint
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 {
			return x | uint64(c)<<sh, i + 1
		}
		x |= uint64(c&0x7f) << sh
		sh += 7
	}
	return 0, len(s)
}

func readUvarint(s string) (uint64, string) {
	v, k := uvarintStr(s)
	return v, s[k:]
}

func appendTime(b []byte, t time.Time) []byte {
	switch {
	case t.IsZero():
		return append(b, 0)
	case t.Location() == time.UTC:
		b = append(b, 1)
	case t.Location() == time.Local:
		b = append(b, 2)
	default:
		_, off := t.Zone()
		b = append(b, 3)
		b = binary.AppendVarint(b, int64(off))
	}
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

func readTime(s string) (time.Time, string) {
	loc := s[0]
	s = s[1:]
	if loc == 0 {
		return time.Time{}, s
	}
	var off int64
	if loc == 3 {
		u, rest := readUvarint(s)
		off, s = int64(u>>1)^-int64(u&1), rest
	}
	u, s := readUvarint(s)
	sec := int64(u>>1) ^ -int64(u&1)
	ns, s := readUvarint(s)
	t := time.Unix(sec, int64(ns))
	switch loc {
	case 1:
		t = t.UTC()
	case 3:
		t = t.In(time.FixedZone("", int(off)))
	}
	return t, s
}

func encodeContact(b []byte, c *Contact) []byte {
	b = appendStr(b, c.ID)
	if k := kindCode(c.Kind); k != kindCodeOther {
		b = append(b, k)
	} else {
		b = appendStr(append(b, 0xff), string(c.Kind))
	}
	for _, s := range [...]string{c.FirstName, c.LastName, c.Company, c.Department, c.JobTitle} {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Phones)))
	for _, p := range c.Phones {
		if i := slices.Index(phoneTypes, p.Type); i >= 0 {
			b = append(b, byte(i))
		} else {
			b = appendStr(append(b, 0xff), string(p.Type))
		}
		b = appendStr(b, p.Number)
	}
	b = binary.AppendUvarint(b, uint64(len(c.Emails)))
	for _, e := range c.Emails {
		b = appendStr(b, e)
	}
	a := &c.Address
	for _, s := range [...]string{a.Street, a.City, a.Region, a.PostalCode, a.Country, c.Notes} {
		b = appendStr(b, s)
	}
	b = binary.AppendUvarint(b, c.Version)
	b = appendTime(b, c.Created)
	return appendTime(b, c.Updated)
}

func decodeContact(s string) Contact {
	var c Contact
	c.ID, s = readStr(s)
	if s[0] == 0xff {
		var k string
		k, s = readStr(s[1:])
		c.Kind = Kind(k)
	} else {
		c.Kind = [...]Kind{KindPersonal, KindCompany, KindTeam}[s[0]]
		s = s[1:]
	}
	for _, p := range [...]*string{&c.FirstName, &c.LastName, &c.Company, &c.Department, &c.JobTitle} {
		*p, s = readStr(s)
	}
	var n uint64
	if n, s = readUvarint(s); n > 0 {
		c.Phones = make([]Phone, n)
		for i := range c.Phones {
			if s[0] == 0xff {
				var t string
				t, s = readStr(s[1:])
				c.Phones[i].Type = PhoneType(t)
			} else {
				c.Phones[i].Type = phoneTypes[s[0]]
				s = s[1:]
			}
			c.Phones[i].Number, s = readStr(s)
		}
	}
	if n, s = readUvarint(s); n > 0 {
		c.Emails = make([]string, n)
		for i := range c.Emails {
			c.Emails[i], s = readStr(s)
		}
	}
	a := &c.Address
	for _, p := range [...]*string{&a.Street, &a.City, &a.Region, &a.PostalCode, &a.Country, &c.Notes} {
		*p, s = readStr(s)
	}
	c.Version, s = readUvarint(s)
	c.Created, s = readTime(s)
	c.Updated, _ = readTime(s)
	return c
}

// ofKind returns the IDs of team or company contacts of domain (some may
// be retired).
func (x *index) ofKind(kind Kind, domain string) []uint32 {
	switch kind {
	case KindTeam:
		return x.teams[domain]
	case KindCompany:
		return x.companies[domain]
	}
	return nil
}

// companiesOf returns the IDs of the company contacts p's tenant holds
// (every domain's for an operator key); some may be retired.
func (x *index) companiesOf(p accounts.Principal) []uint32 {
	if t := p.Tenant(); t != "" {
		return x.companies[t]
	}
	var ids []uint32
	for _, l := range x.companies {
		ids = append(ids, l...)
	}
	slices.Sort(ids)
	return ids
}

// tenantDocs returns, in increasing order, the IDs of p's personal
// contacts and of the team and company contacts of p's tenant, or of
// every doc for an operator key; some may be retired.
func (x *index) tenantDocs(p accounts.Principal) []uint32 {
	t := p.Tenant()
	if t == "" {
		ids := make([]uint32, x.docs.len())
		for i := range ids {
			ids[i] = uint32(i)
		}
		return ids
	}
	var ids []uint32
	if p.User != "" {
		ids = append(ids, x.owners[p.User]...)
	}
	ids = append(append(ids, x.teams[t]...), x.companies[t]...)
	slices.Sort(ids)
	return ids
}
