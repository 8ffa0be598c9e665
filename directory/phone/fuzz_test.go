package phone

import (
	"errors"
	"strings"
	"testing"
)

// fuzzParseSeeds seed FuzzParse; the differential tests parse them too.
var fuzzParseSeeds = []string{
	"+33 4 91 55 01 42", "0491550142", "0033491550142", "33491550142",
	"tel:+33-4-91-55-01-42", "sip:+33491550142@trunk;user=phone",
	"tel:0301234567;phone-context=+49", "sip:0491550142@10.0.0.1",
	"(202) 555-0142", "011 44 20 7946 0958", "555-0142", "201",
	`"Alice" <sip:%2B33491550142@pbx>;tag=1`, "０４９１５５０１４２",
	"+1 415 555 0132 ext. 45", "1-800-FLOWERS x12", "＋４４ ２０ ７１８３ ８７５０", "4155550132#45",
	"+39 06 6982 0000", "+54 9 11 2345-6789", "+1 (650) 253-0000",
}

// FuzzParse checks that Parse never panics, fails only with ErrInvalid, is
// idempotent: the E.164 form of a parsed number parses to itself, in every
// region, so stored and incoming numbers meet under the same key; and that
// its fast path answers as the slow path does.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzParseSeeds {
		f.Add(seed)
	}
	norms := make([]*Normalizer, 0, 7)
	for _, region := range []string{"FR", "DE", "US", "GB", "NL", "SE", "AU"} {
		norms = append(norms, newNormalizer(f, region))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, n := range norms {
			requireSameParse(t, n, raw)
			num, err := n.Parse(raw)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("%s: Parse(%q) error %v does not wrap ErrInvalid", n.Region(), raw, err)
				}
				continue
			}
			checkNumber(t, n, num)
			if num.E164 == "" {
				continue
			}
			again, err := n.Parse(num.E164)
			if err != nil {
				t.Fatalf("%s: Parse(%q) = %q, but Parse(%q) failed: %v", n.Region(), raw, num.E164, num.E164, err)
			}
			if again.E164 != num.E164 || again.National != num.National || again.Kind != KindE164 {
				t.Fatalf("%s: Parse(%q) = %q/%q, but Parse(%q) = %q/%q %s", n.Region(), raw, num.E164, num.National, num.E164, again.E164, again.National, again.Kind)
			}
		}
	})
}

// FuzzParseTyped checks that ParseTyped never panics, fails only with a
// *TypedError, returns ASCII within the bounds, and reads its own Main
// back unchanged, so a number dialed from a phonebook matches itself.
func FuzzParseTyped(f *testing.F) {
	for _, seed := range []string{
		"+1 415 555 0132 ext. 45", "(415) 555-0132 x7", "+14155550132;ext=45", "4155550132#45#",
		"1-800-FLOWERS", "1-800-FAX1234", "＋４４ ２０ ７１８３ ８７５０", "０３\u3000１２３４ ｅｘｔ．１２",
		"٠٤٩١٥٥٠١٤٢", "x45", "anonymous", "0491\x00550142", "+44 +20", "1 x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typed, err := ParseTyped(s)
		if err != nil {
			var te *TypedError
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseTyped(%q) error %v is not a *TypedError wrapping ErrInvalid", s, err)
			}
			return
		}
		d := typed.Digits()
		if d == "" || len(d) > maxDigits || strings.Trim(d, "0123456789") != "" || len(typed.Main)-len(d) > 1 {
			t.Fatalf("ParseTyped(%q) main %q", s, typed.Main)
		}
		if len(typed.Extension) > maxExtensionDigits || strings.Trim(typed.Extension, "0123456789") != "" {
			t.Fatalf("ParseTyped(%q) extension %q", s, typed.Extension)
		}
		again, err := ParseTyped(typed.Main)
		if err != nil || again != (Typed{Main: typed.Main}) {
			t.Fatalf("ParseTyped(%q) = %+v, but ParseTyped(%q) = %+v, %v", s, typed, typed.Main, again, err)
		}
	})
}

// checkNumber asserts the invariants every parsed Number keeps.
func checkNumber(t *testing.T, n *Normalizer, num Number) {
	t.Helper()
	if num.Digits == "" || strings.Trim(num.Digits, "0123456789") != "" {
		t.Fatalf("%s: Parse(%q) digits %q", n.Region(), num.Raw, num.Digits)
	}
	switch num.Kind {
	case KindExtension:
		if num.E164 != "" || num.National != "" || len(num.Digits) > n.maxExt {
			t.Fatalf("%s: Parse(%q) bad extension %+v", n.Region(), num.Raw, num)
		}
	case KindE164, KindNational:
		if num.National == "" || (num.E164 != "" && !strings.HasSuffix(num.E164, num.National)) {
			t.Fatalf("%s: Parse(%q) bad number %+v", n.Region(), num.Raw, num)
		}
		if num.E164 == "" && num.Kind == KindE164 {
			t.Fatalf("%s: Parse(%q) international without E.164 %+v", n.Region(), num.Raw, num)
		}
	default:
		t.Fatalf("%s: Parse(%q) kind %v", n.Region(), num.Raw, num.Kind)
	}
	if len(num.Keys(n.trailing)) == 0 {
		t.Fatalf("%s: Parse(%q) has no keys", n.Region(), num.Raw)
	}
}
