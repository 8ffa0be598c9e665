package callerid

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// Defaults of Config.
const (
	DefaultDisplayPattern   = "{first} {last} ({company})"
	DefaultMaxDisplayLen    = 24
	DefaultTrailingFallback = 9
	DefaultCacheSize        = 10000
)

// Config configures a Lookup.
type Config struct {
	// DefaultRegion is the ISO 3166 region ("FR") numbers are read in when
	// the callee's SIP domain has no entry in DomainRegions. Required.
	DefaultRegion string
	// DomainRegions maps a SIP domain to its region: a PBX tenant in
	// Germany reads "030 1234567" as Berlin, one in France as an error.
	// Personal, team and company numbers are stored in their domain's
	// region.
	DomainRegions map[string]string
	// DefaultDomain is the SIP domain of a callee given as a bare
	// extension ("201"). Empty means such a callee has no domain and
	// resolves nothing.
	DefaultDomain string
	// MaxExtensionLen is the longest internal extension (0: the phone
	// package default, 6).
	MaxExtensionLen int
	// MinTrailingDigits is the trailing-digit key of the weakest match
	// (0: 7).
	MinTrailingDigits int
	// TrailingFallback applies to incoming numbers that cannot be read
	// at all, typically because a PBX prepended an outside-line or
	// carrier prefix: their last TrailingFallback digits are matched as a
	// national number, and any hit is reported at the trailing-digits
	// rank (never exact, never blocking), ambiguous when several numbers
	// share those digits. 0 means DefaultTrailingFallback, a negative
	// value disables the fallback.
	TrailingFallback int
	// DisplayPattern formats the display name; see displayFormat for the
	// collapsing rules. Empty means DefaultDisplayPattern.
	DisplayPattern string
	// MaxDisplayLen truncates the display to this many characters, ending
	// in a plain "." (0: DefaultMaxDisplayLen; negative: no limit).
	MaxDisplayLen int
	// CacheSize bounds the LRU of parsed incoming numbers, per region
	// (0: DefaultCacheSize; negative: no cache).
	CacheSize int
}

// Marks are the callee's built-in marks on a matched contact.
type Marks struct {
	VIP      bool
	Favorite bool
	Blocked  bool
}

// Result is the caller-ID answer for one incoming call.
type Result struct {
	// ContactID is the matched contact; empty when Ambiguous.
	ContactID string
	// Kind is the kind of the matched contact (or candidates).
	Kind directory.Kind
	// Name is the contact's plain name ("First Last", else company).
	Name string
	// Display is the name formatted and truncated for phone screens. For
	// an ambiguous match it is the name all candidates share, if any.
	Display string
	// E164 is the incoming number in E.164 form, when it has one.
	E164 string
	// Rank says how strongly the number matched.
	Rank phone.Rank
	// Ambiguous is set when several contacts matched at Rank within the
	// winning source; Candidates lists them and no single one is picked.
	Ambiguous  bool
	Candidates []string
	// Marks are the callee's marks on the matched contact, merged with
	// the marks of the callee's personal contact for the number (see
	// Resolve).
	Marks Marks
	// Blocked tells a PBX to reject the call before ringing: the callee
	// blocked this number, matched at the national rank or better. A
	// trailing-digits hint never blocks.
	Blocked bool
	// AOR is the extension of a matched team contact ("201@pbx"), for
	// presence.
	AOR string
}

// regionParser parses incoming numbers for one region, with its cache.
type regionParser struct {
	norm  *phone.Normalizer
	cache *shardedCache // nil when disabled
}

// parse returns the parsed number and whether it is usable.
func (p *regionParser) parse(raw string) (phone.Number, bool) {
	if p.cache != nil {
		if num, ok, found := p.cache.get(raw); found {
			return num, ok
		}
	}
	num, err := p.norm.Parse(raw)
	if err != nil {
		// A number with an extension suffix ("0491550142;ext=12",
		// "+1 650 253 0000 x12") is still the caller's main number.
		if base, cut := stripExtension(raw); cut {
			num, err = p.norm.Parse(base)
			num.Raw = raw
		}
	}
	ok := err == nil
	if p.cache != nil && len(raw) <= 256 {
		p.cache.put(raw, num, ok)
	}
	return num, ok
}

