package phone

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/switchboardhq/switchboard/directory/keymap"
)

// Rank says how strongly a Lookup result matched. Higher is better.
type Rank uint8

const (
	// RankNone means no stored number matched.
	RankNone Rank = iota
	// RankTrailingDigits means only the last MinTrailingDigits digits
	// matched: a hint, not an identification.
	RankTrailingDigits
	// RankNationalNumber means the national significant number matched but
	// the country differs or is unknown on one side.
	RankNationalNumber
	// RankExact means the same E.164 number, or the same extension.
	RankExact
)

// String returns the rank's name for logs and test output.
func (r Rank) String() string {
	switch r {
	case RankNone:
		return "none"
	case RankTrailingDigits:
		return "trailing_digits"
	case RankNationalNumber:
		return "national_number"
	case RankExact:
		return "exact"
	default:
		return "rank(" + strconv.Itoa(int(r)) + ")"
	}
}

// Result is the outcome of a Lookup.
type Result struct {
	// Owners of the matched number(s), as given to Add: sorted, without
	// duplicates; nil when Rank is RankNone.
	Owners []uint32
	// Rank is the strongest rank at which anything matched.
	Rank Rank
	// Ambiguous is set when several distinct stored numbers matched at
	// Rank; Owners then holds the owners of all of them and the caller
	// should not pick one.
	Ambiguous bool
}

// Key kinds, packed into a key's top bits so that one map holds every
// kind and an extension 2015 never meets a national number 2015.
const (
	keyE164 uint64 = iota
	keyNational
	keyTail
	keyExt
)

// A packed key is a digit string of 1 to maxPacked digits as one uint64:
// kind in bits 62–63, digit count in bits 57–61, value below (10^17 <
// 2^57). The count keeps leading zeros: "0123" and "123" differ. Zero is
// never a key, so it means "none".
const (
	maxPacked   = 17
	kindShift   = 62
	lenShift    = 57
	valueMask   = 1<<lenShift - 1
	spillPrefix = "entx" // a spilled key starts with its kind's letter, as in Number.Keys
)

