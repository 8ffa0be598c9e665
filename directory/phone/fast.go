package phone

import (
	"encoding/binary"
	"regexp/syntax"
	"sort"
	"strconv"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// The fast path answers the common cases of Parse without phonenumbers'
// regexps, which cost ~15 µs a number, most of a bulk import: a number
// written with "+" (parseFast) and one written nationally in the default
// region (parseNationalFast, fast_national.go). It decides exactly what
// ParseAndKeepRawInput followed by IsValidNumber decide, from the same
// metadata, and says "don't know" (ok=false) wherever it cannot be sure,
// so the slow path answers instead.
//
// The metadata's patterns only ever see ASCII digits here, so each set of
// patterns is compiled once into a DFA over the ten digits: a number is
// then checked against every number type of its region in one pass.

// maxDFAStates bounds the table built for one set of patterns; a region
// whose patterns need more simply keeps the slow path.
const maxDFAStates = 1 << 14

// digitDFA is a DFA over '0'..'9' for a list of patterns. accept[s] has
// bit i set when pattern i matches the digits read to reach state s;
// atEnd[s] when it does provided no digit follows (a "$" in the pattern).
type digitDFA struct {
	next   [][10]int32 // -1: no pattern can match any more
	accept []uint32
	atEnd  []uint32
}

// full returns the patterns that match all of s (as "^(?:p)$" does).
func (d *digitDFA) full(s string) uint32 {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		if st = d.next[st][s[i]-'0']; st < 0 {
			return 0
		}
	}
	return d.accept[st] | d.atEnd[st]
}

// prefix reports whether a pattern matches a prefix of s, the empty one
// included (as "^(?:p)" does).
func (d *digitDFA) prefix(s string) bool {
	st := int32(0)
	for i := 0; ; i++ {
		if d.accept[st] != 0 {
			return true
		}
		if i == len(s) {
			return d.atEnd[st] != 0
		}
		if st = d.next[st][s[i]-'0']; st < 0 {
			return false
		}
	}
}

// nfaThread is pattern index << 16 | instruction index.
type nfaThread uint32

// buildDFA compiles patterns, with Go's regexp syntax as phonenumbers
// compiles them, into one digitDFA. It fails on patterns it cannot read
// exactly (empty-width assertions other than "$") and on DFAs over
// maxDFAStates.
func buildDFA(patterns []string) (*digitDFA, bool) {
	if len(patterns) == 0 || len(patterns) > 32 {
		return nil, false
	}
	progs := make([]*syntax.Prog, len(patterns))
	for i, p := range patterns {
		re, err := syntax.Parse("(?:"+p+")", syntax.Perl)
		if err != nil {
			return nil, false
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil || len(prog.Inst) >= 1<<15 {
			return nil, false
		}
		for _, in := range prog.Inst {
			if in.Op == syntax.InstEmptyWidth && syntax.EmptyOp(in.Arg) != syntax.EmptyEndText {
				return nil, false // "^", "\b" inside a pattern
			}
		}
		progs[i] = prog
	}

	// A state's threads read a digit next; its accept bits say which
	// patterns have matched (now, or if the input ends here).
	type state struct {
		threads       []nfaThread
		accept, atEnd uint32
	}
	// closure adds to st the threads reachable from pc without reading a
	// digit; past a "$" only a match counts, and only at the end.
	var closure func(st *state, seen map[nfaThread]bool, p int, pc uint32, ended bool)
	closure = func(st *state, seen map[nfaThread]bool, p int, pc uint32, ended bool) {
		t := nfaThread(uint32(p)<<16 | pc)
		if ended {
			t |= 1 << 15 // separate from the same instruction before "$"
		}
		if seen[t] {
			return
		}
		seen[t] = true
		in := &progs[p].Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			closure(st, seen, p, in.Out, ended)
			closure(st, seen, p, in.Arg, ended)
		case syntax.InstCapture, syntax.InstNop:
			closure(st, seen, p, in.Out, ended)
		case syntax.InstEmptyWidth: // "$"
			closure(st, seen, p, in.Out, true)
		case syntax.InstMatch:
			if ended {
				st.atEnd |= 1 << p
			} else {
				st.accept |= 1 << p
			}
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			if !ended {
				st.threads = append(st.threads, t)
			}
		}
	}
	key := func(st *state) string {
		sort.Slice(st.threads, func(i, j int) bool { return st.threads[i] < st.threads[j] })
		k := make([]byte, 0, 4*len(st.threads)+8)
		k = binary.BigEndian.AppendUint32(k, st.accept)
		k = binary.BigEndian.AppendUint32(k, st.atEnd)
		for _, t := range st.threads {
			k = binary.BigEndian.AppendUint32(k, uint32(t))
		}
		return string(k)
	}

	d := &digitDFA{}
	index := map[string]int32{}
	var states []*state
	add := func(st *state) (int32, bool) {
		if len(st.threads) == 0 && st.accept == 0 && st.atEnd == 0 {
			return -1, true
		}
		k := key(st)
		if i, ok := index[k]; ok {
			return i, true
		}
		if len(states) == maxDFAStates {
			return 0, false
		}
		i := int32(len(states))
		index[k] = i
		states = append(states, st)
		d.next = append(d.next, [10]int32{})
		d.accept = append(d.accept, st.accept)
		d.atEnd = append(d.atEnd, st.atEnd)
		return i, true
	}
	start, seen := &state{}, map[nfaThread]bool{}
	for p, prog := range progs {
		closure(start, seen, p, uint32(prog.Start), false)
	}
	if i, _ := add(start); i != 0 {
		return nil, false // the patterns match nothing
	}
	for i := 0; i < len(states); i++ {
		for c := 0; c < 10; c++ {
			st, seen := &state{}, map[nfaThread]bool{}
			for _, t := range states[i].threads {
				in := &progs[t>>16].Inst[t&0x7fff]
				if in.MatchRune(rune('0' + c)) {
					closure(st, seen, int(t>>16), in.Out, false)
				}
			}
			next, ok := add(st)
			if !ok {
				return nil, false
			}
			d.next[i][c] = next
		}
	}
	return d, true
}

