package callerid

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/switchboardhq/switchboard/directory"
)

// displayField names a placeholder of Config.DisplayPattern.
type displayField uint8

const (
	fieldNone displayField = iota
	fieldFirst
	fieldLast
	fieldCompany
	fieldDepartment
	fieldTitle
)

var displayFields = map[string]displayField{
	"first": fieldFirst, "last": fieldLast, "company": fieldCompany,
	"department": fieldDepartment, "title": fieldTitle,
}

// displayPart is a literal, a placeholder, or a bracketed group of them.
type displayPart struct {
	lit         string
	field       displayField
	group       []displayPart
	open, close string
}

// displayFormat renders contacts for phone screens. It is immutable.
//
// Collapsing rules, so "{first} {last} ({company})" reads well for every
// contact:
//   - literal text between placeholders is a separator: it is kept only
//     between two non-empty parts, so empty placeholders leave no stray
//     spaces, commas or dashes;
//   - a bracketed group "(…)" or "[…]" disappears when all its
//     placeholders are empty, and loses its brackets when nothing outside
//     it is shown ("(ACME)" for a company-only contact reads "ACME");
//   - runs of white space collapse to one space and control characters
//     become spaces.
//
// Truncation: a display longer than max runes is cut to max-1 runes and
// ends with a plain ASCII "." — read as an abbreviation ("Jean-Baptiste
// Dupont (Pl."), one column wide, and safe on the phone fonts and
// Latin-1 display-name paths that render U+2026 "…" as a box or "?".
type displayFormat struct {
	parts []displayPart
	max   int // runes; 0 means no limit
}

// parseDisplayPattern compiles pattern. Placeholders are {first}, {last},
// {company}, {department} and {title}; brackets do not nest.
func parseDisplayPattern(pattern string, max int) (displayFormat, error) {
	f := displayFormat{max: max}
	var stack *displayPart // open group, if any
	var lit strings.Builder
	flush := func() {
		if lit.Len() == 0 {
			return
		}
		p := displayPart{lit: lit.String()}
		lit.Reset()
		if stack != nil {
			stack.group = append(stack.group, p)
		} else {
			f.parts = append(f.parts, p)
		}
	}
	add := func(p displayPart) {
		if stack != nil {
			stack.group = append(stack.group, p)
		} else {
			f.parts = append(f.parts, p)
		}
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch c {
		case '{':
			end := strings.IndexByte(pattern[i:], '}')
			if end < 0 {
				return displayFormat{}, fmt.Errorf("display pattern %q: unterminated {", pattern)
			}
			name := pattern[i+1 : i+end]
			fd, ok := displayFields[name]
			if !ok {
				return displayFormat{}, fmt.Errorf("display pattern %q: unknown placeholder {%s} (want first, last, company, department or title)", pattern, name)
			}
			flush()
			add(displayPart{field: fd})
			i += end
		case '(', '[':
			if stack != nil {
				return displayFormat{}, fmt.Errorf("display pattern %q: nested brackets", pattern)
			}
			flush()
			closer := ")"
			if c == '[' {
				closer = "]"
			}
			stack = &displayPart{open: string(c), close: closer}
		case ')', ']':
			if stack == nil || stack.close != string(c) {
				return displayFormat{}, fmt.Errorf("display pattern %q: unbalanced %c", pattern, c)
			}
			flush()
			g := *stack
			stack = nil
			if g.group == nil {
				g.group = []displayPart{}
			}
			f.parts = append(f.parts, g)
		default:
			lit.WriteByte(c)
		}
	}
	if stack != nil {
		return displayFormat{}, fmt.Errorf("display pattern %q: unclosed %s", pattern, stack.open)
	}
	flush()
	hasField := false
	var check func([]displayPart)
	check = func(ps []displayPart) {
		for _, p := range ps {
			hasField = hasField || p.field != fieldNone
			check(p.group)
		}
	}
	check(f.parts)
	if !hasField {
		return displayFormat{}, fmt.Errorf("display pattern %q: no placeholder", pattern)
	}
	return f, nil
}

func fieldValue(c *directory.Contact, fd displayField) string {
	switch fd {
	case fieldFirst:
		return c.FirstName
	case fieldLast:
		return c.LastName
	case fieldCompany:
		return c.Company
	case fieldDepartment:
		return c.Department
	case fieldTitle:
		return c.JobTitle
	}
	return ""
}

// render returns c's display text, truncated to f.max runes.
func (f displayFormat) render(c *directory.Contact) string {
	return string(f.appendRender(nil, c))
}

// appendRender appends c's display text, truncated to f.max runes, to b.
// It writes the text once, cleaning as it goes, where rendering each
// group and then cleaning the whole would build and scan every string
// again: a bulk import renders every row.
func (f displayFormat) appendRender(b []byte, c *directory.Contact) []byte {
	w := displayWriter{b: b, start: len(b)}
	w.seq(f.parts, c, f.hasTopValue(c))
	if len(w.b) == w.start {
		w.b = append(w.b, cleanDisplay(c.DisplayName())...)
	}
	return appendTruncated(w.b, w.start, f.max)
}

// hasTopValue reports whether a placeholder outside any group is non-empty.
func (f displayFormat) hasTopValue(c *directory.Contact) bool {
	return hasValue(f.parts, c)
}

// hasValue reports whether a placeholder among ps (not in a group) is
// non-empty.
func hasValue(ps []displayPart, c *directory.Contact) bool {
	for _, p := range ps {
		if p.field != fieldNone && hasText(fieldValue(c, p.field)) {
			return true
		}
	}
	return false
}