// pack packs digit string s as a key of kind; E.164 strings carry their
// "+". It fails for anything else (longer, other characters, empty),
// which then lives in the spill map under its string.
func pack(kind uint64, s string) (uint64, bool) {
	if kind == keyE164 {
		if len(s) < 2 || s[0] != '+' {
			return 0, false
		}
		s = s[1:]
	}
	if len(s) == 0 || len(s) > maxPacked {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return kind<<kindShift | uint64(len(s))<<lenShift | v, true
}

// pow10 holds 10^0 to 10^maxPacked.
var pow10 = func() (p [maxPacked + 1]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// key is a map key: packed when p is non-zero, else the spilled string s
// (kind letter first).
type key struct {
	p uint64
	s string
}

// keyOf returns the key of string s of kind.
func keyOf(kind uint64, s string) key {
	if p, ok := pack(kind, s); ok {
		return key{p: p}
	}
	return key{s: spillPrefix[kind:kind+1] + s}
}

// tailKey returns the trailing-digits key of a national number key, if the
// number has that many digits. It equals keyOf(keyTail, tail(national)).
func tailKey(national key, spilled string, k int) (key, bool) {
	if national.p == 0 {
		t, ok := tail(spilled, k)
		if !ok {
			return key{}, false
		}
		return keyOf(keyTail, t), true
	}
	n := int(national.p >> lenShift & 31)
	if k <= 0 || n < k {
		return key{}, false
	}
	v := national.p & valueMask % pow10[k]
	return key{p: keyTail<<kindShift | uint64(k)<<lenShift | v}, true
}

// Entry flags.
const (
	flagExt     uint8 = 1 << iota // an extension: only in the map under national
	flagE164                      // has an E.164 number: "+", cc, national
	flagOddE164                   // has an E.164 number of another form, under its own key
	flagMulti                     // owners are in Index.owners
	flagSpilled                   // keys are in Index.spilled
)

// entry is one distinct stored number and its owner. It holds no
// pointers, so a million of them cost the garbage collector nothing to
// mark: chains are entry numbers, and the rare spilled key or second
// owner lives in a side map. Entries for the same national number or the
// same trailing digits are chained, so a lookup allocates only its result.
//
// An E.164 number is "+", the country code and the national number, so
// it needs no key of its own: the entry with that country code in the
// national number's chain is it (see findE164).
type entry struct {
	national     uint64 // packed national (or extension) key unless spilled
	owner        uint32 // the owner, unless flagMulti
	nextNational uint32 // next entry with the same national number; 0 ends
	nextTail     uint32 // next entry with the same trailing digits; 0 ends
	cc           uint16 // country code; 0 for extensions
	flags        uint8
}

// spilledKeys are the keys of an entry that do not pack, and an E.164
// number not of the form "+", cc, national.
type spilledKeys struct{ e164, national string }

// Entries live in pages so that growing never copies the whole table
// under the write lock; the first page grows like a slice, since most
// indexes (one per owner) are small.
const (
	pageShift = 12
	pageSize  = 1 << pageShift
)

// Index maps telephone numbers to the owners (contacts, users, as uint32
// handles the caller chooses) that own them, for caller-ID lookup. It is
// safe for concurrent use.
//
// Matching rules, strongest first: the same E.164 number (or extension);
// the same national significant number; the same last MinTrailingDigits
// digits. A country code written on the incoming number is authoritative:
// "+32 491 55 01 42" never matches a stored "+33 4 91 55 01 42", not even
// at a weaker rank, because two fully known numbers that differ are
// different lines. A national-format incoming number only assumed the
// default region's country, so it may match other countries' numbers at
// RankNationalNumber or below.
//
// Memory: an entry per distinct number (24 bytes, no pointers) and two
// keys per number (national, trailing digits) in one keymap (12 bytes a
// key, and up to an eighth more in its overlay). Removed entries are reused, so
// the index follows the peak number of distinct numbers, not the number
// of changes.
type Index struct {
	norm     *Normalizer
	trailing int

	// wmu serialises writers, so that a merge of keys can be built
	// holding wmu only while lookups go on under mu (see mergeKeys).
	wmu     sync.Mutex
	mu      sync.RWMutex           // guards the fields below and every entry
	pages   [][]entry              // entry i is pages[i>>pageShift][i&(pageSize-1)]; 0 is unused
	free    []uint32               // removed entries, for reuse
	keys    keymap.Map[uint32]     // packed key → entry (chain head for national and tail keys)
	spill   map[string]uint32      // keys that do not pack; nil until needed
	spilled map[uint32]spilledKeys // by entry, for flagSpilled
	owners  map[uint32][]uint32    // by entry, for flagMulti: sorted, at least two
	count   int                    // distinct numbers stored
	odd     int                    // entries with flagOddE164
}

// NewIndex returns an empty Index that parses with norm.
func NewIndex(norm *Normalizer) *Index {
	x := &Index{norm: norm, trailing: norm.trailing}
	x.keys.Defer()
	return x
}

// Compact merges the keys map whatever its overlay holds, to free the
// memory a bulk load leaves in it.
func (x *Index) Compact() {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	b := x.keys.BuildMerge()
	x.mu.Lock()
	x.keys.InstallMerge(b)
	x.mu.Unlock()
}

// mergeKeys merges the keys map when it needs it: built holding wmu
// (no writer can change it) but not mu, so lookups wait only for the
// install, not for the tens of milliseconds a merge takes at a million
// numbers. Callers hold wmu, not mu.
func (x *Index) mergeKeys() { x.keys.MergeUnder(&x.mu) }

// Normalizer returns the Normalizer the Index parses with; numbers it
// parsed can be given to AddNumber, RemoveNumber and LookupNumber.
func (x *Index) Normalizer() *Normalizer { return x.norm }

// Len returns the number of distinct numbers stored; numbers that differ
// only in formatting count once.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}

// Add records that owner owns the number raw. Adding the same pair again,
// in any formatting, is a no-op. Errors wrap ErrInvalid for unparsable raw.
func (x *Index) Add(owner uint32, raw string) error {
	num, err := x.norm.Parse(raw)
	if err != nil {
		return err
	}
	x.AddNumber(owner, num)
	return nil
}

// AddNumber is Add for a number already parsed by the Index's Normalizer.
func (x *Index) AddNumber(owner uint32, num Number) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	defer x.mergeKeys()
	x.mu.Lock()
	defer x.mu.Unlock()
	i, head := x.findHead(num)
	if i == 0 {
		x.insert(num, owner, head)
		return
	}
	e := x.at(i)
	if e.flags&flagMulti == 0 {
		if e.owner != owner {
			x.setOwners(i, []uint32{min(e.owner, owner), max(e.owner, owner)})
			e.flags |= flagMulti
		}
		return
	}
	ids := x.owners[i]
	if j, found := slices.BinarySearch(ids, owner); !found {
		x.owners[i] = slices.Insert(ids, j, owner)
	}
}

// setOwners records the owners of entry i, creating the side map.
func (x *Index) setOwners(i uint32, ids []uint32) {
	if x.owners == nil {
		x.owners = make(map[uint32][]uint32)
	}
	x.owners[i] = ids
}

// Remove drops owner's ownership of raw, in any formatting, and reports
// whether it had it. A number left without owners is removed from the
// index.
func (x *Index) Remove(owner uint32, raw string) bool {
	num, err := x.norm.Parse(raw)
	if err != nil {
		return false // nothing unparsable was ever added
	}
	return x.RemoveNumber(owner, num)
}

// RemoveNumber is Remove for a number already parsed by the Index's
// Normalizer.
func (x *Index) RemoveNumber(owner uint32, num Number) bool {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	defer x.mergeKeys()
	x.mu.Lock()
	defer x.mu.Unlock()
	i := x.find(num)
	if i == 0 {
		return false
	}
	e := x.at(i)
	if e.flags&flagMulti == 0 {
		if e.owner != owner {
			return false
		}
		x.unlink(i)
		return true
	}
	ids := x.owners[i]
	j, found := slices.BinarySearch(ids, owner)
	if !found {
		return false
	}
	ids = slices.Delete(ids, j, j+1)
	if len(ids) == 1 {
		e.owner, e.flags = ids[0], e.flags&^flagMulti
		delete(x.owners, i)
	} else {
		x.owners[i] = ids
	}
	return true
}

// Lookup normalizes an incoming number and returns who owns it. Errors wrap
// ErrInvalid; callers treating caller-ID as best effort can ignore them,
// since the Result is then RankNone.
func (x *Index) Lookup(raw string) (Result, error) {
	num, err := x.norm.Parse(raw)
	if err != nil {
		return Result{}, err
	}
	return x.LookupNumber(num), nil
}

// LookupNumber is Lookup for a number already parsed by the Index's
// Normalizer.
func (x *Index) LookupNumber(num Number) Result { return x.AppendLookup(nil, num) }

// AppendLookup is LookupNumber with the owners appended to dst[:0], so a
// caller with a buffer on its stack looks up without allocating.
func (x *Index) AppendLookup(dst []uint32, num Number) Result {
	dst = dst[:0]
	x.mu.RLock()
	defer x.mu.RUnlock()
	if num.Kind == KindExtension {
		return x.single(dst, x.get(keyOf(keyExt, num.Digits)), RankExact)
	}
	if num.E164 != "" {
		if i := x.findE164(num.E164); i != 0 {
			return x.single(dst, i, RankExact)
		}
	}
	national := keyOf(keyNational, num.National)
	if num.National != "" {
		if r, ok := x.collect(dst, num, x.get(national), RankNationalNumber, nextNational); ok {
			return r
		}
	}
	if t, ok := tailKey(national, num.National, x.trailing); ok {
		if r, ok := x.collect(dst, num, x.get(t), RankTrailingDigits, nextTail); ok {
			return r
		}
	}
	return Result{}
}

func nextNational(e *entry) uint32 { return e.nextNational }
func nextTail(e *entry) uint32     { return e.nextTail }

// compatible reports whether stored entry e may match num below RankExact:
// an explicit country code on num must agree with e's.
func compatible(num Number, e *entry) bool {
	return num.Kind != KindE164 || e.cc == 0 || int(e.cc) == num.CountryCode
}

// collect gathers the compatible entries of a chain into a Result.
func (x *Index) collect(dst []uint32, num Number, head uint32, rank Rank, next func(*entry) uint32) (Result, bool) {
	var first uint32
	n := 0
	for i := head; i != 0; i = next(x.at(i)) {
		if compatible(num, x.at(i)) {
			if first == 0 {
				first = i
			}
			n++
		}
	}
	switch n {
	case 0:
		return Result{}, false
	case 1:
		return x.single(dst, first, rank), true
	}
	ids := dst
	for i := head; i != 0; i = next(x.at(i)) {
		if e := x.at(i); compatible(num, e) {
			ids = x.appendOwners(ids, i, e)
		}
	}
	slices.Sort(ids)
	return Result{Owners: slices.Compact(ids), Rank: rank, Ambiguous: true}, true
}

// single returns the result for entry i (0: none), its owners appended to
// dst. Owners are copied: the caller must be free to keep them after the
// lock is released.
func (x *Index) single(dst []uint32, i uint32, rank Rank) Result {
	if i == 0 {
		return Result{}
	}
	return Result{Owners: x.appendOwners(dst, i, x.at(i)), Rank: rank}
}

// appendOwners appends the owners of entry i to ids.
func (x *Index) appendOwners(ids []uint32, i uint32, e *entry) []uint32 {
	if e.flags&flagMulti == 0 {
		return append(ids, e.owner)
	}
	return append(ids, x.owners[i]...)
}

// at returns entry i. Callers hold mu.
func (x *Index) at(i uint32) *entry { return &x.pages[i>>pageShift][i&(pageSize-1)] }

// get returns the entry stored under k, or 0. Callers hold mu.
func (x *Index) get(k key) uint32 {
	if k.p != 0 {
		i, _ := x.keys.Get(k.p)
		return i
	}
	return x.spill[k.s]
}

// set stores entry i under k; 0 deletes k. Callers hold mu for writing.
func (x *Index) set(k key, i uint32) {
	switch {
	case k.p != 0 && i != 0:
		x.keys.Set(k.p, i)
	case k.p != 0:
		x.keys.Delete(k.p)
	case i != 0:
		if x.spill == nil {
			x.spill = make(map[string]uint32)
		}
		x.spill[k.s] = i
	default:
		delete(x.spill, k.s)
	}
}

// entryKeys returns the E.164 (zero when none) and national keys of entry
// i, and the national number when it is spilled.
func (x *Index) entryKeys(i uint32, e *entry) (e164, national key, spilledNational string) {
	if e.flags&flagSpilled == 0 {
		return key{}, key{p: e.national}, ""
	}
	sk := x.spilled[i]
	kind := keyNational
	if e.flags&flagExt != 0 {
		kind = keyExt
	}
	if e.flags&flagOddE164 != 0 {
		e164 = keyOf(keyE164, sk.e164)
	}
	return e164, keyOf(kind, sk.national), sk.national
}

// findE164 returns the entry of E.164 number s, or 0. Callers hold mu.
//
// Every split of s into "+", a country code of one to three digits and
// a national number is tried, so the answer is the entry with exactly
// that string, as if E.164 numbers had keys of their own; country codes
// are prefix-free, so for real numbers only one split finds anything.
func (x *Index) findE164(s string) uint32 {
	if x.odd > 0 {
		if i := x.get(keyOf(keyE164, s)); i != 0 {
			return i
		}
	}
	if len(s) < 3 || s[0] != '+' || s[1] == '0' {
		return 0
	}
	cc := 0
	for k := 1; k <= 3 && k+1 < len(s); k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0
		}
		cc = cc*10 + int(c-'0')
		for i := x.get(keyOf(keyNational, s[k+1:])); i != 0; i = x.at(i).nextNational {
			if e := x.at(i); e.flags&flagE164 != 0 && int(e.cc) == cc {
				return i
			}
		}
	}
	return 0
}

