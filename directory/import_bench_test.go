package directory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// importBenchRows is the size of the CSV BenchmarkImportCSV imports, and
// importBenchPreload the contacts already stored in the grown case: the
// issue's 4th 250k into 750k, scaled down so that a store is set up in
// seconds on a shared 2-core machine.
const (
	importBenchRows    = 50_000
	importBenchPreload = 300_000
)

// BenchmarkImportCSV imports a company CSV of importBenchRows rows (first
// and last name, company, a work and a mobile number, an email) into an
// empty store and into one already holding importBenchPreload company
// contacts of the same domain, on bolt and on Redis, and reports rows/s.
// Flat import speed means the two figures of a store agree. Run it with
// -benchtime=1x. On a shared machine wall-clock rows/s moves with the
// load; cpu_µs/row (the process's user+system CPU time during the import,
// GC and store client included, Redis server excluded) moves much less.
func BenchmarkImportCSV(b *testing.B) {
	for _, kind := range []string{"bolt", "redis"} {
		for _, preload := range []int{0, importBenchPreload} {
			b.Run(fmt.Sprintf("store=%s/preload=%d", kind, preload), func(b *testing.B) {
				benchImport(b, kind, preload)
			})
		}
	}
}

func benchImport(b *testing.B, kind string, preload int) {
	ctx := context.Background()
	var total, cpu time.Duration
	for n := range b.N {
		b.StopTimer()
		var store Store
		switch kind {
		case "bolt":
			bs, err := OpenBolt(filepath.Join(b.TempDir(), fmt.Sprintf("dir%d.db", n)))
			if err != nil {
				b.Fatal(err)
			}
			defer bs.Close()
			store = bs
		case "redis":
			rdb := newTestRedis(b)
			store = newTestRedisStore(b, rdb)
		}
		preloadStore(b, store, preload)
		svc, err := New(ctx, store, Config{}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		csv := importBenchCSV(n, importBenchRows)
		// The load's garbage is not the import's: collect it first.
		runtime.GC()
		b.StartTimer()
		start, cpu0 := time.Now(), processCPU()
		rep, err := svc.ImportCSV(ctx, admin, KindCompany, strings.NewReader(csv), ImportOptions{Domain: "pbx.example.com"})
		total += time.Since(start)
		cpu += processCPU() - cpu0
		if err != nil || rep.Imported != importBenchRows {
			b.Fatalf("import: %v, %d imported, %d skipped, %d errors", err, rep.Imported, rep.Skipped, len(rep.Errors))
		}
	}
	b.ReportMetric(float64(b.N*importBenchRows)/total.Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*importBenchRows), "cpu_µs/row")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// preloadStore writes n generated company contacts straight to store, in
// large batches.
func preloadStore(b *testing.B, store Store, n int) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	const chunk = 5000
	for i := 0; i < n; i += chunk {
		var batch Batch
		for j := i; j < min(i+chunk, n); j++ {
			batch.Contacts = append(batch.Contacts, ContactWrite{Contact: genContact(r, j)})
		}
		if _, err := store.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// importBenchCSV returns a company CSV of rows distinct contacts, none
// duplicating genContact's.
func importBenchCSV(n, rows int) string {
	var csv strings.Builder
	csv.WriteString("first_name,last_name,company,phone_work,phone_mobile,email\n")
	for i := range rows {
		fmt.Fprintf(&csv, "Jean,Dupont%d-%d,Import %d,+33 1 %08d,+33 7 %08d,j%d.%d@example.com\n",
			n, i, i%500, (n*rows+i)*7919%100_000_000, (n*rows+i)*104729%100_000_000, n, i)
	}
	return csv.String()
}
