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
