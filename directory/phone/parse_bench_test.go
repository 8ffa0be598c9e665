package phone

import "testing"

// storedNumbers are the shapes numbers take in an imported directory:
// mostly international, spaced or punctuated as people write them.
var storedNumbers = []string{
	"+33 4 91 55 01 42", "+33 6 12 34 56 78", "+1 (650) 253-0000", "+1 415-555-0132",
	"+44 20 7183 8750", "+49 30 1234567", "+49 151 23456789", "+39 06 6982 0000",
	"+34 912 34 56 78", "+31 20 123 4567", "+46 8 123 456 78", "+61 2 9374 4000",
	"+81 3-1234-5678", "+55 11 91234-5678", "+7 495 123-45-67", "+91 98765 43210",
}

// BenchmarkParseStored parses the mix of stored shapes with the fast path
// ("fast", what Parse does) and without it ("slow", Parse before it).
func BenchmarkParseStored(b *testing.B) {
	n := newNormalizer(b, "FR")
	for _, raw := range storedNumbers {
		n.Parse(raw) // build the fast path's tables outside the timing
	}
	for _, fast := range []bool{false, true} {
		name := "slow"
		if fast {
			name = "fast"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := n.parse(storedNumbers[i%len(storedNumbers)], fast); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
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
}
