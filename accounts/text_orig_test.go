package accounts

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// origCheckText and origCheckEmail are CheckText and CheckEmail as they
// were before their fast paths: the differential tests and FuzzCheckEmail
// hold the new ones to them.

func origCheckText(field, v string, max int, multiline bool) *FieldError {
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

func origCheckEmail(s string) string {
	if len(s) > MaxEmailBytes {
		return fmt.Sprintf("longer than %d bytes", MaxEmailBytes)
	}
	if fe := origCheckText("", s, MaxEmailBytes, false); fe != nil {
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
