package phone

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Typed is a number as a person typed it into an address book, split the
// way libphonenumber reads one: the main number, which is what caller ID
// matches and a phone dials, and an extension reached after the call is
// answered.
type Typed struct {
	// Main is "+" (when written) and the ASCII digits of the main number,
	// with vanity letters turned into their keypad digits
	// ("1-800-FLOWERS" → "18003569377") and Unicode digits folded.
	Main string
	// Extension is the extension's ASCII digits, empty when there is none.
	Extension string
	// Vanity reports that Main was written with letters.
	Vanity bool
}

// Digits returns Main without its "+".
func (t Typed) Digits() string { return strings.TrimPrefix(t.Main, "+") }

const (
	// maxExtensionDigits follows libphonenumber, which reads at most 20
	// digits after ";ext=" and fewer after the spoken markers; 10 is more
	// than any PBX dial plan uses and keeps "x" from eating a number.
	maxExtensionDigits = 10
	// minVanityLetters is libphonenumber's VALID_ALPHA_PHONE_PATTERN: fewer
	// letters are a typo, not a word.
	minVanityLetters = 3
)

// extensionRE finds an extension at the end of a folded number, with the
// markers libphonenumber's EXTN_PATTERNS_FOR_PARSING accepts in English and
// RFC 3966's ";ext=": "x45", "ext. 45", "extension 45", ";ext=45", "#45".
var extensionRE = regexp.MustCompile(`(?i)^(.*?[0-9A-Za-z)\]]+)[ \t,]*(?:;[ \t]*ext[ \t]*=|(?:extension|extn|ext|x|#)[.:]?)[ \t]*([0-9]{1,10})#?[ \t]*$`)

// TypedError is ParseTyped's error: Reason says what is wrong without
// quoting the number. It wraps ErrInvalid.
type TypedError struct{ Number, Reason string }

func (e *TypedError) Error() string {
	return invalid(e.Number, e.Reason).Error()
}

// Unwrap returns ErrInvalid.
func (e *TypedError) Unwrap() error { return ErrInvalid }

// ParseTyped splits a number typed by a person into its main number and
// extension: ParseTyped("+1 415 555 0132 ext. 45") is {"+14155550132",
// "45"}. It accepts any Unicode decimal digits (full-width "＋４４ ２０…"),
// the separators Parse accepts, vanity letters after at least one digit
// ("1-800-FLOWERS", three letters or more) and an extension marker. Control
// characters, other letters and symbols are *TypedError errors. It
// reads no numbering plan: Normalizer.Parse does that.
func ParseTyped(s string) (Typed, error) {
	if len(s) > maxRawLen {
		return Typed{}, &TypedError{s, "too long"}
	}
	folded, err := foldTyped(s)
	if err != nil {
		return Typed{}, &TypedError{s, err.Error()}
	}
	folded = strings.TrimSpace(folded)
	// Every extension marker extensionRE accepts holds an "x" or a "#":
	// without one the (backtracking, slow) match cannot succeed, and bulk
	// imports parse millions of plain numbers.
	if strings.ContainsAny(folded, "xX#") {
		if m := extensionRE.FindStringSubmatch(folded); m != nil {
			// "1-800-MAX 45" would split as "1-800-MA" + "45": a main
			// part that is no number means the marker was part of the
			// word.
			if t, err := scanMain(m[1]); err == nil {
				t.Extension = m[2]
				return t, nil
			}
		}
	}
	t, err := scanMain(folded)
	if err != nil {
		return Typed{}, &TypedError{s, err.Error()}
	}
	return t, nil
}

// foldTyped maps full-width ASCII forms (U+FF01–FF5E: "＋", "ｘ", "＃") to
// ASCII and every Unicode decimal digit to its ASCII digit, and refuses
// control characters (C0, DEL, C1, U+2028/9).
func foldTyped(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u2028' || r == '\u2029':
			return "", fmt.Errorf("control character %U", r)
		case r >= 0xff01 && r <= 0xff5e:
			r -= 0xfee0
		case r >= 0x80:
			if d, ok := digitValue(r); ok {
				r = rune('0' + d)
			}
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

// scanMain reads the main number of a folded string.
func scanMain(s string) (Typed, error) {
	var buf [maxDigits]byte
	n, letters := 0, 0
	plus := false
	for _, r := range s {
		var d byte
		switch {
		case r >= '0' && r <= '9':
			d = byte(r)
		case r == '+':
			if plus || n > 0 {
				return Typed{}, errors.New("misplaced +")
			}
			plus = true
			continue
		case isSeparator(r):
			continue
		case r < 0x80 && keypad[r|0x20] != 0:
			if n == 0 {
				return Typed{}, fmt.Errorf("letter %q before any digit (letters only in a vanity number such as 1-800-FLOWERS)", r)
			}
			d = keypad[r|0x20]
			letters++
		default:
			return Typed{}, fmt.Errorf("unexpected character %q", r)
		}
		if n == len(buf) {
			return Typed{}, errors.New("too many digits")
		}
		buf[n] = d
		n++
	}
	if n == 0 {
		return Typed{}, errors.New("no digits")
	}
	if letters > 0 && letters < minVanityLetters {
		return Typed{}, fmt.Errorf("%d letters (a vanity number spells a word of %d or more)", letters, minVanityLetters)
	}
	main := string(buf[:n])
	if plus {
		main = "+" + main
	}
	return Typed{Main: main, Vanity: letters > 0}, nil
}

// keypad maps lower-case letters to their digit on the ITU E.161 keypad.
var keypad = func() (k [128]byte) {
	for d, letters := range [...]string{"abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz"} {
		for _, l := range letters {
			k[l] = byte('2' + d)
		}
	}
	return k
}()
