package phone

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// unwrapURI returns the number part of s and, for a global phone-context,
// the context as "+digits". s may be a bare number, a tel: or sip:/sips:
// URI, or a name-addr (`"Alice" <sip:+331…@pbx>;tag=x`) as copied from a
// From or P-Asserted-Identity header.
func unwrapURI(s string) (number, context string, err error) {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return "", "", errors.New("unterminated <")
		}
		s = strings.TrimSpace(s[i+1 : i+j])
	}
	var params string
	switch {
	case hasPrefixFold(s, "tel:"):
		// RFC 3966 §3: tel:number;param=value…
		s = s[len("tel:"):]
	case hasPrefixFold(s, "sip:"), hasPrefixFold(s, "sips:"):
		s = s[strings.IndexByte(s, ':')+1:]
		// RFC 3261 §19.1.1: the telephone number is the user part, before
		// '@'; a URI without one names a host, not a number.
		at := strings.IndexByte(s, '@')
		if at < 0 {
			return "", "", errors.New("sip uri without user part")
		}
		s = s[:at]
		if c := strings.IndexByte(s, ':'); c >= 0 {
			s = s[:c] // userinfo password
		}
	default:
		return s, "", nil
	}
	if strings.IndexByte(s, '%') >= 0 {
		// Some PBXs escape "+" as %2B in the user part (RFC 3261 §19.1.2).
		if s, err = url.PathUnescape(s); err != nil {
			return "", "", errors.New("bad percent-encoding")
		}
	}
	// tel params and sip user params (RFC 3261 §19.1.6 telephone-subscriber)
	// both follow the number after ';'.
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s, params = s[:i], s[i+1:]
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(name), "phone-context") {
			continue // ext, isub, postd…: not part of the number we match
		}
		value = strings.TrimSpace(value)
		if !strings.HasPrefix(value, "+") {
			continue // RFC 3966 §5.1.5 domain context: a private number
		}
		plus, digits, err := scanDigits(value)
		if err != nil || !plus || digits == "" {
			return "", "", fmt.Errorf("bad phone-context %q", value)
		}
		context = "+" + digits
	}
	return s, context, nil
}

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// ignoring case (URI schemes are case-insensitive, RFC 3986 §3.1).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// scanDigits returns the digits of s and whether it starts with "+". Display
// characters (spaces, dots, dashes, parentheses, slashes) are dropped and
// non-ASCII decimal digits (fullwidth, Arabic-Indic) are folded to ASCII.
// Anything else, letters included, is an error: vanity numbers and dial
// strings ("*72", "p1234") are not numbers a caller-ID can come from.
func scanDigits(s string) (plus bool, digits string, err error) {
	var buf [maxDigits]byte
	n := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if n == len(buf) {
				return false, "", errors.New("too many digits")
			}
			buf[n] = byte(r)
			n++
		case r == '+' || r == '\uff0b':
			if plus || n > 0 {
				return false, "", errors.New("misplaced +")
			}
			plus = true
		case isSeparator(r):
		default:
			d, ok := digitValue(r)
			if !ok {
				return false, "", fmt.Errorf("unexpected character %q", r)
			}
			if n == len(buf) {
				return false, "", errors.New("too many digits")
			}
			buf[n] = '0' + d
			n++
		}
	}
	if n == 0 {
		return false, "", errors.New("no digits")
	}
	return plus, string(buf[:n]), nil
}

// isSeparator reports display-only characters: spaces of any width, dashes
// of any kind (Unicode Pd, U+2212 minus) and the visual separators of
// RFC 3966 §3 and libphonenumber's VALID_PUNCTUATION.
func isSeparator(r rune) bool {
	switch r {
	case '.', '(', ')', '[', ']', '/', '~', '\u2212', '\u30fc', '\uff0e', '\uff08', '\uff09', '\uff0f', '\u200b', '\u2060', '\ufeff':
		return true
	}
	return unicode.IsSpace(r) || unicode.Is(unicode.Pd, r)
}

// digitValue folds a Unicode decimal digit (category Nd) to its value. Every
// Nd range in the Unicode tables is a run of complete 0–9 blocks, so the
// offset from the range start modulo 10 is the digit.
func digitValue(r rune) (byte, bool) {
	if r < 0x80 || !unicode.Is(unicode.Nd, r) {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if uint32(r) >= uint32(rg.Lo) && uint32(r) <= uint32(rg.Hi) {
			return byte((uint32(r) - uint32(rg.Lo)) % 10), true
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if uint32(r) >= rg.Lo && uint32(r) <= rg.Hi {
			return byte((uint32(r) - rg.Lo) % 10), true
		}
	}
	return 0, false
}
