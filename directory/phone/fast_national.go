package phone

import (
	"strconv"
	"strings"
	"sync"

	"github.com/nyaruka/phonenumbers"
)

// nationalTable is what reading a digit string as a national number of the
// default region needs: ParseAndKeepRawInput(digits, region) followed by
// IsValidNumber, the first reading parseNational tries.
type nationalTable struct {
	cc      int
	ccDigit string // the calling code, which libphonenumber may read off the front
	// The region's international prefix: its alternatives when each has
	// a fixed length, else a DFA that sends every match to the slow path.
	iddAlts []prefixAlt
	idd     *digitDFA
	strip   *prefixStripper
	country *countryTable
}

// buildNationalTable returns nil when the region's rules are more than the
// fast path reads (see prefixStripper).
func buildNationalTable(region string) *nationalTable {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil
	}
	var m *phonenumbers.PhoneMetadata
	for _, md := range coll.GetMetadata() {
		if md.GetId() == region {
			m = md // later entries win, as in phonenumbers' own map
		}
	}
	if m == nil {
		return nil
	}
	t := &nationalTable{cc: int(m.GetCountryCode())}
	t.ccDigit = strconv.Itoa(t.cc)
	if t.country = country(t.cc); t.country == nil || !t.country.ok {
		return nil
	}
	var ok bool
	if t.strip, ok = newPrefixStripper(m); !ok {
		return nil
	}
	// Unanchored, as parsePrefixAsIdd uses it; only a match at the start
	// counts, and that is the leftmost one if there is one.
	if t.iddAlts, ok = fixedAlts(m.GetInternationalPrefix()); !ok {
		if t.idd, ok = buildDFA([]string{m.GetInternationalPrefix()}); !ok {
			return nil
		}
	}
	return t
}

// lengthResult is testNumberLength(nsn, metadata, UNKNOWN) for the
// general description's lengths.
func lengthResult(n int32, possible, localOnly []int32) phonenumbers.ValidationResult {
	if possible[0] == -1 {
		return phonenumbers.INVALID_LENGTH
	}
	for _, l := range localOnly {
		if l == n {
			return phonenumbers.IS_POSSIBLE_LOCAL_ONLY
		}
	}
	switch {
	case n == possible[0]:
		return phonenumbers.IS_POSSIBLE
	case n < possible[0]:
		return phonenumbers.TOO_SHORT
	case n > possible[len(possible)-1]:
		return phonenumbers.TOO_LONG
	}
	for _, l := range possible[1:] {
		if l == n {
			return phonenumbers.IS_POSSIBLE
		}
	}
	return phonenumbers.INVALID_LENGTH
}

// verdict is what the fast path knows of a reading.
type verdict uint8

const (
	verdictUnknown  verdict = iota // the slow path must decide
	verdictValid                   // the reading is a valid number
	verdictNotValid                // the reading fails to parse or is not valid
)

// parseNationalFast decides parseNational's first reading,
// ParseAndKeepRawInput(digits, region) and IsValidNumber: read nationally,
// or internationally behind the region's IDD. With valid it returns the
// Number parseNational returns.
func (t *nationalTable) parseNationalFast(num Number) (Number, verdict) {
	digits := num.Digits
	if len(digits) < 3 || len(digits) > maxDigits || allZeros(digits) {
		return Number{}, verdictUnknown
	}
	if t.idd != nil && t.idd.prefix(digits) {
		return Number{}, verdictUnknown // an IDD the fast path cannot measure
	}
	if n, ok := matchAlts(t.iddAlts, digits); ok {
		// parsePrefixAsIdd: an IDD followed by 0 is no IDD, and the number
		// is read nationally; the slow path does that. Past an IDD, the
		// number is read as if written with "+".
		if n < len(digits) && digits[n] == '0' {
			return Number{}, verdictUnknown
		}
		switch out, err, ok := parseFast(num, "+"+digits[n:]); {
		case !ok:
			return Number{}, verdictUnknown
		case err != nil:
			return Number{}, verdictNotValid
		default:
			return out, verdictValid
		}
	}
	if strings.HasPrefix(digits, t.ccDigit) {
		// The region's own calling code in front: libphonenumber may
		// read the number as international.
		return Number{}, verdictUnknown
	}
	nsn := t.strip.strip(digits)
	if len(nsn) < 2 || len(nsn) > 17 {
		return Number{}, verdictNotValid // libphonenumber fails to parse it
	}
	if !t.country.isValid(nsn) {
		return Number{}, verdictNotValid
	}
	if allZeros(nsn) {
		return Number{}, verdictUnknown // fill refuses it
	}
	num.Kind = KindNational
	num.CountryCode = t.cc
	num.E164 = "+" + t.ccDigit + nsn
	num.National = num.E164[len(num.E164)-len(nsn):]
	return num, verdictValid
}

// nationalTables memoizes buildNationalTable by region.
var nationalTables sync.Map // region → *lazyNational

// lazyNational builds a region's nationalTable on first use.
type lazyNational struct {
	region string
	once   sync.Once
	table  *nationalTable
}

// lazyNationalFor returns the region's shared lazyNational.
func lazyNationalFor(region string) *lazyNational {
	if v, ok := nationalTables.Load(region); ok {
		return v.(*lazyNational)
	}
	v, _ := nationalTables.LoadOrStore(region, &lazyNational{region: region})
	return v.(*lazyNational)
}

// get returns the table, nil when the fast path does not read the
// region's rules.
func (l *lazyNational) get() *nationalTable {
	l.once.Do(func() { l.table = buildNationalTable(l.region) })
	return l.table
}
