package callerid

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// Benchmark directory: 1,000,000 contacts written straight into a MemStore
// (Service.Create per contact would only add ID generation and event
// overhead), loaded by directory.New, then indexed by callerid.New's parallel build.
const (
	benchLookupUsers    = 1_000
	benchLookupPersonal = 300 // per user: 300,000 personal contacts
	benchLookupTotal    = 1_000_000
	benchLookupDomain   = "pbx.example.com"
)

var (
	benchLookupOnce sync.Once
	benchLookupLk   *Lookup
)

// benchCompanyNumber is company contact i's number: a Paris number
// scattered by a prime stride so neighbours share no trailing digits.
func benchCompanyNumber(i int) string { return fmt.Sprintf("+33 1 %08d", (i*7919)%100_000_000) }

var (
	firstNames = []string{"José", "Jean", "Marie", "Anna", "Paul", "Léa", "Lukas", "Sofia", "Mohamed", "Chloé", "Jürgen", "Zoé", "Ana", "Björn", "Eva", "Noah"}
	lastNames  = []string{"Müller", "Martin", "Dupont", "García", "Schmidt", "Rossi", "Nowak", "Lévy", "Petit", "Durand", "Fischer", "Öztürk", "Silva", "Kowalski"}
	companies  = []string{"Acme", "Plomberie Générale", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"}
)

// benchPersonalNumber is personal contact i's mobile, national format.
func benchPersonalNumber(i int) string { return fmt.Sprintf("06 %08d", (i*104729)%100_000_000) }

func benchLookup(b *testing.B) *Lookup {
	b.Helper()
	benchLookupOnce.Do(func() {
		ctx := context.Background()
		store := directory.NewMemStore()
		var batch directory.Batch
		flush := func() {
			if _, err := store.Apply(ctx, batch); err != nil {
				panic(err)
			}
			batch = directory.Batch{}
		}
		n := 0
		for u := range benchLookupUsers {
			usr := accounts.User{Extension: fmt.Sprintf("%d", 1000+u), Domain: benchLookupDomain, FirstName: "User", LastName: fmt.Sprint(u)}
			tc := directory.Contact{ID: directory.TeamContactID(usr.AOR()), Kind: directory.KindTeam, Domain: usr.Domain,
				FirstName: usr.FirstName, LastName: usr.LastName, Phones: []directory.Phone{{Type: directory.PhoneWork, Number: usr.Extension}}}
			tc.Version = 1
			batch.Users = append(batch.Users, usr)
			batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: tc})
			n++
			for p := range benchLookupPersonal {
				i := u*benchLookupPersonal + p
				batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: directory.Contact{
					ID: fmt.Sprintf("p_%07d", i), Kind: directory.KindPersonal, Owner: usr.AOR(), Version: 1,
					FirstName: firstNames[i%len(firstNames)], LastName: lastNames[i%len(lastNames)],
					Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: benchPersonalNumber(i)}},
				}})
				n++
			}
			batch.Marks = append(batch.Marks, directory.Mark{Owner: usr.AOR(), ContactID: fmt.Sprintf("p_%07d", u*benchLookupPersonal), Groups: []string{directory.GroupVIP}})
			flush()
		}
		for i := 0; n < benchLookupTotal; i++ {
			batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: directory.Contact{
				ID: fmt.Sprintf("c_%07d", i), Kind: directory.KindCompany, Domain: "pbx.example.com", Version: 1,
				FirstName: firstNames[i%len(firstNames)], LastName: lastNames[i%len(lastNames)], Company: companies[i%len(companies)],
				Phones: []directory.Phone{{Type: directory.PhoneWork, Number: benchCompanyNumber(i)}},
			}})
			n++
			if len(batch.Contacts) == 10_000 {
				flush()
			}
		}
		flush()
		svc, err := directory.New(ctx, store, directory.Config{}, testLogger())
		if err != nil {
			panic(err)
		}
		start := time.Now()
		lk, err := New(ctx, svc, Config{DefaultRegion: "FR", DefaultDomain: benchLookupDomain}, testLogger())
		if err != nil {
			panic(err)
		}
		b.Logf("callerid.New over %d contacts: %v", lk.Len(), time.Since(start).Round(time.Millisecond))
		benchLookupLk = lk
	})
	return benchLookupLk
}

