package phone

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, fails only with ErrInvalid, and
// is idempotent: the E.164 form of a parsed number parses to itself, in
// every region, so stored and incoming numbers meet under the same key.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"+33 4 91 55 01 42", "0491550142", "0033491550142", "33491550142",
		"tel:+33-4-91-55-01-42", "sip:+33491550142@trunk;user=phone",
		"tel:0301234567;phone-context=+49", "sip:0491550142@10.0.0.1",
		"(202) 555-0142", "011 44 20 7946 0958", "555-0142", "201",
		`"Alice" <sip:%2B33491550142@pbx>;tag=1`, "０４９１５５０１４２",
	} {
		f.Add(seed)
	}
	norms := make([]*Normalizer, 0, 7)
	for _, region := range []string{"FR", "DE", "US", "GB", "NL", "SE", "AU"} {
		norms = append(norms, newNormalizer(f, region))
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, n := range norms {
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
