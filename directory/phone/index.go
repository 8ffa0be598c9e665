package phone

import (
	"errors"
	"slices"
	"strconv"
	"sync"
)

// errEmptyID rejects an Add or Remove without an owner; it is a programming
// error, so it is not exported for branching.
var errEmptyID = errors.New("empty id")

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
	// IDs owning the matched number(s), sorted; nil when Rank is RankNone.
	IDs []string
	// Rank is the strongest rank at which anything matched.
	Rank Rank
	// Ambiguous is set when several distinct stored numbers matched at
	// Rank; IDs then holds the owners of all of them and the caller should
	// not pick one.
	Ambiguous bool
}

// entry is one distinct stored number and the IDs that own it. Entries for
// the same national number or the same trailing digits are chained, so the
// maps hold one pointer per key and a lookup allocates nothing.
type entry struct {
	e164     string // "" for extensions and local-only numbers
	national string // shares e164's bytes when e164 is set
	ext      string // extension digits, only for extensions
	cc       int    // 0 for extensions
	ids      []string

	nextNational *entry // next entry with the same national number
	nextTail     *entry // next entry with the same trailing digits
}

// Index maps telephone numbers to the IDs (contacts, users) that own them,
// for caller-ID lookup. It is safe for concurrent use.
//
// Matching rules, strongest first: the same E.164 number (or extension);
// the same national significant number; the same last MinTrailingDigits
// digits. A country code written on the incoming number is authoritative:
// "+32 491 55 01 42" never matches a stored "+33 4 91 55 01 42", not even
// at a weaker rank, because two fully known numbers that differ are
// different lines. A national-format incoming number only assumed the
// default region's country, so it may match other countries' numbers at
// RankNationalNumber or below.
type Index struct {
	norm     *Normalizer
	trailing int

	mu         sync.RWMutex      // guards the maps below and every entry reachable from them
	byE164     map[string]*entry // E.164 → entry
	byNational map[string]*entry // national significant number → chain via nextNational
	byTail     map[string]*entry // trailing digits → chain via nextTail
	byExt      map[string]*entry // extension → entry
	count      int               // distinct numbers stored
}

// NewIndex returns an empty Index that parses with norm.
func NewIndex(norm *Normalizer) *Index {
	return &Index{
		norm:       norm,
		trailing:   norm.trailing,
		byE164:     make(map[string]*entry),
		byNational: make(map[string]*entry),
		byTail:     make(map[string]*entry),
		byExt:      make(map[string]*entry),
	}
}

// Len returns the number of distinct numbers stored; numbers that differ
// only in formatting count once.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.count
}

// Add records that id owns the number raw. Adding the same pair again, in
// any formatting, is a no-op. Errors wrap ErrInvalid for unparsable raw.
func (x *Index) Add(id, raw string) error {
	if id == "" {
		return errEmptyID
	}
	num, err := x.norm.Parse(raw)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.find(num)
	if e == nil {
		e = x.insert(num)
	}
	if i, found := slices.BinarySearch(e.ids, id); !found {
		e.ids = slices.Insert(e.ids, i, id)
	}
	return nil
}