// stripExtension cuts an extension suffix off a bare number: ";ext=",
// "#", " x", "ext" (any case). URIs are left to the phone package, which
// already drops tel: parameters.
func stripExtension(raw string) (string, bool) {
	if strings.ContainsAny(raw, ":<") {
		return raw, false
	}
	cut := len(raw)
	if i := strings.IndexAny(raw, ";#"); i >= 0 {
		cut = i
	}
	lower := strings.ToLower(raw[:cut])
	for _, m := range [...]string{"ext", " x"} {
		if i := strings.Index(lower, m); i > 0 && i < cut {
			cut = i
		}
	}
	if cut == len(raw) || cut == 0 {
		return raw, false
	}
	return strings.TrimSpace(raw[:cut]), true
}

// Lookup resolves incoming numbers to contacts for caller ID. It keeps
// phone indexes beside the Service, updated on every contact change:
// one per SIP domain (tenant) for company contacts, one per domain for
// team contacts and one per owner for personal contacts, so a lookup
// reads three small hash maps whatever the directory size and never
// filters other users' or other tenants' contacts. Marks are read live
// from the Service. Safe for concurrent use.
//
// Memory: a million contacts is a large host's load, so what the Lookup
// keeps per contact holds no pointers for the garbage collector to mark
// (see table and phone.Index): a contact is a slot number, its strings
// live in shared chunks and the indexes map numbers to slot numbers.
//
// Lock order: applyMu, then mu, then each phone.Index's own lock; the
// Service lock is never held while taking mu, and Resolve releases mu
// before reading marks from the Service.
type Lookup struct {
	svc      Source
	log      zerolog.Logger
	display  displayFormat
	fallback int
	defDom   string
	def      *regionParser            // DefaultRegion
	byDomain map[string]*regionParser // from DomainRegions
	regions  map[string]*regionParser // by region, shared by domains

	applyMu sync.Mutex // serialises index updates, so events apply in order
	recBuf  recordBuf  // apply's; guarded by applyMu

	mu       sync.RWMutex            // guards the fields below
	company  map[string]*phone.Index // by domain
	teams    map[string]*phone.Index // by domain
	personal map[string]*phone.Index // by owner AOR
	indexes  []*phone.Index          // every index, numbered for slot.index
	indexOf  map[*phone.Index]uint32 // number of each index in indexes
	tab      *table                  // the contacts; slot numbers are the indexes' owners
	building bool
	closed   bool                    // the build failed; changes are ignored
	pending  []directory.ChangeEvent // received while building
}

// Source is what a Lookup reads of the directory (*directory.Service):
// every live contact once, each change after that, and the callee's
// built-in marks at lookup time.
type Source interface {
	ScanContacts(fn func(c *directory.Contact))
	AddChangeObserver(fn func(directory.ChangeEvent))
	BuiltinMarks(owner string, ids []string) (vip, favorite, blocked bool)
}

var _ Source = (*directory.Service)(nil)