// plainE164 reports whether num's E.164 number is "+", its country code
// and its national number, as libphonenumber writes it.
func plainE164(num Number) bool {
	cc := num.CountryCode
	if cc < 1 || cc > 999 || len(num.E164) < 2 || num.E164[0] != '+' {
		return false
	}
	digits := 1
	for p := 10; cc >= p; p *= 10 {
		digits++
	}
	if len(num.E164) != 1+digits+len(num.National) || num.E164[1+digits:] != num.National {
		return false
	}
	for k := digits; k >= 1; k-- {
		if num.E164[k] != byte('0'+cc%10) {
			return false
		}
		cc /= 10
	}
	return true
}

// find returns the stored entry for exactly num, or 0. Callers hold mu.
func (x *Index) find(num Number) uint32 {
	i, _ := x.findHead(num)
	return i
}

// findHead is find also returning the head of num's national chain when
// it read it (for insert; else noHead).
func (x *Index) findHead(num Number) (i, head uint32) {
	switch {
	case num.Kind == KindExtension:
		return x.get(keyOf(keyExt, num.Digits)), noHead
	case num.E164 == "":
	case plainE164(num):
		// Country codes are prefix-free, so of findE164's readings of
		// the E.164 string only the one at num's own code can match:
		// one probe instead of three.
		if x.odd > 0 {
			if i := x.get(keyOf(keyE164, num.E164)); i != 0 {
				return i, noHead
			}
		}
		head = x.get(keyOf(keyNational, num.National))
		for i := head; i != 0; i = x.at(i).nextNational {
			if e := x.at(i); e.flags&flagE164 != 0 && int(e.cc) == num.CountryCode {
				return i, head
			}
		}
		return 0, head
	default:
		return x.findE164(num.E164), noHead
	}
	head = x.get(keyOf(keyNational, num.National))
	for i := head; i != 0; i = x.at(i).nextNational {
		if x.at(i).flags&(flagE164|flagOddE164) == 0 {
			return i, head
		}
	}
	return 0, head
}

