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

// renderSeq renders a sequence of parts with the separator rule. groups
// says how a non-empty group is written: bracketed or bare.
func renderSeq(ps []displayPart, c *directory.Contact, bracketed bool) string {
	var b strings.Builder
	sep := ""
	for _, p := range ps {
		var v string
		switch {
		case p.group != nil:
			inner := renderSeq(p.group, c, bracketed)
			if inner != "" && bracketed {
				inner = p.open + inner + p.close
			}
			v = inner
		case p.field != fieldNone:
			v = cleanDisplay(fieldValue(c, p.field))
		default:
			sep += p.lit
			continue
		}
		if v == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		sep = ""
		b.WriteString(v)
	}
	return cleanDisplay(b.String())
}

// hasTopValue reports whether a placeholder outside any group is non-empty.
func (f displayFormat) hasTopValue(c *directory.Contact) bool {
	for _, p := range f.parts {
		if p.field != fieldNone && cleanDisplay(fieldValue(c, p.field)) != "" {
			return true
		}
	}
	return false
}

// render returns c's display text, truncated to f.max runes.
func (f displayFormat) render(c *directory.Contact) string {
	s := renderSeq(f.parts, c, f.hasTopValue(c))
	if s == "" {
		s = cleanDisplay(c.DisplayName())
	}
	return truncateDisplay(s, f.max)
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