// New builds the caller-ID indexes from every contact of svc (a
// *directory.Service) and keeps them current through svc's change
// observer (chained after any observer already set; an OnChange call
// after New would unhook the Lookup). Parsing the stored numbers
// dominates the build (25–60 µs per number), so it runs on every CPU; ctx
// cancels it.
func New(ctx context.Context, svc Source, cfg Config, log zerolog.Logger) (*Lookup, error) {
	l, err := newLookup(svc, cfg, log)
	if err != nil {
		return nil, err
	}
	// The regions' number tables are built now, even for an empty
	// directory, so that no call waits for them.
	for _, p := range l.regions {
		p.norm.Warm()
	}
	l.building = true
	svc.AddChangeObserver(l.observe)

	// The snapshot goes straight into a table of its own (the Service
	// lock is held, so mu may not be taken); scopes are numbered locally
	// and mapped to indexes after.
	tab := newTable()
	scopes := map[scopeKey]uint32{}
	var scopeList []scopeKey
	var buf recordBuf // apply, which has its own, does not run before the build ends
	svc.ScanContacts(func(c *directory.Contact) {
		k := scopeOf(c)
		n, ok := scopes[k]
		if !ok {
			n = uint32(len(scopeList))
			scopes[k] = n
			scopeList = append(scopeList, k)
		}
		tab.add(l.recordOf(c, &buf), c.Version, n)
	})

	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	l.mu.Lock()
	global := make([]uint32, len(scopeList))
	for i, k := range scopeList {
		global[i] = l.indexOf[l.indexForLocked(k.kind, k.scope)]
	}
	for p := range tab.pages {
		for i := range tab.pages[p] {
			tab.pages[p][i].index = global[tab.pages[p][i].index]
		}
	}
	tab.byHash.Compact() // not yet shared
	l.tab = tab
	indexes := l.indexes
	l.mu.Unlock()

	// Only this build writes the table until applyMu is released, so the
	// workers read it without mu.
	slots := tab.live
	workers := runtime.GOMAXPROCS(0)
	g, gctx := errgroup.WithContext(ctx)
	bad := make([]int, workers)
	numbers := make([]int, workers)
	for w := range workers {
		g.Go(func() error {
			for h := w; h < slots; h += workers {
				if h%4096 == w && gctx.Err() != nil {
					return gctx.Err()
				}
				s := tab.slot(uint32(h))
				x := indexes[s.index]
				failed := false
				rec := tab.record(uint32(h))
				for raw := range strings.SplitSeq(rec.raw, "\x00") {
					if rec.raw == "" {
						break
					}
					numbers[w]++
					if err := x.Add(uint32(h), raw); err != nil {
						failed = true
					}
				}
				if failed {
					bad[w]++
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		// The observer stays chained in the Service: make it a no-op.
		l.mu.Lock()
		l.building, l.closed, l.pending = false, true, nil
		l.mu.Unlock()
		return nil, fmt.Errorf("build caller-id lookup: %w", err)
	}

	for _, x := range indexes {
		x.Compact() // a bulk load leaves up to an eighth of the keys in a Go map
	}
	l.mu.Lock()
	l.building = false
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()
	for _, e := range pending {
		l.apply(e)
	}
	l.log.Info().Int("contacts", slots).Int("numbers", sum(numbers)).Int("unparsable_contacts", sum(bad)).Msg("caller-id lookup built")
	return l, nil
}

func sum(v []int) (n int) {
	for _, x := range v {
		n += x
	}
	return n
}

// newLookup validates cfg and returns an empty Lookup.
func newLookup(svc Source, cfg Config, log zerolog.Logger) (*Lookup, error) {
	if cfg.DisplayPattern == "" {
		cfg.DisplayPattern = DefaultDisplayPattern
	}
	if cfg.MaxDisplayLen == 0 {
		cfg.MaxDisplayLen = DefaultMaxDisplayLen
	}
	if cfg.TrailingFallback == 0 {
		cfg.TrailingFallback = DefaultTrailingFallback
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	var errs []error
	display, err := parseDisplayPattern(cfg.DisplayPattern, max(cfg.MaxDisplayLen, 0))
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.MaxDisplayLen > 0 && cfg.MaxDisplayLen < 4 {
		errs = append(errs, fmt.Errorf("max display length %d: want at least 4", cfg.MaxDisplayLen))
	}
	if cfg.TrailingFallback > 0 && (cfg.TrailingFallback < 6 || cfg.TrailingFallback > 15) {
		errs = append(errs, fmt.Errorf("trailing fallback %d: want 6 to 15 digits", cfg.TrailingFallback))
	}
	l := &Lookup{
		svc: svc, log: log.With().Str("component", "lookup").Logger(),
		display: display, fallback: cfg.TrailingFallback, defDom: normDomain(cfg.DefaultDomain),
		byDomain: map[string]*regionParser{}, regions: map[string]*regionParser{},
		company: map[string]*phone.Index{}, teams: map[string]*phone.Index{}, personal: map[string]*phone.Index{},
		indexOf: map[*phone.Index]uint32{}, tab: newTable(),
	}
	parser := func(region string) (*regionParser, error) {
		region = strings.ToUpper(strings.TrimSpace(region))
		if p, ok := l.regions[region]; ok {
			return p, nil
		}
		n, err := phone.NewNormalizer(phone.Config{DefaultRegion: region, MaxExtensionLen: cfg.MaxExtensionLen, MinTrailingDigits: cfg.MinTrailingDigits})
		if err != nil {
			return nil, err
		}
		p := &regionParser{norm: n}
		if cfg.CacheSize > 0 {
			p.cache = newShardedCache(cfg.CacheSize)
		}
		l.regions[region] = p
		return p, nil
	}
	if l.def, err = parser(cfg.DefaultRegion); err != nil {
		errs = append(errs, fmt.Errorf("default region: %w", err))
	}
	for dom, region := range cfg.DomainRegions {
		p, err := parser(region)
		if err != nil {
			errs = append(errs, fmt.Errorf("region of domain %s: %w", dom, err))
			continue
		}
		l.byDomain[normDomain(dom)] = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("caller-id lookup config: %w", err)
	}
	return l, nil
}

// parserFor returns the parser of domain's region.
func (l *Lookup) parserFor(domain string) *regionParser {
	if p, ok := l.byDomain[domain]; ok {
		return p
	}
	return l.def
}

// scopeKey names a phone index: personal contacts by owner, team and
// company contacts by domain.
type scopeKey struct {
	kind  directory.Kind
	scope string
}

// scopeOf returns the index c belongs in. A contact of another kind goes
// with the company contacts of no domain, as it always has.
func scopeOf(c *directory.Contact) scopeKey {
	switch c.Kind {
	case directory.KindPersonal:
		return scopeKey{c.Kind, c.Owner}
	case directory.KindTeam, directory.KindCompany:
		return scopeKey{c.Kind, normDomain(c.Domain)}
	}
	return scopeKey{directory.KindCompany, ""}
}

// recordOf extracts what the Lookup keeps of c. The strings it builds
// live in buf, which the next call overwrites: the table copies the
// record (add, update) before that. Building them in one buffer spares
// a bulk import half a dozen allocations per row.
func (l *Lookup) recordOf(c *directory.Contact, buf *recordBuf) record {
	b := buf.b[:0]
	// c.DisplayName(): first and last name, trimmed, else the company.
	b = append(b, c.FirstName...)
	b = append(b, ' ')
	b = append(b, c.LastName...)
	nameEnd := len(b)
	b = l.display.appendRender(b, c)
	displayEnd := len(b)
	b = appendClean(b, c.Company)
	companyEnd := len(b)
	// The distinct numbers, in order, "\x00"-separated.
	n := 0
	for i, p := range c.Phones {
		if slices.ContainsFunc(c.Phones[:i], func(q directory.Phone) bool { return q.Number == p.Number }) {
			continue
		}
		if n > 0 {
			b = append(b, 0)
		}
		b = append(b, p.Number...)
		n++
	}
	buf.keep(b)

	s := unsafe.String(unsafe.SliceData(b), len(b))
	r := record{id: c.ID, display: s[nameEnd:displayEnd], company: s[displayEnd:companyEnd], raw: s[companyEnd:]}
	if r.name = strings.TrimSpace(s[:nameEnd]); r.name == "" {
		r.name = c.Company
	}
	return r
}

// recordBuf holds the strings of the last record built by recordOf.
type recordBuf struct{ b []byte }

// keep makes b the buffer of the next record, unless an outsized
// contact grew it: a million rows then do not keep its memory.
func (r *recordBuf) keep(b []byte) {
	if cap(b) <= 4<<10 {
		r.b = b
	} else {
		r.b = nil
	}
}

// indexForLocked returns the index holding contacts of kind in scope,
// creating and numbering it. Callers hold mu for writing.
func (l *Lookup) indexForLocked(kind directory.Kind, scope string) *phone.Index {
	var m map[string]*phone.Index
	region := scope
	switch kind {
	case directory.KindPersonal:
		m = l.personal
		_, dom, _ := accounts.SplitAOR(scope)
		region = normDomain(dom)
	case directory.KindTeam:
		m = l.teams
	default:
		m = l.company
	}
	x := m[scope]
	if x == nil {
		x = phone.NewIndex(l.parserFor(region).norm)
		scope = strings.Clone(scope)
		m[scope] = x
		l.indexOf[x] = uint32(len(l.indexes))
		l.indexes = append(l.indexes, x)
	}
	return x
}

// observe is the Service change observer. It must not block for long:
// while the initial build runs, events are queued and applied after it.
func (l *Lookup) observe(e directory.ChangeEvent) {
	l.mu.Lock()
	if l.building || l.closed {
		if !l.closed {
			l.pending = append(l.pending, e)
		}
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	l.apply(e)
}

// mergeTable merges the table's ID map when it needs it, building the
// merge without mu so that lookups do not wait for it. Callers hold
// applyMu (only they write the table), not mu.
func (l *Lookup) mergeTable() { l.tab.byHash.MergeUnder(&l.mu) }

// apply updates the indexes for one change. Callers hold applyMu, so it
// reads the table without mu: only apply and the build write it. Stored
// numbers are parsed outside mu, so lookups wait only for map writes,
// and each number at most once.
func (l *Lookup) apply(e directory.ChangeEvent) {
	h, found, at := l.tab.findProbe(e.Contact.ID)
	var old slot
	var oldNums []string
	if found {
		old = *l.tab.slot(h)
		// Strings of a record stay valid after it is replaced: slab bytes
		// are never rewritten.
		oldNums = l.tab.record(h).numbers()
	}
	deleted := e.Op == directory.ChangeDeleted
	switch {
	case deleted && !found:
		return
	case !deleted && found && e.Contact.Version < old.version:
		return // stale: replayed after the build saw a newer state
	}

	var oldX, newX *phone.Index
	var nextRaw string
	var r record
	if !deleted {
		r = l.recordOf(&e.Contact, &l.recBuf) // needs no lock: lookups wait less
	}
	l.mu.Lock()
	if found {
		oldX = l.indexes[old.index]
	}
	if !deleted {
		k := scopeOf(&e.Contact)
		newX = l.indexForLocked(k.kind, k.scope)
		if found {
			l.tab.update(h, r, e.Contact.Version, l.indexOf[newX])
		} else {
			h = l.tab.addProbed(r, e.Contact.Version, l.indexOf[newX], at)
		}
		nextRaw = l.tab.record(h).raw
	}
	l.mu.Unlock()
	l.mergeTable()

	if oldX == nil {
		// A new contact (an import's every row): nothing to compare, and
		// adding one number twice in two writings is harmless.
		if nextRaw == "" {
			return
		}
		for raw := range strings.SplitSeq(nextRaw, "\x00") { // the numbers, unallocated
			if num, err := newX.Normalizer().Parse(raw); err != nil {
				l.notIndexed(&e.Contact, err)
			} else {
				newX.AddNumber(h, num)
			}
		}
		return
	}
	nextNums := record{raw: nextRaw}.numbers()
	if oldX == newX && sameNumbers(oldNums, nextNums) {
		return // a change of name or marks: the numbers stay indexed
	}
	// Numbers are compared parsed: "01 42 68 53 00" and "+33 1 42 68 53
	// 00" are one number, and dropping one of them must not unindex the
	// other. A contact moving between indexes of one region (a kind
	// change) has its numbers parsed once.
	type parsed struct {
		num phone.Number
		err error
	}
	var memo map[string]parsed
	if oldX != nil && newX != nil && oldX.Normalizer() == newX.Normalizer() {
		memo = map[string]parsed{}
	}
	parseAll := func(x *phone.Index, raws []string, report bool) map[string]phone.Number {
		out := make(map[string]phone.Number, len(raws))
		for _, raw := range raws {
			p, ok := memo[raw]
			if !ok {
				p.num, p.err = x.Normalizer().Parse(raw)
				if memo != nil {
					memo[raw] = p
				}
			}
			if p.err != nil {
				if report {
					l.notIndexed(&e.Contact, p.err)
				}
				continue
			}
			out[numberKey(p.num)] = p.num
		}
		return out
	}
	var oldSet, nextSet map[string]phone.Number
	if oldX != nil {
		oldSet = parseAll(oldX, oldNums, false)
	}
	if newX != nil {
		nextSet = parseAll(newX, nextNums, true)
	}
	for k, num := range oldSet {
		if _, kept := nextSet[k]; !kept || oldX != newX {
			oldX.RemoveNumber(h, num)
		}
	}
	for k, num := range nextSet {
		if _, had := oldSet[k]; !had || oldX != newX {
			newX.AddNumber(h, num)
		}
	}
	if deleted {
		l.mu.Lock()
		l.tab.remove(h)
		l.mu.Unlock()
	}
}

// notIndexed logs that a number of c could not be read.
func (l *Lookup) notIndexed(c *directory.Contact, err error) {
	ev := l.log.Debug().Str("contact_id", c.ID)
	if c.Kind != directory.KindPersonal {
		ev = ev.Err(err) // the error quotes the number: a personal one is its owner's alone
	}
	ev.Msg("number not indexed for caller id")
}

// numberKey identifies a parsed number as the index stores it: its
// strongest key.
func numberKey(n phone.Number) string {
	if k := n.Keys(0); len(k) > 0 {
		return k[0]
	}
	return "d:" + n.Digits
}

// sameNumbers reports whether a and b hold the same raw numbers.
func sameNumbers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !slices.Contains(b, r) {
			return false
		}
	}
	return true
}

// Resolve returns the contact that number belongs to, as callee sees it,
// and false when nothing matched.
//
// number is the caller as the PBX got it from the trunk: national,
// international, "00"/"+", with separators, or a tel:/sip: URI. callee is
// the called extension, "ext@domain" or a bare "ext" (DefaultDomain),
// optionally as a sip: URI; its domain picks the region the number is
// read in (once per call, cached) and the team index.
//
// Precedence: the strongest rank wins (exact E.164 or extension >
// national number > trailing digits); among equal ranks the callee's
// personal contacts beat company contacts, which beat team contacts.
// So a personal contact matched only by its last digits does not hide a
// company contact matched exactly. The callee's own say about a number
// always counts, though: when the callee keeps the number as a personal
// contact matched at the national rank or better, the marks of that
// contact (VIP, Favorite, Blocked) are merged into the result even when
// another contact supplies the name. Blocked is only set for matches at
// the national rank or better; a trailing-digits hint never rejects a
// call.
//
// Resolve reads the callee's personal contacts and marks: use it only for
// the callee (owner) or a PBX key of the callee's domain. Every other
// reader gets ResolveShared.
func (l *Lookup) Resolve(ctx context.Context, number, callee string) (Result, bool) {
	return l.resolve(ctx, number, callee, true)
}

// ResolveShared is Resolve without the callee's personal contacts and
// marks: only the company contacts of the callee's domain and its team
// members, which every user of that domain may see. It names callers in
// views shared with colleagues (presence, lamps, events) and answers
// lookup keys that are neither the callee nor the domain's PBX.
func (l *Lookup) ResolveShared(ctx context.Context, number, callee string) (Result, bool) {
	return l.resolve(ctx, number, callee, false)
}

func (l *Lookup) resolve(ctx context.Context, number, callee string, personal bool) (Result, bool) {
	if ctx.Err() != nil {
		return Result{}, false
	}
	ext, domain := l.parseCallee(callee)
	owner := ""
	if ext != "" && domain != "" {
		owner = ext + "@" + domain
	}
	num, ok := l.parserFor(domain).parse(number)
	fallback := false
	if !ok {
		if num, ok = l.fallbackNumber(number); !ok {
			return Result{}, false
		}
		fallback = true
	}

	// The sources' answers (kinds in sourceKinds), with their owners in
	// buffers on the stack.
	var src [3]phone.Result
	var owners [3][4]uint32
	l.mu.RLock()
	if x := l.personal[owner]; x != nil && owner != "" && personal {
		src[0] = x.AppendLookup(owners[0][:], num)
	}
	if x := l.company[domain]; x != nil && domain != "" {
		src[1] = x.AppendLookup(owners[1][:], num)
	}
	if x := l.teams[domain]; x != nil && domain != "" {
		src[2] = x.AppendLookup(owners[2][:], num)
	}
	best := -1
	for i := range src {
		if fallback && src[i].Rank > phone.RankTrailingDigits {
			src[i].Rank = phone.RankTrailingDigits
		}
		if src[i].Rank != phone.RankNone && (best < 0 || src[i].Rank > src[best].Rank) {
			best = i
		}
	}
	if best < 0 {
		l.mu.RUnlock()
		return Result{}, false
	}
	win := src[best]
	res := Result{Kind: sourceKinds[best], Rank: win.Rank, E164: num.E164}
	// Owners are slot numbers; the Result speaks contact IDs, in ID order.
	// The strings point into the table's slab, which never rewrites them.
	var buf [2]record
	recs := l.appendRecordsLocked(buf[:0], win.Owners)
	var ids, personalIDs []string
	switch {
	case len(recs) == 0:
		l.mu.RUnlock()
		return Result{}, false // raced with a delete
	case len(recs) == 1 && !win.Ambiguous:
		res.ContactID, res.Name, res.Display = recs[0].id, recs[0].name, recs[0].display
		if personal {
			ids = []string{res.ContactID} // for marks
		}
		if res.Kind == directory.KindTeam {
			res.AOR = strings.TrimPrefix(res.ContactID, directory.TeamContactID(""))
		}
	default:
		ids = make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.id
		}
		res.Ambiguous, res.Candidates = true, ids
		res.Display, res.Name = l.commonName(recs)
	}
	pr := src[0]
	mergePersonal := personal && best != 0 && pr.Rank >= phone.RankNationalNumber && !pr.Ambiguous
	if mergePersonal {
		var pbuf [1]record
		for _, r := range l.appendRecordsLocked(pbuf[:0], pr.Owners) {
			personalIDs = append(personalIDs, r.id)
		}
	}
	l.mu.RUnlock()

	// Marks: the callee's on the winning contact(s) when they share one
	// number, plus those on the callee's personal contact for it.
	if !personal {
		return res, true // marks are the callee's own: not shared
	}
	if !win.Ambiguous {
		res.Marks = l.marks(owner, ids)
	}
	if mergePersonal {
		pm := l.marks(owner, personalIDs)
		res.Marks.VIP = res.Marks.VIP || pm.VIP
		res.Marks.Favorite = res.Marks.Favorite || pm.Favorite
		res.Marks.Blocked = res.Marks.Blocked || pm.Blocked
		res.Blocked = pm.Blocked
	}
	res.Blocked = res.Blocked || (res.Marks.Blocked && res.Rank >= phone.RankNationalNumber && !win.Ambiguous)
	return res, true
}

// appendRecordsLocked appends the records of the live slots among owners
// to recs, sorted by contact ID. Callers hold mu.
func (l *Lookup) appendRecordsLocked(recs []record, owners []uint32) []record {
	for _, h := range owners {
		if l.tab.slotExists(h) && l.tab.slot(h).live {
			recs = append(recs, l.tab.record(h))
		}
	}
	slices.SortFunc(recs, func(a, b record) int { return strings.Compare(a.id, b.id) })
	return recs
}

// sourceKinds are the kinds of resolve's sources, in their order. They
// are kept apart from the answers: escape analysis would otherwise move
// the answers' buffers to the heap along with the returned kind string.
var sourceKinds = [3]directory.Kind{directory.KindPersonal, directory.KindCompany, directory.KindTeam}

// marks returns the built-in marks owner put on any of ids.
func (l *Lookup) marks(owner string, ids []string) (m Marks) {
	m.VIP, m.Favorite, m.Blocked = l.svc.BuiltinMarks(owner, ids)
	return m
}

// commonName returns the display and name every candidate (in ID order)
// shares, else the company they share, else nothing.
func (l *Lookup) commonName(recs []record) (display, name string) {
	var d, nm, co string
	sameD, sameCo := true, true
	for i, e := range recs {
		if i == 0 || (d == "" && nm == "") {
			d, nm, co = e.display, e.name, e.company
			continue
		}
		sameD = sameD && e.display == d
		sameCo = sameCo && e.company == co
	}
	switch {
	case sameD:
		return d, nm
	case sameCo && co != "":
		return truncateDisplay(co, l.display.max), co
	}
	return "", ""
}

// fallbackNumber reads the last TrailingFallback digits of an unreadable
// number as a national number, for a trailing-rank match.
func (l *Lookup) fallbackNumber(raw string) (phone.Number, bool) {
	if l.fallback <= 0 || len(raw) > 256 {
		return phone.Number{}, false
	}
	s := raw
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[i+1:] // tel:, sip:
	}
	if i := strings.IndexAny(s, "@;>"); i >= 0 {
		s = s[:i]
	}
	d := directory.Digits(s)
	if len(d) < l.fallback {
		return phone.Number{}, false
	}
	return phone.Number{Raw: raw, Kind: phone.KindNational, National: d[len(d)-l.fallback:], Digits: d}, true
}

// parseCallee splits a callee with the Lookup's DefaultDomain.
func (l *Lookup) parseCallee(s string) (ext, domain string) { return SplitCallee(s, l.defDom) }

// SplitCallee splits a callee into extension and lower-case domain,
// accepting "ext@domain", "ext", and sip:/sips:/tel: URIs with or without
// a name-addr, port and parameters. A bare extension gets defaultDomain.
func SplitCallee(s, defaultDomain string) (ext, domain string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	for _, scheme := range [...]string{"sip:", "sips:", "tel:"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			s = s[len(scheme):]
			break
		}
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	ext, domain, found := strings.Cut(s, "@")
	if !found {
		return ext, normDomain(defaultDomain)
	}
	return ext, normDomain(domain)
}

// normDomain lower-cases a SIP domain and drops a port.
func normDomain(d string) string {
	d = strings.TrimSpace(d)
	if i := strings.LastIndexByte(d, ':'); i >= 0 && !strings.Contains(d[i:], "]") {
		d = d[:i]
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= 'A' && d[i] <= 'Z' {
			return strings.ToLower(d)
		}
	}
	return d
}

// Len returns the number of contacts the Lookup holds.
func (l *Lookup) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.tab.live
}

// Dial returns raw, a stored number as typed, as a phone of domain dials
// it: in the domain's region, the main number without extension or
// punctuation (phone.Normalizer.Dial), E.164 when e164 is set. ok is
// false when raw is not a number of any reading in that region.
func (l *Lookup) Dial(domain, raw string, e164 bool) (string, bool) {
	p := l.parserFor(normDomain(domain))
	// Stored numbers bypass the cache: it holds incoming numbers, and a
	// phonebook download would evict them.
	num, err := p.norm.Parse(raw)
	if err != nil {
		return "", false
	}
	return p.norm.Dial(num, e164), true
}
