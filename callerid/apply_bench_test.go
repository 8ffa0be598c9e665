package callerid

import (
	"context"
	"encoding/hex"
	"fmt"
	"syscall"
	"testing"
	"time"

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
	var cpu cpuTimer
	cpu.start()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			cpu.stop()
			lk = fresh()
			cpu.start()
			b.StartTimer()
		}
		lk.observe(evs[i%batch])
	}
	b.StopTimer()
	cpu.stop()
	cpu.report(b)
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
	var cpu cpuTimer
	cpu.start()
	i := 0
	for b.Loop() {
		lk.recordOf(&evs[i%len(evs)].Contact, &lk.recBuf)
		i++
	}
	cpu.stop()
	cpu.report(b)
}

// cpuTimer adds up the CPU time of the whole process (every thread: the
// garbage collector's work included) while it runs. On a shared machine
// it varies much less than wall time.
type cpuTimer struct {
	total, since time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuTimer) start() { c.since = processCPU() }
func (c *cpuTimer) stop()  { c.total += processCPU() - c.since }

// report adds the CPU time per operation to b's results.
func (c *cpuTimer) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu_ns/op")
}
