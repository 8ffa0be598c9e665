package ldap

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	ber "github.com/go-asn1-ber/asn1-ber"
	goldap "github.com/go-ldap/ldap/v3"
	"golang.org/x/text/unicode/norm"
)

// errFilter reports a filter this server cannot evaluate.
var errFilter = errors.New("unsupported filter")

// maxFilterDepth bounds nesting, so a hostile filter cannot make
// evaluation recurse without limit.
const maxFilterDepth = 16

// filter is a compiled RFC 4515 search filter.
type filter struct {
	op       uint64 // goldap.FilterAnd … goldap.FilterPresent
	attr     string // lower-case attribute description
	value    string // equality, >=, <= assertion value
	initial  string // substring parts
	any      []string
	final    string
	children []*filter
}

// parseFilter compiles the string form of a filter (gldap hands us the
// request's filter decompiled to text).
func parseFilter(s string) (*filter, error) {
	p, err := goldap.CompileFilter(s)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", s, err)
	}
	return fromPacket(p, 0)
}

func fromPacket(p *ber.Packet, depth int) (*filter, error) {
	if depth > maxFilterDepth {
		return nil, fmt.Errorf("filter nested deeper than %d: %w", maxFilterDepth, errFilter)
	}
	f := &filter{op: uint64(p.Tag)}
	switch f.op {
	case goldap.FilterAnd, goldap.FilterOr, goldap.FilterNot:
		for _, c := range p.Children {
			cf, err := fromPacket(c, depth+1)
			if err != nil {
				return nil, err
			}
			f.children = append(f.children, cf)
		}
		if f.op == goldap.FilterNot && len(f.children) != 1 {
			return nil, fmt.Errorf("not with %d operands: %w", len(f.children), errFilter)
		}
	case goldap.FilterEqualityMatch, goldap.FilterGreaterOrEqual, goldap.FilterLessOrEqual, goldap.FilterApproxMatch:
		if len(p.Children) != 2 {
			return nil, fmt.Errorf("assertion with %d parts: %w", len(p.Children), errFilter)
		}
		f.attr = strings.ToLower(packetString(p.Children[0]))
		f.value = packetString(p.Children[1])
		if f.op == goldap.FilterApproxMatch {
			// RFC 4511 §4.5.1.7.6 leaves approximate matching to the
			// server; equality is an allowed reading.
			f.op = goldap.FilterEqualityMatch
		}
	case goldap.FilterSubstrings:
		if len(p.Children) != 2 {
			return nil, fmt.Errorf("substring filter with %d parts: %w", len(p.Children), errFilter)
		}
		f.attr = strings.ToLower(packetString(p.Children[0]))
		for _, part := range p.Children[1].Children {
			v := packetString(part)
			switch part.Tag {
			case goldap.FilterSubstringsInitial:
				f.initial = v
			case goldap.FilterSubstringsAny:
				f.any = append(f.any, v)
			case goldap.FilterSubstringsFinal:
				f.final = v
			}
		}
	case goldap.FilterPresent:
		f.attr = strings.ToLower(string(p.Data.Bytes()))
	default:
		return nil, fmt.Errorf("%s: %w", goldap.FilterMap[f.op], errFilter)
	}
	return f, nil
}

func packetString(p *ber.Packet) string {
	if s, ok := p.Value.(string); ok {
		return s
	}
	return string(p.Data.Bytes())
}

// numberMatcher tells whether two numbers are the same number.
type numberMatcher func(a, b string) bool

// match evaluates f on e. Attribute names are compared without case,
// values with caseIgnoreMatch plus accent folding (names), or as
// telephone numbers (numberAttrs).
func (f *filter) match(e *entry, num numberMatcher) bool {
	switch f.op {
	case goldap.FilterAnd:
		for _, c := range f.children {
			if !c.match(e, num) {
				return false
			}
		}
		return true
	case goldap.FilterOr:
		for _, c := range f.children {
			if c.match(e, num) {
				return true
			}
		}
		return false
	case goldap.FilterNot:
		return !f.children[0].match(e, num)
	case goldap.FilterPresent:
		return f.attr == "objectclass" || len(e.values(f.attr)) > 0
	}
	vals := e.values(f.attr)
	isNum := numberAttrs[f.attr]
	for _, v := range vals {
		if f.matchValue(v, isNum, num) {
			return true
		}
	}
	return false
}