// noHead is findHead's "national chain not read": no entry has this number.
const noHead = ^uint32(0)

// alloc returns a zeroed entry number, reusing a removed one. Callers hold
// mu for writing.
func (x *Index) alloc() uint32 {
	if n := len(x.free); n > 0 {
		i := x.free[n-1]
		x.free = x.free[:n-1]
		return i
	}
	if len(x.pages) == 0 {
		x.pages = [][]entry{make([]entry, 1, 8)} // entry 0 means none
	}
	last := len(x.pages) - 1
	if len(x.pages[last]) == pageSize {
		x.pages = append(x.pages, make([]entry, 0, pageSize))
		last++
	}
	x.pages[last] = append(x.pages[last], entry{})
	return uint32(last<<pageShift + len(x.pages[last]) - 1)
}

// insert stores a new entry for num, owned by owner. Callers hold mu for
// writing.
func (x *Index) insert(num Number, owner uint32, head uint32) {
	x.count++
	i := x.alloc()
	e := x.at(i)
	e.owner = owner
	if num.Kind == KindExtension {
		e.flags = flagExt
		k := keyOf(keyExt, num.Digits)
		if k.p != 0 {
			e.national = k.p
		} else {
			e.flags |= flagSpilled
			x.spillKeys(i, spilledKeys{national: num.Digits})
		}
		x.set(k, i)
		return
	}
	e.cc = uint16(num.CountryCode)
	odd := false
	switch {
	case num.E164 == "":
	case plainE164(num):
		e.flags |= flagE164
	default:
		// Not from libphonenumber: keep its own key, so it is found by
		// its exact string as before.
		odd = true
		e.flags |= flagOddE164
		x.odd++
		x.set(keyOf(keyE164, num.E164), i)
	}
	national := keyOf(keyNational, num.National)
	if odd || national.p == 0 {
		e.flags |= flagSpilled
		x.spillKeys(i, spilledKeys{e164: num.E164, national: num.National})
	} else {
		e.national = national.p
	}
	if head == noHead {
		head = x.get(national)
	}
	e.nextNational = head
	x.set(national, i)
	if t, ok := tailKey(national, num.National, x.trailing); ok {
		e.nextTail = x.get(t)
		x.set(t, i)
	}
}

