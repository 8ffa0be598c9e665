package events

import "testing"

// BenchmarkContactSubject measures the subject of a contact event, which
// PublishContact computes twice (Validate, then the subject) per change:
// a bulk import of company contacts publishes one per row.
func BenchmarkContactSubject(b *testing.B) {
	for _, bc := range []struct{ name, domain, owner string }{
		{"company", "pbx.example.com", "company"},
		{"personal", "pbx.example.com", "201"},
		{"escaped", "PBX.Example.com", "alice_smith"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ContactSubject(bc.domain, bc.owner); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