// Remove drops id's ownership of raw, in any formatting, and reports whether
// it had it. A number left without owners is removed from the index.
func (x *Index) Remove(id, raw string) bool {
	num, err := x.norm.Parse(raw)
	if err != nil || id == "" {
		return false // nothing unparsable was ever added
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	e := x.find(num)
	if e == nil {
		return false
	}
	i, found := slices.BinarySearch(e.ids, id)
	if !found {
		return false
	}
	e.ids = slices.Delete(e.ids, i, i+1)
	if len(e.ids) == 0 {
		x.unlink(e)
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
func (x *Index) LookupNumber(num Number) Result {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if num.Kind == KindExtension {
		return single(x.byExt[num.Digits], RankExact)
	}
	if num.E164 != "" {
		if e := x.byE164[num.E164]; e != nil {
			return single(e, RankExact)
		}
	}
	if num.National != "" {
		if r, ok := x.collect(num, x.byNational[num.National], RankNationalNumber, nextNational); ok {
			return r
		}
	}
	if t, ok := tail(num.National, x.trailing); ok {
		if r, ok := x.collect(num, x.byTail[t], RankTrailingDigits, nextTail); ok {
			return r
		}
	}
	return Result{}
}

func nextNational(e *entry) *entry { return e.nextNational }
func nextTail(e *entry) *entry     { return e.nextTail }

// compatible reports whether stored entry e may match num below RankExact:
// an explicit country code on num must agree with e's.
func compatible(num Number, e *entry) bool {
	return num.Kind != KindE164 || e.cc == 0 || e.cc == num.CountryCode
}

// collect gathers the compatible entries of a chain into a Result.
func (x *Index) collect(num Number, head *entry, rank Rank, next func(*entry) *entry) (Result, bool) {
	var first *entry
	n := 0
	for e := head; e != nil; e = next(e) {
		if compatible(num, e) {
			if first == nil {
				first = e
			}
			n++
		}
	}
	switch n {
	case 0:
		return Result{}, false
	case 1:
		return single(first, rank), true
	}
	var ids []string
	for e := head; e != nil; e = next(e) {
		if compatible(num, e) {
			ids = append(ids, e.ids...)
		}
	}
	slices.Sort(ids)
	return Result{IDs: slices.Compact(ids), Rank: rank, Ambiguous: true}, true
}

// single returns the result for one entry. IDs are copied: the caller must
// be free to keep them after the lock is released and the entry changes.
func single(e *entry, rank Rank) Result {
	if e == nil {
		return Result{}
	}
	return Result{IDs: slices.Clone(e.ids), Rank: rank}
}

// find returns the stored entry for exactly num, or nil. Callers hold mu.
func (x *Index) find(num Number) *entry {
	switch {
	case num.Kind == KindExtension:
		return x.byExt[num.Digits]
	case num.E164 != "":
		return x.byE164[num.E164]
	}
	for e := x.byNational[num.National]; e != nil; e = e.nextNational {
		if e.e164 == "" {
			return e
		}
	}
	return nil
}

// insert stores a new entry for num. Callers hold mu for writing.
func (x *Index) insert(num Number) *entry {
	x.count++
	if num.Kind == KindExtension {
		e := &entry{ext: num.Digits}
		x.byExt[e.ext] = e
		return e
	}
	e := &entry{e164: num.E164, national: num.National, cc: num.CountryCode}
	if e.e164 != "" {
		x.byE164[e.e164] = e
	}
	e.nextNational = x.byNational[e.national]
	x.byNational[e.national] = e
	if t, ok := tail(e.national, x.trailing); ok {
		e.nextTail = x.byTail[t]
		x.byTail[t] = e
	}
	return e
}

// unlink removes e from every map and chain. Callers hold mu for writing.
func (x *Index) unlink(e *entry) {
	x.count--
	if e.ext != "" {
		delete(x.byExt, e.ext)
		return
	}
	if e.e164 != "" {
		delete(x.byE164, e.e164)
	}
	unchain(x.byNational, e.national, e, func(p *entry) **entry { return &p.nextNational })
	if t, ok := tail(e.national, x.trailing); ok {
		unchain(x.byTail, t, e, func(p *entry) **entry { return &p.nextTail })
	}
}

// unchain removes e from the chain m[key], deleting the key when the chain
// becomes empty.
func unchain(m map[string]*entry, key string, e *entry, link func(*entry) **entry) {
	head := m[key]
	if head == e {
		if nx := *link(e); nx != nil {
			m[key] = nx
		} else {
			delete(m, key)
		}
		return
	}
	for p := head; p != nil; p = *link(p) {
		if *link(p) == e {
			*link(p) = *link(e)
			return
		}
	}
}
