package directory

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

var (
	firstNames = []string{"José", "Jean", "Marie", "Anna", "Paul", "Léa", "Lukas", "Sofia", "Mohamed", "Chloé", "Jürgen", "Zoé", "Ana", "Björn", "Eva", "Noah"}
	lastNames  = []string{"Müller", "Martin", "Dupont", "García", "Schmidt", "Rossi", "Nowak", "Lévy", "Petit", "Durand", "Fischer", "Öztürk", "Silva", "Kowalski"}
	companies  = []string{"Acme", "Plomberie Générale", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises"}
)

// genContact returns a deterministic company contact n.
func genContact(r *rand.Rand, n int) Contact {
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	return Contact{
		ID: fmt.Sprintf("c_%08d", n), Kind: KindCompany, Domain: "pbx.example.com", Version: 1,
		FirstName: first, LastName: fmt.Sprintf("%s%d", last, n%997), Company: companies[r.IntN(len(companies))],
		Phones: []Phone{
			{Type: PhoneWork, Number: fmt.Sprintf("+33 4 %02d %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100))},
			{Type: PhoneMobile, Number: fmt.Sprintf("06 %02d %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100))},
		},
		Emails: []string{fmt.Sprintf("user%d@example.com", n)},
	}
}

var (
	bigOnce sync.Once
	bigSvc  *Service
)

// bigService returns a Service over 1,000,000 generated company contacts
// in a MemStore, built once per test binary.
func bigService(b *testing.B) *Service {
	b.Helper()
	bigOnce.Do(func() {
		ctx := context.Background()
		store := NewMemStore()
		r := rand.New(rand.NewPCG(1, 2))
		const n, chunk = 1_000_000, 10_000
		for i := 0; i < n; i += chunk {
			var batch Batch
			for j := i; j < i+chunk; j++ {
				batch.Contacts = append(batch.Contacts, ContactWrite{Contact: genContact(r, j)})
			}
			if _, err := store.Apply(ctx, batch); err != nil {
				panic(err)
			}
		}
		svc, err := New(ctx, store, Config{}, testLogger())
		if err != nil {
			panic(err)
		}
		bigSvc = svc
	})
	return bigSvc
}

// BenchmarkSearch1M measures query latency over 1,000,000 contacts and
// reports p50 and p99 per query shape.
func BenchmarkSearch1M(b *testing.B) {
	svc := bigService(b)
	ctx := context.Background()
	p := accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}}
	for _, q := range []Query{
		{Text: "mu"},
		{Text: "jo"},
		{Text: "e"},
		{Text: "jose"},
		{Text: "mull"},
		{Text: "müller12 jo"},
		{Text: "user4242"},
		{Text: "91 55"},
		{Text: "0612 34"},
		{Text: "plomberie gen"},
		{},
		{Kind: KindCompany, Text: "a"},
	} {
		b.Run(fmt.Sprintf("%q", q.Text), func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t0 := time.Now()
				page, err := svc.Search(ctx, p, q)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if len(page.Items) > 0 && page.Next != "" {
					// Second page through the cursor.
					if _, err := svc.Search(ctx, p, Query{Text: q.Text, Kind: q.Kind, Cursor: page.Next}); err != nil {
						b.Fatal(err)
					}
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_µs")
		})
	}
}

// BenchmarkImportCSV100k measures import throughput of a 100,000-row CSV
// into an empty Service on a MemStore and on a BoltStore.
func BenchmarkImportCSV100k(b *testing.B) {
	const rows = 100_000
	var buf bytes.Buffer
	buf.WriteString(CSVHeader + "\n")
	r := rand.New(rand.NewPCG(3, 4))
	for i := range rows {
		c := genContact(r, i)
		fmt.Fprintf(&buf, "%s,%s,%s,,,%s,%s,,,,%s,,,,,,,,\n", c.FirstName, c.LastName, c.Company, c.Phones[0].Number, c.Phones[1].Number, c.Emails[0])
	}
	data := buf.Bytes()
	for _, tt := range []struct {
		name  string
		store func(b *testing.B) Store
	}{
		{name: "mem", store: func(b *testing.B) Store { return NewMemStore() }},
		{name: "bolt", store: func(b *testing.B) Store {
			s, err := OpenBolt(b.TempDir() + "/dir.db")
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				b.StopTimer()
				svc, err := New(context.Background(), tt.store(b), Config{}, testLogger())
				require.NoError(b, err)
				b.StartTimer()
				t0 := time.Now()
				rep, err := svc.ImportCSV(context.Background(), admin, KindCompany, bytes.NewReader(data), ImportOptions{Domain: "pbx.example.com"})
				total += time.Since(t0)
				require.NoError(b, err)
				require.Equal(b, rows, rep.Imported+rep.Skipped)
			}
			b.ReportMetric(float64(rows*b.N)/total.Seconds(), "rows/s")
		})
	}
}

// BenchmarkMemoryPerContact reports the heap held by the Service index per
// contact (store excluded).
func BenchmarkMemoryPerContact(b *testing.B) {
	const n = 200_000
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(5, 6))
	var batch Batch
	for i := range n {
		batch.Contacts = append(batch.Contacts, ContactWrite{Contact: genContact(r, i)})
	}
	requireApply(b, store, ctx, batch)
	batch = Batch{}
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		svc, err := New(ctx, store, Config{}, testLogger())
		require.NoError(b, err)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/contact")
		runtime.KeepAlive(svc)
	}
}

// BenchmarkHeapPerContact reports the Go heap the Service holds per
// contact (live bytes after GC, store excluded) and its heap objects per
// contact, at 100,000 and 1,000,000 company contacts with two numbers and
// an email each (genContact: every email a distinct token, the costly
// case for the token index).
func BenchmarkHeapPerContact(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			store := NewMemStore()
			r := rand.New(rand.NewPCG(5, 6))
			for i := 0; i < n; i += 10_000 {
				var batch Batch
				for j := i; j < i+10_000; j++ {
					batch.Contacts = append(batch.Contacts, ContactWrite{Contact: genContact(r, j)})
				}
				requireApply(b, store, ctx, batch)
			}
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				svc, err := New(ctx, store, Config{}, testLogger())
				require.NoError(b, err)
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap_B/contact")
				// The collector's mark work grows with the objects it
				// must visit, not only with the bytes.
				b.ReportMetric(float64(after.HeapObjects-before.HeapObjects)/float64(n), "objects/contact")
				runtime.KeepAlive(svc)
			}
		})
	}
}

// BenchmarkIndexGC reports how long a full collection takes with only the
// index and duplicate index of 1,000,000 contacts alive (no store): the
// mark work grows with the objects and pointers they hold, and it is
// what searches and imports share the CPU with.
func BenchmarkIndexGC(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(5, 6))
	x, dups := newIndex(), newDupIndex()
	for i := range n {
		c := genContact(r, i)
		x.put(c)
		dups.add(&c)
	}
	x.finish()
	runtime.GC()
	// CPU time rather than wall time: the latter swings with whatever
	// else the machine runs.
	gcCPU := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(gcCPU)
	before := gcCPU[0].Value.Float64()
	for b.Loop() {
		runtime.GC()
	}
	metrics.Read(gcCPU)
	b.ReportMetric((gcCPU[0].Value.Float64()-before)*1000/float64(b.N), "gc_cpu_ms/op")
	runtime.KeepAlive(x)
	runtime.KeepAlive(dups)
}
