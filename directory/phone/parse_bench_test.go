package phone

import "testing"

// storedNumbers are the shapes numbers take in an imported directory:
// mostly international, spaced or punctuated as people write them.
var storedNumbers = []string{
	"+33 4 91 55 01 42", "+33 6 12 34 56 78", "+1 (650) 253-0000", "+1 415-555-0132",
	"+44 20 7183 8750", "+49 30 1234567", "+49 151 23456789", "+39 06 6982 0000",
	"+34 912 34 56 78", "+31 20 123 4567", "+46 8 123 456 78", "+61 2 9374 4000",
	"+81 3-1234-5678", "+55 11 91234-5678", "+7 495 123-45-67", "+91 98765 43210",
	"+44 (0)20 7183 8750", "+33 (0)1 23 45 67 89",
}

// storedNational are numbers stored in national format, for a Normalizer
// in their own region.
var storedNational = map[string][]string{
	"FR": {"04 91 55 01 42", "06 12 34 56 78", "01.23.45.67.89", "09 70 12 34 56"},
	"DE": {"030 1234567", "0151 23456789", "089/1234567"},
	"US": {"(650) 253-0000", "415.555.0132", "212-555-0142"},
	"GB": {"020 7183 8750", "07400 123456"},
}

// BenchmarkParseStored parses stored shapes with the fast path ("fast",
// what Parse does) and without it ("slow", Parse before it): international
// numbers of 16 countries (two with "(0)"), and national numbers of 4.
func BenchmarkParseStored(b *testing.B) {
	type input struct {
		n   *Normalizer
		raw string
	}
	fr := newNormalizer(b, "FR")
	var intl, national []input
	for _, raw := range storedNumbers {
		intl = append(intl, input{fr, raw})
	}
	for _, region := range []string{"FR", "DE", "US", "GB"} {
		n := newNormalizer(b, region)
		for _, raw := range storedNational[region] {
			national = append(national, input{n, raw})
		}
	}
	for _, in := range append(intl, national...) {
		in.n.Parse(in.raw) // build the fast path's tables outside the timing
	}
	for _, set := range []struct {
		name   string
		inputs []input
	}{{"international", intl}, {"national", national}} {
		for _, fast := range []bool{false, true} {
			name := set.name + "/slow"
			if fast {
				name = set.name + "/fast"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					in := set.inputs[i%len(set.inputs)]
					if _, err := in.n.parse(in.raw, fast); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// TestStoredNumbersTakeFastPath keeps BenchmarkParseStored honest: every
// shape in it is one the fast path answers.
func TestStoredNumbersTakeFastPath(t *testing.T) {
	n := newNormalizer(t, "FR")
	for _, raw := range storedNumbers {
		num, err := n.Parse(raw)
		if err != nil {
			t.Fatalf("Parse(%q): %v", raw, err)
		}
		if !fastTaken(num.Digits) {
			t.Errorf("Parse(%q) fell back to the slow path", raw)
		}
	}
	for region, raws := range storedNational {
		n := newNormalizer(t, region)
		for _, raw := range raws {
			num, err := n.Parse(raw)
			if err != nil {
				t.Fatalf("%s: Parse(%q): %v", region, raw, err)
			}
			if _, v := n.national.get().parseNationalFast(num); v != verdictValid || num.Kind != KindNational {
				t.Errorf("%s: Parse(%q) fell back to the slow path", region, raw)
			}
		}
	}
}
