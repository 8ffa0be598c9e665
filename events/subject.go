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
