package events

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// slowLeafSubject is leafSubject as it was before its ASCII fast path:
// the reference that path must match, subject and error alike.
func slowLeafSubject(root, domain, leaf string) (string, error) {
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

// subjectAtoms are what generated domains and leaves are made of: plain
// and upper-case ASCII, every character Token escapes or rejects, and
// text outside ASCII, valid or not.
var subjectAtoms = []string{
	"a", "z", "Q", "Z", "0", "9", "-", "+", "@", "pbx", "Example", "com", "201",
	".", "_", "~", "~u", "*", ">", " ", "\t", "\n", "\x00", "\x1f", "\x7f",
	"é", "É", "ü", "\u00a0", "\u0085", "\u2028", "\u212a", "İ", "ß", "李", "\xff", "\xc3", "\xe2\x82",
}

func randSubjectText(rng *rand.Rand) string {
	if rng.IntN(10) == 0 {
		return ""
	}
	n := 1 + rng.IntN(8)
	if rng.IntN(10) == 0 {
		n = 40 + rng.IntN(100) // past the stack buffer
	}
	var b strings.Builder
	for range n {
		b.WriteString(subjectAtoms[rng.IntN(len(subjectAtoms))])
	}
	return b.String()
}

// TestLeafSubjectMatchesSlowPath compares leafSubject with the reference
// over generated domains and leaves, under every root.
func TestLeafSubjectMatchesSlowPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	roots := []string{ContactsRoot, PresenceRoot, CallsRoot, ClickToCallRoot}
	for range 50000 {
		root, domain, leaf := roots[rng.IntN(len(roots))], randSubjectText(rng), randSubjectText(rng)
		if rng.IntN(4) == 0 {
			domain = strings.ToLower(domain) // the common case: already a lower-case domain
		}
		got, gotErr := leafSubject(root, domain, leaf)
		want, wantErr := slowLeafSubject(root, domain, leaf)
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || errors.Is(gotErr, ErrInvalidToken) != errors.Is(wantErr, ErrInvalidToken) {
			t.Fatalf("leafSubject(%q, %+q, %+q) = %+q, %v; want %+q, %v", root, domain, leaf, got, gotErr, want, wantErr)
		}
	}
}

// FuzzLeafSubject compares leafSubject with the reference on fuzzed
// domains and leaves.
func FuzzLeafSubject(f *testing.F) {
	f.Add("PBX.Example.com", "alice_smith")
	f.Add("x.org", "a~b*")
	f.Add("zürich.ch", "1001")
	f.Fuzz(func(t *testing.T, domain, leaf string) {
		got, gotErr := leafSubject(ContactsRoot, domain, leaf)
		want, wantErr := slowLeafSubject(ContactsRoot, domain, leaf)
		if got != want || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("got %+q, %v; want %+q, %v", got, gotErr, want, wantErr)
		}
	})
}
