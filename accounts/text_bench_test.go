package accounts

import "testing"

// BenchmarkCheckEmail checks a plain address, the common case of imports.
func BenchmarkCheckEmail(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if r := CheckEmail("jose.muller42@acme-plomberie-sa.example"); r != "" {
			b.Fatal(r)
		}
	}
}

// BenchmarkCheckText checks a name of printable ASCII.
func BenchmarkCheckText(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if fe := CheckText("company", "Acme Plomberie SA", MaxNameBytes, false); fe != nil {
			b.Fatal(fe)
		}
	}
}