// Pattern bits of regionTable.types; the number types follow them.
const (
	typeGeneral = iota // the general description every valid number matches
	typeMobile         // counts only if the region's mobile pattern differs from fixed line
)

// regionTable is what IsValidNumberForRegion needs of one region.
type regionTable struct {
	leading *digitDFA // nil: the region has no leading digits
	types   *digitDFA
	// lengths[i] is the possible-length set of pattern i (bit n: length
	// n); 0 when the description gives none, so any length goes.
	lengths []uint32
	// mobile says whether a mobile match makes the number valid.
	mobile bool
}

// valid is getNumberTypeHelper(nsn) != UNKNOWN for the region.
func (r *regionTable) valid(nsn string) bool {
	m := r.types.full(nsn)
	for i, l := range r.lengths {
		if l != 0 && l&(1<<len(nsn)) == 0 {
			m &^= 1 << i
		}
	}
	if m&(1<<typeGeneral) == 0 {
		return false
	}
	if !r.mobile {
		m &^= 1 << typeMobile
	}
	return m&^(1<<typeGeneral) != 0
}

// countryTable is what parsing "+<cc><nsn>" needs of one calling code.
type countryTable struct {
	ok bool // false: some pattern could not be compiled, use the slow path
	// strip replays the main region's national prefix stripping; when it
	// cannot, npfp matches the national prefix for parsing, and if that
	// matches the number, the slow path decides. Both nil: no prefix.
	strip   *prefixStripper
	npfp    *digitDFA
	ccDigit string        // "33"
	regions []regionTable // in the order GetRegionCodeForNumber tries them
	// Possible lengths of the main region's general description, for
	// IsPossibleNumberWithReason; noPattern when it has no pattern.
	possible, localOnly []int32
	noPattern           bool
}

// lazyCountry builds a calling code's table on first use: all of them take
// ~0.2 s, and a directory holds numbers of a few countries.
type lazyCountry struct {
	once  sync.Once
	table *countryTable
	build func() *countryTable
}

func (l *lazyCountry) get() *countryTable {
	l.once.Do(func() { l.table, l.build = l.build(), nil })
	return l.table
}

var (
	fastOnce      sync.Once
	fastCountries *[1000]*lazyCountry // by calling code, 1 to 3 digits
)

// country returns the table for calling code cc, nil if cc is not one.
func country(cc int) *countryTable {
	fastOnce.Do(func() { fastCountries = lazyCountries() })
	if l := fastCountries[cc]; l != nil {
		return l.get()
	}
	return nil
}