// spillKeys records the keys of entry i that do not pack, holding copies
// so the index shares no memory with its callers' numbers.
func (x *Index) spillKeys(i uint32, sk spilledKeys) {
	if x.spilled == nil {
		x.spilled = make(map[uint32]spilledKeys)
	}
	x.spilled[i] = spilledKeys{e164: strings.Clone(sk.e164), national: strings.Clone(sk.national)}
}

// unlink removes entry i from the map and every chain and frees it.
// Callers hold mu for writing.
func (x *Index) unlink(i uint32) {
	x.count--
	e := x.at(i)
	e164, national, spilledNational := x.entryKeys(i, e)
	if e.flags&flagExt != 0 {
		x.set(national, 0)
	} else {
		if e.flags&flagOddE164 != 0 {
			x.set(e164, 0)
			x.odd--
		}
		x.unchain(national, i, func(p *entry) *uint32 { return &p.nextNational })
		if t, ok := tailKey(national, spilledNational, x.trailing); ok {
			x.unchain(t, i, func(p *entry) *uint32 { return &p.nextTail })
		}
	}
	delete(x.spilled, i)
	delete(x.owners, i)
	*e = entry{}
	x.free = append(x.free, i)
}

// unchain removes entry i from the chain under k, deleting k when the
// chain becomes empty.
func (x *Index) unchain(k key, i uint32, link func(*entry) *uint32) {
	head := x.get(k)
	if head == i {
		x.set(k, *link(x.at(i)))
		return
	}
	for p := head; p != 0; p = *link(x.at(p)) {
		if *link(x.at(p)) == i {
			*link(x.at(p)) = *link(x.at(i))
			return
		}
	}
}
