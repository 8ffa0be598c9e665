package callerid

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/switchboardhq/switchboard/directory"
)

// importEvents returns n created-contact events as a bulk import of
// company contacts sends them: accented names, a company, two French
// numbers and an email, IDs shaped like the Service's.
func importEvents(n int) []directory.ChangeEvent {
	evs := make([]directory.ChangeEvent, n)
	for i := range evs {
		var id [16]byte
		for j := range id {
			id[j] = byte((i*2654435761 + j*40503) >> (j % 4 * 8))
		}
		first, last := firstNames[i%len(firstNames)], lastNames[i%len(lastNames)]
		evs[i] = directory.ChangeEvent{Op: directory.ChangeCreated, Contact: directory.Contact{
			ID: "c_" + hex.EncodeToString(id[:]), Kind: directory.KindCompany, Domain: benchLookupDomain, Version: 1,
			FirstName: first, LastName: last, Company: "Acme Plomberie SA", JobTitle: "Technicien",
			Phones: []directory.Phone{
				{Type: directory.PhoneWork, Number: fmt.Sprintf("+33 1 42 %02d %02d %02d", i/10000%100, i/100%100, i%100)},
				{Type: directory.PhoneMobile, Number: fmt.Sprintf("+33 6 %02d %02d %02d %02d", i/1000000%100, i/10000%100, i/100%100, i%100)},
			},
			Emails: []string{fmt.Sprintf("contact%d@acme-plomberie.example", i)},
		}}
	}
	return evs
}

// BenchmarkApplyCreated measures the caller-ID cost of one created
// contact of a bulk import: the change observer's path (observe → apply)
// into a Lookup that grows to 100,000 contacts, then starts over.
func BenchmarkApplyCreated(b *testing.B) {
	const batch = 100_000
	evs := importEvents(batch)
	fresh := func() *Lookup {
		lk, err := New(context.Background(), &fakeSource{}, Config{DefaultRegion: "FR", DefaultDomain: benchLookupDomain}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		return lk
	}
	lk := fresh()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			lk = fresh()
			b.StartTimer()
		}
		lk.observe(evs[i%batch])
	}
	b.StopTimer()
	if want := (b.N-1)%batch + 1; lk.Len() != want {
		b.Fatalf("lookup holds %d contacts after %d events", lk.Len(), b.N)
	}
}

// BenchmarkRecordOf measures what the Lookup extracts of one imported
// contact: its name, display, company and numbers.
func BenchmarkRecordOf(b *testing.B) {
	evs := importEvents(1024)
	lk, err := newLookup(&fakeSource{}, Config{DefaultRegion: "FR"}, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		lk.recordOf(&evs[i%len(evs)].Contact, &lk.recBuf)
		i++
	}
}
