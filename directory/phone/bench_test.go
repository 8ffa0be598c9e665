package phone

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	benches := []struct {
		name   string
		region string
		raw    string
	}{
		{name: "national", region: "FR", raw: "04 91 55 01 42"},
		{name: "international", region: "FR", raw: "+33 4 91 55 01 42"},
		{name: "idd", region: "DE", raw: "0049 30 1234567"},
		{name: "missing_plus_foreign", region: "FR", raw: "49301234567"},
		{name: "sip_uri", region: "FR", raw: "sip:+33491550142@trunk;user=phone"},
		{name: "extension", region: "FR", raw: "201"},
		{name: "typed_extension_suffix", region: "US", raw: "+1 415 555 0132 ext. 45"},
		{name: "typed_vanity", region: "US", raw: "1-800-FLOWERS"},
		{name: "typed_fullwidth", region: "FR", raw: "＋４４ ２０ ７１８３ ８７５０"},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			n := newNormalizer(b, bb.region)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Parse(bb.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

const benchIndexSize = 1_000_000

var (
	benchOnce     sync.Once
	benchIdx      *Index
	benchPerEntry float64
)

// benchNumber returns the i-th deterministic benchmark number, a Paris
// number (+33 1 + 8 digits) scattered over the range by a prime stride so
// neighbours do not share trailing digits.
func benchNumber(i int) string {
	return fmt.Sprintf("+331%08d", (i*7919)%100_000_000)
}

// benchIndex builds the 1,000,000-number index once for all sub-benchmarks
// and records its heap cost per entry.
func benchIndex(b *testing.B) *Index {
	b.Helper()
	benchOnce.Do(func() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x := NewIndex(newNormalizer(b, "FR"))
		// Parsing dominates Add and runs outside the index lock, so one
		// builder per CPU shortens the setup.
		workers := runtime.GOMAXPROCS(0)
		errs := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < benchIndexSize; i += workers {
					if err := x.Add(uint32(i), benchNumber(i)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		benchPerEntry = float64(after.HeapAlloc-before.HeapAlloc) / benchIndexSize
		benchIdx = x
	})
	if benchIdx == nil || benchIdx.Len() != benchIndexSize {
		b.Fatal("benchmark index not built")
	}
	return benchIdx
}

func BenchmarkLookup(b *testing.B) {
	x := benchIndex(b)
	parse := func(raw string) Number {
		num, err := x.norm.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		return num
	}
	hit := benchNumber(424_242)
	hitNational := "0" + hit[3:]
	benches := []struct {
		name string
		raw  string
		want Rank
	}{
		{name: "exact", raw: hitNational, want: RankExact},
		// 07 + the same 8 digits: a mobile sharing the national tail.
		{name: "trailing", raw: "07" + hit[4:], want: RankTrailingDigits},
		{name: "miss", raw: "0999999999", want: RankNone},
	}
	for _, bb := range benches {
		// raw: what a call costs, normalization included.
		b.Run(bb.name+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := x.Lookup(bb.raw)
				if err != nil || r.Rank != bb.want {
					b.Fatalf("Lookup(%q) = %+v, %v; want rank %v", bb.raw, r, err, bb.want)
				}
			}
			b.ReportMetric(benchPerEntry, "B/entry")
		})
		// parsed: the index part alone.
		b.Run(bb.name+"/parsed", func(b *testing.B) {
			num := parse(bb.raw)
			b.ReportAllocs()
			for b.Loop() {
				if r := x.LookupNumber(num); r.Rank != bb.want {
					b.Fatalf("LookupNumber(%q) = %+v; want rank %v", bb.raw, r, bb.want)
				}
			}
		})
	}
}