func lazyCountries() *[1000]*lazyCountry {
	countries := new([1000]*lazyCountry)
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return countries // the slow path answers, and fails the same way
	}
	// Keyed as phonenumbers keys its own maps: by region, and by calling
	// code for the non-geographical entity "001"; later entries win.
	byRegion := map[string]*phonenumbers.PhoneMetadata{}
	nonGeo := map[int]*phonenumbers.PhoneMetadata{}
	for _, m := range coll.GetMetadata() {
		if m.GetId() == "001" {
			nonGeo[int(m.GetCountryCode())] = m
		} else {
			byRegion[m.GetId()] = m
		}
	}
	for cc := range phonenumbers.GetSupportedCallingCodes() {
		if cc <= 0 || cc >= len(countries) {
			continue // not a code "+" and three digits can spell
		}
		countries[cc] = &lazyCountry{build: func() *countryTable {
			return buildCountryTable(cc, byRegion, nonGeo)
		}}
	}
	return countries
}

func buildCountryTable(cc int, byRegion map[string]*phonenumbers.PhoneMetadata, nonGeo map[int]*phonenumbers.PhoneMetadata) *countryTable {
	t := &countryTable{ccDigit: strconv.Itoa(cc)}
	regions := phonenumbers.GetRegionCodesForCountryCode(cc)
	if len(regions) == 0 {
		return t
	}
	metaFor := func(region string) *phonenumbers.PhoneMetadata {
		if region == "001" {
			return nonGeo[cc]
		}
		return byRegion[region]
	}
	main := metaFor(regions[0])
	if main == nil {
		return t
	}
	if strip, ok := newPrefixStripper(main); ok {
		t.strip = strip
	} else {
		d, ok := buildDFA([]string{main.GetNationalPrefixForParsing()})
		if !ok {
			return t
		}
		t.npfp = d
	}
	general := main.GetGeneralDesc()
	t.noPattern = general.GetNationalNumberPattern() == ""
	if !t.noPattern {
		t.possible = general.GetPossibleLength()
		t.localOnly = general.GetPossibleLengthLocalOnly()
		if len(t.possible) == 0 {
			return t // testNumberLength would index an empty list
		}
	}
	for _, region := range regions {
		m := metaFor(region)
		if m == nil || int(m.GetCountryCode()) != cc {
			return t
		}
		r, ok := buildRegionTable(m, len(regions) > 1)
		if !ok {
			return t
		}
		t.regions = append(t.regions, r)
	}
	t.ok = true
	return t
}

// buildRegionTable compiles a region's number types; withLeading also its
// leading digits, which pick the region among those sharing a code.
func buildRegionTable(m *phonenumbers.PhoneMetadata, withLeading bool) (regionTable, bool) {
	r := regionTable{mobile: !m.GetSameMobileAndFixedLinePattern()}
	if p := m.GetLeadingDigits(); withLeading && p != "" {
		d, ok := buildDFA([]string{p})
		if !ok {
			return r, false
		}
		r.leading = d
	}
	descs := []*phonenumbers.PhoneNumberDesc{
		typeGeneral: m.GetGeneralDesc(),
		typeMobile:  m.GetMobile(),
	}
	descs = append(descs, m.GetPremiumRate(), m.GetTollFree(), m.GetSharedCost(), m.GetVoip(),
		m.GetPersonalNumber(), m.GetPager(), m.GetUan(), m.GetVoicemail(), m.GetFixedLine())
	patterns := make([]string, len(descs))
	r.lengths = make([]uint32, len(descs))
	for i, desc := range descs {
		// A missing description has pattern "": "^(?:)$" matches only
		// the empty string, which is never a national number here.
		patterns[i] = desc.GetNationalNumberPattern()
		if patterns[i] == "" {
			patterns[i] = "[^\\d\\D]" // matches nothing
		}
		l, ok := lengthSet(desc.GetPossibleLength())
		if !ok {
			return r, false
		}
		r.lengths[i] = l
	}
	d, ok := buildDFA(patterns)
	if !ok {
		return r, false
	}
	r.types = d
	return r, true
}

// lengthSet turns possible lengths into a bit set (bit n: length n), 0 for
// none given, when any length goes. A non-empty list also sets bit 0, no
// national number's length, so that a list holding only -1 ("no numbers
// of this type") still rejects every length. false: a length out of range.
func lengthSet(lengths []int32) (uint32, bool) {
	if len(lengths) == 0 {
		return 0, true
	}
	s := uint32(1)
	for _, l := range lengths {
		switch {
		case l == -1:
		case l < 1 || l > 31:
			return 0, false
		default:
			s |= 1 << l
		}
	}
	return s, true
}

// parseFast reads full = "+" + ASCII digits as the readings of a number
// without "+" do: only a valid number is accepted (the error then means
// neither valid nor possible). ok is false when the slow path must
// decide.
func parseFast(num Number, full string) (_ Number, _ error, ok bool) {
	return parseFastAt(num, full, false)
}