// displayWriter appends display text to b as cleanDisplay would leave
// it: control characters and runs of white space become one space, and
// none is written at the start.
type displayWriter struct {
	b       []byte
	start   int  // where the display text begins in b
	pending bool // white space seen since the last character written
}

// seq writes a sequence of parts with the separator rule: literal text
// is written only between two non-empty parts. bracketed says whether a
// non-empty group keeps its brackets.
func (w *displayWriter) seq(ps []displayPart, c *directory.Contact, bracketed bool) {
	wrote := false
	sepFrom := 0 // the literals from here on separate the next part from the last
	for i, p := range ps {
		switch {
		case p.group != nil:
			if !hasValue(p.group, c) {
				continue
			}
			w.sep(ps[sepFrom:i], wrote)
			if bracketed {
				w.raw(p.open)
			}
			w.seq(p.group, c, bracketed)
			if bracketed {
				w.raw(p.close)
			}
		case p.field != fieldNone:
			v := fieldValue(c, p.field)
			if !hasText(v) {
				continue
			}
			w.sep(ps[sepFrom:i], wrote)
			w.value(v)
		default:
			continue
		}
		wrote, sepFrom = true, i+1
	}
}

// sep writes the literals among ps, if a part was written before them.
func (w *displayWriter) sep(ps []displayPart, wrote bool) {
	if !wrote {
		return
	}
	for _, p := range ps {
		if p.group == nil && p.field == fieldNone {
			w.raw(p.lit)
		}
	}
}

// value writes a field value as cleanDisplay(s) would be written: its
// leading and trailing white space dropped.
func (w *displayWriter) value(s string) {
	for len(s) > 0 {
		r, size := rune(s[0]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s)
		}
		if !isDisplaySpace(r) {
			break
		}
		s = s[size:]
	}
	w.raw(s)
	w.pending = false
}

// raw writes s, collapsing its white space with the text around it.
func (w *displayWriter) raw(s string) {
	for i := 0; i < len(s); {
		j := runEnd(s, i)
		if j > i {
			if w.pending && len(w.b) > w.start {
				w.b = append(w.b, ' ')
			}
			w.pending = false
			w.b = append(w.b, s[i:j]...)
		}
		if j == len(s) {
			return
		}
		w.pending = true
		_, size := utf8.DecodeRuneInString(s[j:])
		i = j + size
	}
}

// runEnd returns where the text of s from i, which cleanDisplay keeps as
// it is, ends: at the end of s or at white space that is not one space
// between two characters.
func runEnd(s string, i int) int {
	start := i
	for i < len(s) {
		switch c := s[i]; {
		case asciiClass[c] == asciiPlain:
			i++
		case c == ' ' && i > start && i+1 < len(s) && asciiClass[s[i+1]] == asciiPlain:
			i += 2 // one space between two characters stays as it is
		case c == 0xc3 && i+1 < len(s) && s[i+1]&0xc0 == 0x80:
			i += 2 // U+00C0 to U+00FF: Latin-1 letters and two signs
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if isDisplaySpace(r) {
				return i
			}
			i += size
		default:
			return i
		}
	}
	return i
}

// Classes of a byte for runEnd.
const (
	asciiPlain = iota // an ASCII character cleanDisplay keeps
	asciiSpace        // ASCII white space or control character
	notASCII
)

// asciiClass is the class of every byte.
var asciiClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = notASCII
		case isDisplaySpace(rune(c)):
			t[c] = asciiSpace
		}
	}
	return t
}()

// isDisplaySpace reports whether cleanDisplay turns r into a space.
func isDisplaySpace(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// hasText reports whether cleanDisplay(s) is not empty.
func hasText(s string) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c > ' ' && c != 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !isDisplaySpace(r) {
			return true
		}
		i += size
	}
	return false
}

// appendClean appends cleanDisplay(s) to b.
func appendClean(b []byte, s string) []byte {
	w := displayWriter{b: b, start: len(b)}
	w.value(s)
	return w.b
}

// appendTruncated cuts the text of b from start to max runes with the
// "." rule of displayFormat, as truncateDisplay does. It reads no
// further than rune max+1.
func appendTruncated(b []byte, start, max int) []byte {
	if max <= 0 {
		return b
	}
	s := b[start:]
	cut := 0 // where rune max-1 begins
	for i, n := 0, 0; i < len(s); n++ {
		if n == max-1 {
			cut = i
		}
		if n == max {
			// Longer than max runes. The trimmed characters are ASCII:
			// trimming bytes trims runes.
			for cut > 0 && strings.IndexByte(" ,;:-/([", s[cut-1]) >= 0 {
				cut--
			}
			return append(b[:start+cut], '.')
		}
		if s[i] < utf8.RuneSelf {
			i++
		} else {
			_, size := utf8.DecodeRune(s[i:])
			i += size
		}
	}
	return b
}

// cleanDisplay turns control characters into spaces, collapses white
// space and trims the ends.
func cleanDisplay(s string) string {
	clean := true
	prevSpace := true
	for _, r := range s {
		sp := unicode.IsSpace(r) || unicode.IsControl(r)
		if sp && (prevSpace || r != ' ') {
			clean = false
			break
		}
		prevSpace = sp
	}
	if clean && !prevSpace {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}

// truncateDisplay cuts s to max runes with the "." rule of displayFormat.
func truncateDisplay(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return "."
	}
	n := 0
	cut := len(s)
	for i := range s {
		if n == max-1 {
			cut = i
			break
		}
		n++
	}
	t := strings.TrimRight(s[:cut], " ,;:-/([")
	return t + "."
}
