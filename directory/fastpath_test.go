package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// slowWords is words without its ASCII fast path.
func slowWords(s string) []string {
	return strings.FieldsFunc(fold(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func TestASCIIWordsMatchFold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []string{"", " ", "José Müller", "jose.muller@example.com", "O'Brien-Smith", "ACME  Plomberie 2", "a", "\x00\x7f", "123"}
	for range 20000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = byte(r.IntN(128))
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got, want := words(s), slowWords(s)
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Fatalf("words(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestPlainDigitsMatchParse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []string{"+", "", "+1", "0", "+33 1 45 55 77 10", "1-800-FLOWERS", "+1 555 0100 x45", "(030) 1234-567 #12", "+1+2", "+33145557710", "0033145557710", strings.Repeat("9", 40), "+" + strings.Repeat("1", 30)}
	for range 20000 {
		const alphabet = "0123456789012345678901234567890123456789 +.-()/#xX;=,\t\x00\x7fé１"
		b := make([]byte, r.IntN(22))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(2) == 0 {
			b = append([]byte{'+'}, b...)
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		want := ""
		if t, err := phone.ParseTyped(s); err == nil {
			want = t.Digits()
		} else {
			for i := 0; i < len(s); i++ {
				if s[i] >= '0' && s[i] <= '9' {
					want += s[i : i+1]
				}
			}
		}
		if got := Digits(s); got != want {
			t.Fatalf("Digits(%q) = %q, want %q", s, got, want)
		}
		// checkNumber's fast path accepts what the parser accepts.
		trimmed := strings.TrimSpace(s)
		tp, err := phone.ParseTyped(trimmed)
		accept := trimmed != "" && err == nil && len(tp.Digits()) >= MinNumberDigits && len(tp.Digits()) <= MaxNumberDigits
		if got := checkNumber(s) == ""; got != accept {
			t.Fatalf("checkNumber(%q) accepts: %v, want %v (%v)", s, got, accept, err)
		}
	}
}

func TestJoinWordsMatchesWords(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "abcXYZ019 .-'@_é"
	for range 20000 {
		var parts [2]string
		for j := range parts {
			b := make([]byte, r.IntN(14))
			for i := range b {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
			parts[j] = string(b)
		}
		want := strings.Join(slowWords(parts[0]+" "+parts[1]), " ")
		if got := joinWords(parts[0], parts[1]); got != want {
			t.Fatalf("joinWords(%q, %q) = %q, want %q", parts[0], parts[1], got, want)
		}
	}
}

func TestGramTableKeepsListsAcrossPromotion(t *testing.T) {
	var g gramTable
	for k := range uint16(1000) {
		g.list(k).add(uint32(k))
		g.list(k).add(uint32(k) + 1000)
	}
	if g.all == nil || g.m != nil {
		t.Fatalf("1,000 trigrams still in the map (%d)", len(g.m))
	}
	for k := range uint16(1000) {
		if pl := g.get(k); pl == nil || pl.n != 2 || pl.last != uint32(k)+1000 {
			t.Fatalf("trigram %d: %+v", k, pl)
		}
	}
	var small gramTable
	small.list(7).add(1)
	if small.all != nil || small.get(8) != nil || small.get(7).n != 1 {
		t.Fatalf("small table: %+v", small)
	}
}

func TestFoldLatinMatchesSlow(t *testing.T) {
	for r := rune(0); r < latinFoldEnd; r++ {
		require.False(t, unicode.Is(unicode.Mn, r), "U+%04X is a combining mark", r)
	}
	r := rand.New(rand.NewPCG(5, 6))
	cases := []string{"José Müller", "ŁÓDŹ", "Ærøskøbing", "straße", "Öztürk Yılmaz", "Wiśniewski", "Ǆemal", "ǅ", "İstanbul", "e\u0301", "\xff", "a\xc3", "\uFFFD", "日本"}
	for range 50000 {
		var b strings.Builder
		for range r.IntN(12) {
			switch r.IntN(8) {
			case 0:
				b.WriteRune(rune(0x250 + r.IntN(0x300))) // beyond the table: combining marks and more
			case 1:
				b.WriteByte(byte(0x80 + r.IntN(0x80))) // invalid UTF-8
			default:
				b.WriteRune(rune(r.IntN(latinFoldEnd)))
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := fold(s), foldSlow(s); got != want {
			t.Fatalf("fold(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestFreshCopyAppliesAgain: a writer's batch of new contacts skips the
// index's look for a doc to replace, but a copy of it from the log may be
// applied again over a load that already has them (reloadLocked), and
// must then replace rather than add.
func TestFreshCopyAppliesAgain(t *testing.T) {
	svc, err := New(context.Background(), NewMemStore(), Config{}, testLogger())
	require.NoError(t, err)
	var b Batch
	for i := range 3 {
		c := Contact{ID: newID(), Kind: KindCompany, Domain: "example.com", LastName: fmt.Sprintf("Fresh%d", i),
			Phones: []Phone{{Type: PhoneWork, Number: fmt.Sprintf("+3314555770%d", i)}}}
		b.Contacts = append(b.Contacts, ContactWrite{Contact: c, fresh: true})
	}
	apply := func(b *Batch) []ChangeEvent {
		svc.amu.Lock()
		defer svc.amu.Unlock()
		return svc.applyBatch(b)
	}
	require.Len(t, apply(&b), 3)
	again := b.clone()
	events := apply(&again)
	require.Len(t, events, 3)
	for _, ev := range events {
		assert.Equal(t, ChangeUpdated, ev.Op)
	}
	assert.Equal(t, 3, svc.idx.len())
	page, err := svc.Search(context.Background(), admin, Query{Text: "fresh"})
	require.NoError(t, err)
	assert.Len(t, page.Items, 3, "one doc per contact")
}
