package phone

import (
	"regexp/syntax"

	"github.com/nyaruka/phonenumbers"
)

// prefixStripper replays maybeStripNationalPrefixAndCarrierCode and the
// length check parseHelper makes after it, for a region whose national
// prefix for parsing has no transform rule and is a list of alternatives
// each matching a fixed number of digits ("0", "0|180020", "(183[12])|0").
// The regexp's leftmost-first match is then the first alternative the
// number starts with, and its length is known.
type prefixStripper struct {
	alts    []prefixAlt
	general *digitDFA // the general description, for viability
	// Possible lengths of the general description, for testNumberLength.
	possible, localOnly []int32
}

type prefixAlt struct {
	dfa *digitDFA
	n   int // digits every match has
}

// newPrefixStripper returns false when m's rules are more than it reads.
func newPrefixStripper(m *phonenumbers.PhoneMetadata) (*prefixStripper, bool) {
	general := m.GetGeneralDesc()
	s := &prefixStripper{possible: general.GetPossibleLength(), localOnly: general.GetPossibleLengthLocalOnly()}
	npfp := m.GetNationalPrefixForParsing()
	if npfp == "" {
		return s, true // nothing to strip
	}
	if m.GetNationalPrefixTransformRule() != "" || general.GetNationalNumberPattern() == "" || len(s.possible) == 0 {
		return nil, false
	}
	var ok bool
	if s.general, ok = buildDFA([]string{general.GetNationalNumberPattern()}); !ok {
		return nil, false
	}
	if s.alts, ok = fixedAlts(npfp); !ok {
		return nil, false
	}
	return s, true
}

// fixedAlts splits pattern into its top-level alternatives, in priority
// order; false unless each matches a fixed number of digits.
func fixedAlts(pattern string) ([]prefixAlt, bool) {
	re, err := syntax.Parse("(?:"+pattern+")", syntax.Perl)
	if err != nil {
		return nil, false
	}
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpAlternate {
		subs = re.Sub
	}
	alts := make([]prefixAlt, 0, len(subs))
	for _, sub := range subs {
		n, ok := fixedLen(sub)
		if !ok {
			return nil, false
		}
		d, ok := buildDFA([]string{sub.String()})
		if !ok {
			return nil, false
		}
		alts = append(alts, prefixAlt{dfa: d, n: n})
	}
	return alts, true
}

// matchAlts returns the length of the leftmost-first match of alts at the
// start of digits.
func matchAlts(alts []prefixAlt, digits string) (int, bool) {
	for _, alt := range alts {
		if len(digits) >= alt.n && alt.dfa.prefix(digits[:alt.n]) {
			return alt.n, true
		}
	}
	return 0, false
}

// fixedLen returns the length of every string re matches, if it is fixed.
func fixedLen(re *syntax.Regexp) (int, bool) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return 0, true
	case syntax.OpLiteral:
		return len(re.Rune), true
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, true
	case syntax.OpCapture:
		return fixedLen(re.Sub[0])
	case syntax.OpRepeat:
		n, ok := fixedLen(re.Sub[0])
		return n * re.Min, ok && re.Min == re.Max
	case syntax.OpConcat, syntax.OpAlternate:
		total, first := 0, -1
		for _, sub := range re.Sub {
			n, ok := fixedLen(sub)
			if !ok || (re.Op == syntax.OpAlternate && first >= 0 && n != first) {
				return 0, false
			}
			first = n
			total += n
		}
		if re.Op == syntax.OpAlternate {
			return first, first >= 0
		}
		return total, true
	}
	return 0, false
}

// strip returns the national number libphonenumber keeps of digits.
func (s *prefixStripper) strip(digits string) string {
	n, ok := matchAlts(s.alts, digits)
	if !ok {
		return digits
	}
	// A viable number that stripping would make unviable is kept; the
	// stripped one is kept only if its length is possible.
	rest := digits[n:]
	if s.general.full(digits) != 0 && s.general.full(rest) == 0 {
		return digits
	}
	switch lengthResult(int32(len(rest)), s.possible, s.localOnly) {
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY, phonenumbers.INVALID_LENGTH:
		return digits
	}
	return rest
}