// parseFastAt is parseInternational for full = "+" + ASCII digits when
// possible is set: a number only possible is accepted as fillPossible
// would.
func parseFastAt(num Number, full string, possible bool) (_ Number, _ error, ok bool) {
	if len(full) < 4 || full[0] != '+' {
		// ParseAndKeepRawInput refuses fewer than three digits after "+".
		return Number{}, nil, false
	}
	digits := full[1:]
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return Number{}, nil, false
		}
	}
	// Calling codes are prefix-free and never start with 0; an unknown
	// one makes libphonenumber retry with the region's IDD.
	var t *countryTable
	cc := 0
	for i := 1; i <= 3 && t == nil; i++ {
		cc = cc*10 + int(digits[i-1]-'0')
		if cc == 0 {
			return Number{}, nil, false
		}
		if t = country(cc); t != nil {
			digits = digits[i:]
		}
	}
	if t == nil || !t.ok {
		return Number{}, nil, false
	}
	if len(digits) < 2 {
		return Number{}, nil, false // too short to parse
	}
	nsn := digits
	switch {
	case t.strip != nil:
		nsn = t.strip.strip(digits)
	case t.npfp != nil && t.npfp.prefix(digits):
		return Number{}, nil, false // a national prefix might be stripped
	}
	// Out of libphonenumber's NSN bounds it fails to parse; an all-zero
	// number parses to 0 and formats as its raw input.
	if len(nsn) < 2 || len(nsn) > 17 || allZeros(nsn) {
		return Number{}, nil, false
	}
	if t.isValid(nsn) {
		return e164Number(num, cc, full, t.ccDigit, nsn, len(nsn) != len(digits)), nil, true
	}
	if !t.isPossible(nsn) {
		return Number{}, invalid(num.Raw, "not a possible international number"), true
	}
	if !possible {
		return Number{}, nil, false // fillPossible's round trip decides
	}
	// Only possible: fillPossible keeps it when its E.164 form parses
	// back to itself, which holds when parsing "+cc"+nsn strips nothing
	// more. Leading zeros (kept by flags libphonenumber sets) are left to
	// the slow path.
	again := nsn
	switch {
	case t.strip != nil:
		again = t.strip.strip(nsn)
	case t.npfp != nil && t.npfp.prefix(nsn):
		return Number{}, nil, false
	}
	if again != nsn || nsn[0] == '0' {
		return Number{}, nil, false
	}
	return e164Number(num, cc, full, t.ccDigit, nsn, len(nsn) != len(digits)), nil, true
}

// e164Number is num filled as fill does for calling code cc and national
// number nsn: National shares E164's bytes; with nothing stripped, full
// is the E.164 form.
func e164Number(num Number, cc int, full, ccDigits, nsn string, stripped bool) Number {
	num.Kind, num.CountryCode = KindE164, cc
	if stripped {
		num.E164 = "+" + ccDigits + nsn
	} else {
		num.E164 = full
	}
	num.National = num.E164[len(num.E164)-len(nsn):]
	return num
}

// isValid is IsValidNumber: GetRegionCodeForNumber, then the number types
// of that region.
func (t *countryTable) isValid(nsn string) bool {
	if len(t.regions) == 1 {
		return t.regions[0].valid(nsn)
	}
	for i := range t.regions {
		r := &t.regions[i]
		if r.leading != nil {
			if r.leading.prefix(nsn) {
				return r.valid(nsn)
			}
		} else if r.valid(nsn) {
			return true
		}
	}
	return false
}

// isPossible is IsPossibleNumberWithReason(…) == IS_POSSIBLE, following
// testNumberLength step by step: it trusts the first and last lengths to
// be the shortest and longest.
func (t *countryTable) isPossible(nsn string) bool {
	if t.noPattern {
		return len(nsn) >= 2 && len(nsn) <= 17
	}
	n, lengths := int32(len(nsn)), t.possible
	if lengths[0] == -1 {
		return false // INVALID_LENGTH
	}
	for _, l := range t.localOnly {
		if l == n {
			return false // IS_POSSIBLE_LOCAL_ONLY
		}
	}
	if n == lengths[0] {
		return true
	}
	if n < lengths[0] || n > lengths[len(lengths)-1] {
		return false
	}
	for _, l := range lengths[1:] {
		if l == n {
			return true
		}
	}
	return false
}

func allZeros(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