// BenchmarkResolve1M measures Resolve over 1,000,000 contacts: with the
// incoming number in the parse cache (the repeat caller), and with every
// number new to the cache (parsing dominates).
func BenchmarkResolve1M(b *testing.B) {
	lk := benchLookup(b)
	ctx := context.Background()
	callee := "1000@" + benchLookupDomain

	b.Run("cache_hit/personal_vip", func(b *testing.B) {
		num := benchPersonalNumber(0) // user 1000's VIP contact
		r, ok := lk.Resolve(ctx, num, callee)
		if !ok || !r.Marks.VIP {
			b.Fatalf("want VIP personal, got %+v %v", r, ok)
		}
		b.ReportAllocs()
		for b.Loop() {
			lk.Resolve(ctx, num, callee)
		}
	})
	b.Run("cache_hit/company", func(b *testing.B) {
		num := "01 " + benchCompanyNumber(4242)[6:]
		if _, ok := lk.Resolve(ctx, num, callee); !ok {
			b.Fatal("company number missed")
		}
		b.ReportAllocs()
		for b.Loop() {
			lk.Resolve(ctx, num, callee)
		}
	})
	b.Run("cache_hit/parallel", func(b *testing.B) {
		nums := make([]string, 1000)
		for i := range nums {
			nums[i] = benchCompanyNumber(i * 31)
			lk.Resolve(ctx, nums[i], callee)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				lk.Resolve(ctx, nums[i%len(nums)], callee)
				i++
			}
		})
	})
	b.Run("cache_miss/company", func(b *testing.B) {
		// 200,000 distinct strings cycle through a 10,000-entry cache, so
		// practically every lookup parses.
		nums := make([]string, 200_000)
		for i := range nums {
			nums[i] = fmt.Sprintf("0033 1 %08d", (i*7919)%100_000_000)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := lk.Resolve(ctx, nums[i%len(nums)], callee); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("cache_miss/unknown_number", func(b *testing.B) {
		nums := make([]string, 200_000)
		for i := range nums {
			nums[i] = fmt.Sprintf("07 %08d", i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lk.Resolve(ctx, nums[i%len(nums)], callee)
			i++
		}
	})
}

// BenchmarkHeapPerContact reports the Go heap a Lookup holds per contact
// (live bytes after GC, the directory excluded) over 100,000 and 1,000,000
// company contacts with a work and a mobile number each, the heap objects
// per contact and the scannable heap per contact (the GC's mark work
// grows with both).
func BenchmarkHeapPerContact(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("contacts=%d", n), func(b *testing.B) { benchHeapPerContact(b, n) })
	}
}

// scannableHeap returns the bytes of heap the GC scans for pointers.
func scannableHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/scan/heap:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func benchHeapPerContact(b *testing.B, n int) {
	ctx := context.Background()
	store := directory.NewMemStore()
	var batch directory.Batch
	for i := range n {
		batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: directory.Contact{
			ID: fmt.Sprintf("c_%08d", i), Kind: directory.KindCompany, Domain: benchLookupDomain, Version: 1,
			FirstName: firstNames[i%len(firstNames)], LastName: fmt.Sprintf("%s%d", lastNames[i%len(lastNames)], i%997),
			Company: companies[i%len(companies)],
			Phones: []directory.Phone{
				{Type: directory.PhoneWork, Number: benchCompanyNumber(i)},
				{Type: directory.PhoneMobile, Number: benchPersonalNumber(i)},
			},
		}})
	}
	if _, err := store.Apply(ctx, batch); err != nil {
		b.Fatal(err)
	}
	batch = directory.Batch{}
	svc, err := directory.New(ctx, store, directory.Config{}, testLogger())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		scanBefore := scannableHeap()
		lk, err := New(ctx, svc, Config{DefaultRegion: "FR", DefaultDomain: benchLookupDomain}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if lk.Len() != n {
			b.Fatalf("lookup holds %d contacts, want %d", lk.Len(), n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap_B/contact")
		b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/float64(n), "objects/contact")
		// The heap the GC must scan for pointers, which its mark work
		// follows; pointer-free memory is not scanned.
		b.ReportMetric(float64(int64(scannableHeap())-int64(scanBefore))/float64(n), "scan_B/contact")
		runtime.KeepAlive(lk)
	}
}
