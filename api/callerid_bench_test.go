package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// benchHTTPContacts is the directory size of BenchmarkHTTPLookup.
const benchHTTPContacts = 1_000_000

var (
	benchHTTPOnce sync.Once
	benchHTTPSrv  *Server
)

// benchHTTPNumber is company contact i's number (Paris, scattered).
func benchHTTPNumber(i int) string { return fmt.Sprintf("+33 1 %08d", (i*7919)%100_000_000) }

// benchHTTPServer builds, once, an API over 1,000,000 company contacts
// written straight into a MemStore and indexed by callerid.New.
func benchHTTPServer(b *testing.B) *Server {
	b.Helper()
	benchHTTPOnce.Do(func() {
		ctx := context.Background()
		store := directory.NewMemStore()
		var batch directory.Batch
		for i := range benchHTTPContacts {
			batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: directory.Contact{
				ID: fmt.Sprintf("c_%07d", i), Kind: directory.KindCompany, Domain: "pbx.example.com", Version: 1,
				FirstName: "Jean", LastName: fmt.Sprintf("Dupont%d", i%997), Company: "ACME",
				Phones: []directory.Phone{{Type: directory.PhoneWork, Number: benchHTTPNumber(i)}},
			}})
			if len(batch.Contacts) == 10_000 {
				if _, err := store.Apply(ctx, batch); err != nil {
					panic(err)
				}
				batch = directory.Batch{}
			}
		}
		svc, err := directory.New(ctx, store, directory.Config{}, zerolog.Nop())
		if err != nil {
			panic(err)
		}
		start := time.Now()
		lk, err := callerid.New(ctx, svc, callerid.Config{DefaultRegion: "FR", DefaultDomain: "pbx.example.com"}, zerolog.Nop())
		if err != nil {
			panic(err)
		}
		b.Logf("lookup over %d contacts built in %v", lk.Len(), time.Since(start).Round(time.Millisecond))
		core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
		benchHTTPSrv = New(Deps{Presence: core, Keys: keys{"pbx": {Domain: "pbx.example.com", PBX: true, Scopes: []accounts.Scope{accounts.ScopeLookup}}}, Directory: svc}, zerolog.Nop())
		benchHTTPSrv.SetCallerID(lk)
	})
	return benchHTTPSrv
}

// BenchmarkHTTPLookup runs concurrent GET /v1/lookup requests over
// loopback against a 1,000,000-contact directory and reports throughput
// (req/s) and the 99th percentile latency (p99_µs). repeat_callers cycles
// 1,000 numbers (parse cache hits), new_callers never repeats a number.
func BenchmarkHTTPLookup(b *testing.B) {
	srv := benchHTTPServer(b)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	const clients = 16
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()

	for _, bc := range []struct {
		name, format string
		distinct     int
	}{
		{name: "text/repeat_callers", format: "text", distinct: 1000},
		{name: "json/repeat_callers", format: "json", distinct: 1000},
		{name: "text/new_callers", format: "text", distinct: benchHTTPContacts},
	} {
		b.Run(bc.name, func(b *testing.B) {
			urls := make([]string, min(bc.distinct, 200_000))
			for i := range urls {
				n := benchHTTPNumber(i * 13 % benchHTTPContacts)
				urls[i] = ts.URL + "/v1/lookup?key=pbx&callee=201&format=" + bc.format + "&number=0" + n[4:5] + n[6:]
			}
			if bc.distinct > len(urls) {
				// Fresh numbers per run: shift the range so earlier runs'
				// cache entries do not help.
				off := b.N
				for i := range urls {
					n := benchHTTPNumber((off + i*13) % benchHTTPContacts)
					urls[i] = ts.URL + "/v1/lookup?key=pbx&callee=201&format=" + bc.format + "&number=0" + n[4:5] + n[6:]
				}
			}
			var (
				mu   sync.Mutex
				lats []time.Duration
				next int64
			)
			var idx sync.Mutex
			take := func() (int, bool) {
				idx.Lock()
				defer idx.Unlock()
				if next >= int64(b.N) {
					return 0, false
				}
				next++
				return int(next - 1), true
			}
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := make([]time.Duration, 0, b.N/clients+1)
					for {
						i, ok := take()
						if !ok {
							break
						}
						t0 := time.Now()
						res, err := client.Get(urls[i%len(urls)])
						if err != nil {
							b.Error(err)
							return
						}
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Errorf("status %d", res.StatusCode)
							return
						}
						local = append(local, time.Since(t0))
					}
					mu.Lock()
					lats = append(lats, local...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if len(lats) == 0 {
				return
			}
			slices.Sort(lats)
			p99 := lats[min(len(lats)-1, len(lats)*99/100)]
			b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(p99.Microseconds()), "p99_µs")
		})
	}
}