func (f *filter) matchValue(v string, isNum bool, num numberMatcher) bool {
	switch f.op {
	case goldap.FilterEqualityMatch:
		if isNum {
			return num(f.value, v)
		}
		return foldValue(v) == foldValue(f.value)
	case goldap.FilterGreaterOrEqual:
		return compareValues(v, f.value, isNum) >= 0
	case goldap.FilterLessOrEqual:
		return compareValues(v, f.value, isNum) <= 0
	case goldap.FilterSubstrings:
		norm := foldValue
		if isNum {
			// A number typed in part matches its digits whatever the
			// formatting on either side (telephoneNumberSubstringsMatch,
			// RFC 4517 §4.2.30, ignores spaces and hyphens likewise).
			norm = digitsOf
		}
		if substringMatch(norm(v), norm(f.initial), mapStrings(f.any, norm), norm(f.final)) {
			return true
		}
		// Phones in prefix mode append * to a whole caller number
		// (Yealink: (telephoneNumber=+14155550132*)): that number must
		// still match however the contact's number is written.
		return isNum && len(f.any) == 0 && f.final == "" && num(f.initial, v)
	}
	return false
}

func compareValues(a, b string, isNum bool) int {
	if isNum {
		return strings.Compare(digitsOf(a), digitsOf(b))
	}
	return strings.Compare(foldValue(a), foldValue(b))
}

func mapStrings(in []string, fn func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = fn(s)
	}
	return out
}

// substringMatch implements RFC 4517 §4.2.6 substring matching on
// normalized values.
func substringMatch(v, initial string, any []string, final string) bool {
	if !strings.HasPrefix(v, initial) {
		return false
	}
	v = v[len(initial):]
	for _, a := range any {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return strings.HasSuffix(v, final)
}

// foldValue lower-cases v, strips accents and collapses inner spaces, so
// that "José  Müller" equals "jose muller" (caseIgnoreMatch with the
// insignificant-space rule of RFC 4518 §2.6.1, plus accent folding,
// which phones with no accented keyboard need).
func foldValue(v string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(strings.TrimSpace(v)) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsSpace(r):
			space = true
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// digitsOf returns the ASCII digits of v.
func digitsOf(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] >= '0' && v[i] <= '9' {
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// nameAttrs are the attributes whose words directory.Search indexes
// (names, company, department), so a filter on them can narrow Search.
var nameAttrs = map[string]bool{"cn": true, "sn": true, "givenname": true, "displayname": true, "o": true, "ou": true}

// hint returns search text every entry matching f also matches in
// directory.Search (word prefixes of names, company and department), or
// "" when there is none: then every visible contact is examined.
func (f *filter) hint() string {
	switch f.op {
	case goldap.FilterAnd:
		for _, c := range f.children {
			if h := c.hint(); h != "" {
				return h
			}
		}
	case goldap.FilterOr:
		// One search serves an or only when every branch narrows to the
		// same text, as in Yealink's (|(cn=%)(sn=%)).
		h := ""
		for i, c := range f.children {
			ch := c.hint()
			if ch == "" || (i > 0 && ch != h) {
				return ""
			}
			h = ch
		}
		return h
	case goldap.FilterEqualityMatch:
		if nameAttrs[f.attr] {
			return textHint(f.value)
		}
	case goldap.FilterSubstrings:
		if nameAttrs[f.attr] {
			return textHint(f.initial)
		}
	}
	return ""
}

// textHint returns v as Search text when Search would read it as words
// only: a number-like word would turn into a digit search on numbers.
func textHint(v string) string {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return ""
	}
	letters := false
	for _, w := range fields {
		hasDigit, plain := false, true
		for _, r := range w {
			switch {
			case r >= '0' && r <= '9':
				hasDigit = true
			case strings.ContainsRune("+-.()/", r):
			default:
				plain = false
			}
			if unicode.IsLetter(r) {
				letters = true
			}
		}
		if hasDigit && plain {
			return ""
		}
	}
	if !letters {
		return ""
	}
	return strings.Join(fields, " ")
}
