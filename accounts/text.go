package accounts

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Text rules of the fields users and contacts hold. The directory applies
// the same rules to contacts; its limits.go lists every limit, these
// included, and the README lists them for users.
const (
	// MaxNameBytes bounds first_name, last_name, company, department and
	// job_title of contacts and users.
	MaxNameBytes = 200
	// MaxEmailBytes bounds one email address (RFC 5321 §4.5.3.1.3 path).
	MaxEmailBytes = 254
	// MaxExtensionDigits bounds a user's extension.
	MaxExtensionDigits = 20
	// MaxDomainBytes bounds a SIP domain (RFC 1035 §2.3.4 host name).
	MaxDomainBytes = 253
)

// CheckText returns a *FieldError when v is not acceptable text for field:
// invalid UTF-8, longer than max bytes, or holding a control character. C0
// controls, DEL, C1 controls and U+2028/U+2029 are refused, since they
// break or forge lines in vCard, CSV, XML phonebooks, SIP display names
// and logs; multiline fields (notes, street) may hold LF and tab.
func CheckText(field, v string, max int, multiline bool) *FieldError {
	if len(v) <= max && plainText(v, multiline) {
		return nil // imports check millions of fields
	}
	return checkTextSlow(field, v, max, multiline)
}

// plainText reports whether v is valid UTF-8 free of the characters
// CheckText refuses, in one pass; false sends CheckText to
// checkTextSlow, which finds the first problem in CheckText's order.
func plainText(v string, multiline bool) bool {
	for i := 0; i < len(v); {
		if c := v[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f || multiline && (c == '\n' || c == '\t') {
				i++
				continue
			}
			return false
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 || r <= 0x9f || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}

// checkTextSlow is CheckText without its fast path.
func checkTextSlow(field, v string, max int, multiline bool) *FieldError {
	if !utf8.ValidString(v) {
		return &FieldError{Field: field, Reason: "invalid UTF-8"}
	}
	if len(v) > max {
		return &FieldError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", max)}
	}
	for _, r := range v {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return &FieldError{Field: field, Reason: fmt.Sprintf("control character %U not allowed", r)}
		}
	}
	return nil
}

// CheckEmail returns why s is not a plain email address, or "".
func CheckEmail(s string) string {
	if plainEmail(s) {
		return "" // imports check millions of addresses
	}
	return checkEmailSlow(s)
}

// plainEmail reports whether s is an address net/mail.ParseAddress reads
// as exactly s: at most MaxEmailBytes of printable ASCII forming
// dot-atom "@" dot-atom (RFC 5322 §3.4.1, no quotes, comments, spaces
// or domain literal). false says nothing: checkEmailSlow decides.
func plainEmail(s string) bool {
	if len(s) > MaxEmailBytes {
		return false
	}
	local, domain, ok := strings.Cut(s, "@")
	return ok && dotAtom(local) && dotAtom(domain)
}

// dotAtom reports whether s is ASCII atext in dot-separated non-empty
// atoms, as net/mail's consumeAtom accepts it.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if !atext[c] {
			return false
		}
	}
	return true
}

// atext holds the ASCII atext characters (RFC 5322 §3.2.3): printable
// but for the specials, the same set as net/mail's isAtext.
var atext = func() (t [256]bool) {
	for c := '!'; c <= '~'; c++ {
		t[c] = !strings.ContainsRune(`()<>[]:;@\,"`, c)
	}
	t['.'] = false // dotAtom handles the dots
	return t
}()

// checkEmailSlow is CheckEmail without its fast path.
func checkEmailSlow(s string) string {
	if len(s) > MaxEmailBytes {
		return fmt.Sprintf("longer than %d bytes", MaxEmailBytes)
	}
	if fe := CheckText("", s, MaxEmailBytes, false); fe != nil {
		return fe.Reason
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Sprintf("not an email address: %q", s)
	}
	if a.Address != strings.TrimSpace(s) {
		return fmt.Sprintf("want a bare address like name@example.com, got %q", s)
	}
	return ""
}

// checkHostName returns why d is not a lowercase DNS host name (RFC 1123
// §2.1: dot-separated labels of letters, digits and inner hyphens, 1 to 63
// bytes each), or "".
func checkHostName(d string) string {
	if d == "" || len(d) > MaxDomainBytes {
		return fmt.Sprintf("want a host name of 1 to %d bytes", MaxDomainBytes)
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Sprintf("%q: each dot-separated label needs 1 to 63 characters", d)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Sprintf("%q: a label cannot start or end with a hyphen", d)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Sprintf("%q: only lowercase letters, digits, hyphens and dots are allowed (use the xn-- form of an international name)", d)
			}
		}
	}
	return ""
}
