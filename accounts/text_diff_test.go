package accounts

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// emailSeeds are addresses of every shape CheckEmail meets: plain ones
// for the fast path and the ones only net/mail can judge.
var emailSeeds = []string{
	"", "@", "a@b", "jose.muller42@acme-plomberie-sa.example", "a.b.c@d.e.f",
	"!#$%&'*+-/=?^_`{|}~@example.com", "user+tag@example.com", "a@b.", "a.@b", ".a@b", "a..b@c", "a@b..c", "a@.b",
	"@example.com", "user@", "user@@example.com", "us@er@example.com", " user@example.com", "user@example.com ",
	"\tuser@example.com", "user @example.com", "user@ example.com", `"quoted"@example.com`, `"a b"@example.com`,
	`""@example.com`, `"a\"b"@example.com`, "user@[192.0.2.1]", "user@[IPv6:2001:db8::1]", "user@[]",
	"user@example.com (comment)", "(comment)user@example.com", "user(c)@example.com", "User <user@example.com>",
	"<user@example.com>", "\"José\" <jose@example.com>", "josé@example.com", "user@exämple.com", "user@example.com\u2028",
	"user\x00@example.com", "user\x7f@example.com", "user\xff@example.com", "user\u0085@example.com",
	"a@b,c@d", "group: a@b;", "a;b@c", "a:b@c", "a\\b@c", "a[b]@c", "a<b@c", "a>b@c", "a,b@c", "a@b c",
	"user@example.com\r\n", "user@example.com\n", "\u00a0user@example.com", "user@example.com\u00a0",
	"a@-", "-@-", "a@b@", "=cmd@example.com", "'quote@example.com", "a@b\u200bc",
	strings.Repeat("a", 64) + "@" + strings.Repeat("b", 189), strings.Repeat("a", 64) + "@" + strings.Repeat("b", 190),
	strings.Repeat("a", 300) + "@b", " " + strings.Repeat("a", 250) + "@b",
}

// emailPieces are what genEmail strings together.
var emailPieces = []string{
	"a", "Z", "9", "user", "example", "com", ".", "..", "@", "@", "-", "_", "+", "'", "`", "~", "!", "|", "=",
	" ", "\t", "\n", "\r", "\"", "(", ")", "<", ">", "[", "]", ":", ";", ",", "\\", "é", "日本",
	"\u2028", "\u0085", "\x00", "\x7f", "\xff", "\xc3", "\ufffd", "\u00a0", "[192.0.2.1]", "(x)",
}

// genEmail returns a random string of emailPieces, often shaped like an
// address.
func genEmail(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(2) == 0 {
		// local@domain with a few mutations.
		b.WriteString(emailPieces[r.IntN(4)])
		for range r.IntN(4) {
			b.WriteString(emailPieces[r.IntN(len(emailPieces))])
		}
		b.WriteString("@")
		b.WriteString(emailPieces[r.IntN(4)])
		for range r.IntN(3) {
			b.WriteString(emailPieces[r.IntN(len(emailPieces))])
		}
		return b.String()
	}
	for range r.IntN(12) {
		b.WriteString(emailPieces[r.IntN(len(emailPieces))])
	}
	return b.String()
}

func TestCheckEmailMatchesNetMail(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	inputs := append([]string(nil), emailSeeds...)
	for range 200_000 {
		inputs = append(inputs, genEmail(r))
	}
	fast, accepted := 0, 0
	for _, s := range inputs {
		got, want := CheckEmail(s), origCheckEmail(s)
		if got != want {
			t.Fatalf("CheckEmail(%q) = %q, want %q", s, got, want)
		}
		if plainEmail(s) {
			fast++
		}
		if want == "" {
			accepted++
		}
	}
	// The inputs must exercise both paths and both verdicts.
	if fast == 0 || accepted == fast || accepted == len(inputs) {
		t.Fatalf("%d inputs: %d accepted, %d on the fast path", len(inputs), accepted, fast)
	}
}

// textPieces are what TestCheckTextMatchesOriginal strings together.
var textPieces = []string{
	"a", "Acme ", "José", "Müller", "日本", "😀", " ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\u0080", "\u0085",
	"\u009f", "\u00a0", "\u2028", "\u2029", "\u202a", "\ufffd", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "~",
}

func TestCheckTextMatchesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 200_000 {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteString(textPieces[r.IntN(len(textPieces))])
		}
		v, max, multiline := b.String(), r.IntN(40), r.IntN(2) == 0
		got, want := CheckText("f", v, max, multiline), origCheckText("f", v, max, multiline)
		if (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Fatalf("CheckText(%q, %d, %v) = %v, want %v", v, max, multiline, got, want)
		}
	}
}

// FuzzCheckEmail holds CheckEmail and CheckText to their versions
// without fast paths.
func FuzzCheckEmail(f *testing.F) {
	for _, s := range emailSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CheckEmail(s), origCheckEmail(s); got != want {
			t.Fatalf("CheckEmail(%q) = %q, want %q", s, got, want)
		}
		for _, multiline := range []bool{false, true} {
			got, want := CheckText("f", s, MaxEmailBytes, multiline), origCheckText("f", s, MaxEmailBytes, multiline)
			if (got == nil) != (want == nil) || got != nil && *got != *want {
				t.Fatalf("CheckText(%q, %v) = %v, want %v", s, multiline, got, want)
			}
		}
	})
}
