package events

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Subject roots. See the package comment for the full scheme.
const (
	// PresenceRoot prefixes every presence subject.
	PresenceRoot = "switchboard.presence"
	// ContactsRoot prefixes every contact subject.
	ContactsRoot = "switchboard.contacts"
)

// ErrInvalidToken reports a value that cannot become a subject token: empty,
// not UTF-8, or holding whitespace, control characters or the wildcards "*"
// and ">".
var ErrInvalidToken = errors.New("invalid subject token")

// Token maps s to one NATS subject token: "." becomes "_", "_" becomes "~u"
// and "~" becomes "~~", so the mapping is reversible by [ParseToken].
func Token(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty value: %w", ErrInvalidToken)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%q is not valid utf-8: %w", s, ErrInvalidToken)
	}
	extra := 0
	for _, r := range s {
		switch {
		case r == '*' || r == '>':
			return "", fmt.Errorf("%q holds wildcard %q: %w", s, r, ErrInvalidToken)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return "", fmt.Errorf("%q holds whitespace or control character: %w", s, ErrInvalidToken)
		case r == '_' || r == '~':
			extra++
		}
	}
	if extra == 0 && strings.IndexByte(s, '.') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s) + extra)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '.':
			b.WriteByte('_')
		case '_':
			b.WriteString("~u")
		case '~':
			b.WriteString("~~")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// ParseToken reverses [Token].
func ParseToken(tok string) (string, error) {
	if tok == "" {
		return "", fmt.Errorf("empty token: %w", ErrInvalidToken)
	}
	if strings.IndexByte(tok, '_') < 0 && strings.IndexByte(tok, '~') < 0 {
		return tok, nil
	}
	var b strings.Builder
	b.Grow(len(tok))
	for i := 0; i < len(tok); i++ {
		switch c := tok[i]; c {
		case '_':
			b.WriteByte('.')
		case '~':
			if i+1 >= len(tok) {
				return "", fmt.Errorf("token %q ends in a lone escape: %w", tok, ErrInvalidToken)
			}
			i++
			switch tok[i] {
			case 'u':
				b.WriteByte('_')
			case '~':
				b.WriteByte('~')
			default:
				return "", fmt.Errorf("token %q holds unknown escape ~%c: %w", tok, tok[i], ErrInvalidToken)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// DomainToken maps a domain to its token: lowercased, then [Token].
func DomainToken(domain string) (string, error) {
	return Token(strings.ToLower(domain))
}

// PresenceSubject returns the subject for a presence change of ext in domain.
func PresenceSubject(domain, ext string) (string, error) {
	return leafSubject(PresenceRoot, domain, ext)
}

// ContactSubject returns the subject for a change to a contact of owner (a
// user or a company) in domain.
func ContactSubject(domain, owner string) (string, error) {
	return leafSubject(ContactsRoot, domain, owner)
}

// PresenceFilter returns the subscription subject for presence changes in
// domain, or in every domain when domain is empty.
func PresenceFilter(domain string) (string, error) {
	return filterSubject(PresenceRoot, domain)
}

// ContactFilter returns the subscription subject for contact changes in
// domain, or in every domain when domain is empty.
func ContactFilter(domain string) (string, error) {
	return filterSubject(ContactsRoot, domain)
}

func leafSubject(root, domain, leaf string) (string, error) {
	if subj, ok := asciiLeafSubject(root, domain, leaf); ok {
		return subj, nil
	}
	d, err := DomainToken(domain)
	if err != nil {
		return "", fmt.Errorf("domain: %w", err)
	}
	l, err := Token(leaf)
	if err != nil {
		return "", fmt.Errorf("leaf: %w", err)
	}
	return root + "." + d + "." + l, nil
}

// asciiLeafSubject is leafSubject for a domain and leaf of printable
// ASCII that make valid tokens, the subject of nearly every event: it
// lower-cases, escapes and joins them in one pass and one allocation,
// where DomainToken, Token and the concatenation allocate up to three
// strings. false sends everything else (other text, errors) the general
// way.
func asciiLeafSubject(root, domain, leaf string) (string, bool) {
	de, ok := asciiTokenExtra(domain)
	if !ok {
		return "", false
	}
	le, ok := asciiTokenExtra(leaf)
	if !ok {
		return "", false
	}
	var stack [128]byte
	b := stack[:0]
	if n := len(root) + len(domain) + de + len(leaf) + le + 2; n > len(stack) {
		b = make([]byte, 0, n)
	}
	b = append(b, root...)
	b = append(b, '.')
	b = appendASCIIToken(b, domain, true)
	b = append(b, '.')
	b = appendASCIIToken(b, leaf, false)
	return string(b), true
}

// asciiTokenExtra returns how many bytes escaping adds to s, and false
// when s is empty, not printable ASCII, or holds a wildcard.
func asciiTokenExtra(s string) (int, bool) {
	extra := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c >= 0x7f || c == '*' || c == '>':
			return 0, false
		case c == '_' || c == '~':
			extra++
		}
	}
	return extra, len(s) > 0
}

// appendASCIIToken appends the token of s, checked by asciiTokenExtra,
// lower-cased first if lower is set: what Token (and DomainToken) make
// of it.
func appendASCIIToken(b []byte, s string, lower bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '.':
			b = append(b, '_')
		case '_':
			b = append(b, '~', 'u')
		case '~':
			b = append(b, '~', '~')
		default:
			if lower && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
	}
	return b
}

func filterSubject(root, domain string) (string, error) {
	if domain == "" {
		return root + ".>", nil
	}
	d, err := DomainToken(domain)
	if err != nil {
		return "", fmt.Errorf("domain: %w", err)
	}
	return root + "." + d + ".*", nil
}
