package directory

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldSpecial maps letters that do not decompose into base letter plus
// combining mark.
var foldSpecial = map[rune]string{
	'ß': "ss", 'ø': "o", 'Ø': "o", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
	'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d", 'þ': "th", 'ı': "i",
}

// fold returns s lowercased with accents removed, so that "José" and
// "jose", "Müller" and "muller" compare equal.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	if f, ok := foldLatin(s); ok {
		return f
	}
	return foldSlow(s)
}

// latinFoldEnd bounds the runes folded by table: Basic Latin, Latin-1
// Supplement and Latin Extended-A and -B, the letters of most names.
const latinFoldEnd = 0x250

// latinFold[r] is foldSlow(string(r)). Below latinFoldEnd no rune is a
// combining mark, so folding a string of them rune by rune is folding it
// whole: NFD reorders only combining marks, which folding drops.
var latinFold = func() (t [latinFoldEnd]string) {
	for r := range t {
		t[r] = foldSlow(string(rune(r)))
	}
	return t
}()

// foldLatin is fold for text of runes below latinFoldEnd; ok is false for
// any other text (invalid UTF-8 included).
func foldLatin(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r >= latinFoldEnd {
			return "", false
		}
		b.WriteString(latinFold[r])
	}
	return b.String(), true
}

// foldSlow is fold through Unicode decomposition.
func foldSlow(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		if rep, ok := foldSpecial[r]; ok {
			b.WriteString(rep)
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// words splits folded text into search tokens: maximal runs of letters and
// digits. "jose.muller@example.com" yields jose, muller, example, com.
func words(s string) []string {
	if w, ok := asciiWords(s); ok {
		return w
	}
	return strings.FieldsFunc(fold(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// asciiWords is words for ASCII text, where letters and digits are
// [A-Za-z0-9] and folding is lowercasing: one pass, one string, one
// slice (imports split millions of names).
func asciiWords(s string) ([]string, bool) {
	n, in, upper := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return nil, false
		}
		upper = upper || ('A' <= c && c <= 'Z')
		if isASCIIAlnum(c) != in {
			in = !in
			if in {
				n++
			}
		}
	}
	if n == 0 {
		return []string{}, true // as strings.FieldsFunc
	}
	if upper {
		s = strings.ToLower(s)
	}
	out := make([]string, 0, n)
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isASCIIAlnum(s[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, s[start:i])
			start = -1
		}
	}
	return out, true
}

func isASCIIAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
