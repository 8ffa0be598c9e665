package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// BenchmarkLookupDuringImport measures what a PBX's caller-ID lookups and
// a phone's digest check see while an administrator imports 100,000 CSV
// rows on the same instance (embedded bolt store, as by default). Four
// clients call GET /v1/lookup over loopback (each every 2 ms) and one
// goroutine asks for a user's HA1 every millisecond, first for 10 s
// without an import (idle_lookup_p99_µs), then from the start of the
// import to its end. It reports lookup_p50_µs / lookup_p99_µs,
// ha1_p50_µs / ha1_p99_µs, lookup_max_ms, and import rows/s. Run it with
// -benchtime=1x.
func BenchmarkLookupDuringImport(b *testing.B) {
	const rows = 100_000
	ctx := context.Background()
	store, err := directory.OpenBolt(filepath.Join(b.TempDir(), "dir.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc, err := directory.New(ctx, store, directory.Config{}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	admin := accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite, accounts.ScopeLookup}}
	if _, err := svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", SIPPassword: "s3cret-pass"}); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "ACME Marseille",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 91 55 01 42"}}}); err != nil {
		b.Fatal(err)
	}
	lk, err := callerid.New(ctx, svc, callerid.Config{DefaultRegion: "FR", DefaultDomain: "pbx.example.com"}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	srv := New(Deps{Presence: core, Keys: keys{"pbx": {Scopes: []accounts.Scope{accounts.ScopeLookup}}}, Directory: svc}, zerolog.Nop())
	srv.SetCallerID(lk)
	ts := httptest.NewServer(srv)
	defer ts.Close()

	for n := range b.N {
		var csv strings.Builder
		csv.WriteString("first_name,last_name,company,phone_work,phone_mobile,email\n")
		for i := range rows {
			fmt.Fprintf(&csv, "Jean,Dupont%d-%d,Import %d,+33 1 %08d,+33 6 %08d,j%d.%d@example.com\n", n, i, i%500, (n*rows+i)*7919%100_000_000, (n*rows+i)*104729%100_000_000, n, i)
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
		// measure runs the lookup clients and the digest-check loop until
		// stop is closed. Each client paces itself (a request every 2 ms,
		// about 2,000 lookups/s in all: a busy PBX), so the figures show
		// waiting, not a saturated CPU.
		measure := func(stop <-chan struct{}) (lookups, ha1s []time.Duration) {
			var (
				wg sync.WaitGroup
				mu sync.Mutex
			)
			for range 4 {
				wg.Go(func() {
					var local []time.Duration
					tick := time.NewTicker(2 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							mu.Lock()
							lookups = append(lookups, local...)
							mu.Unlock()
							return
						case <-tick.C:
						}
						t0 := time.Now()
						res, err := client.Get(ts.URL + "/v1/lookup?key=pbx&callee=201@pbx.example.com&format=text&number=0491550142")
						if err != nil {
							b.Error(err)
							return
						}
						body, _ := io.ReadAll(res.Body)
						res.Body.Close()
						local = append(local, time.Since(t0))
						if string(body) != "ACME Marseille" {
							b.Errorf("lookup answered %q", body)
							return
						}
					}
				})
			}
			wg.Go(func() {
				var local []time.Duration
				for {
					select {
					case <-stop:
						mu.Lock()
						ha1s = append(ha1s, local...)
						mu.Unlock()
						return
					case <-time.After(time.Millisecond):
					}
					t0 := time.Now()
					if _, ok, _ := svc.HA1(ctx, "201", "pbx.example.com", "MD5"); !ok {
						b.Error("no HA1")
						return
					}
					local = append(local, time.Since(t0))
				}
			})
			wg.Wait()
			return lookups, ha1s
		}
		// Idle first, for comparison on the same machine.
		stop := make(chan struct{})
		time.AfterFunc(10*time.Second, func() { close(stop) })
		idle, _ := measure(stop)
		stop = make(chan struct{})
		got := make(chan [2][]time.Duration, 1)
		go func() {
			l, h := measure(stop)
			got <- [2][]time.Duration{l, h}
		}()
		start := time.Now()
		rep, err := svc.ImportCSV(ctx, admin, directory.KindCompany, strings.NewReader(csv.String()), directory.ImportOptions{Domain: "pbx.example.com"})
		elapsed := time.Since(start)
		close(stop)
		res := <-got
		lookups, ha1s := res[0], res[1]
		client.CloseIdleConnections()
		if err != nil || rep.Imported != rows {
			b.Fatalf("import: %v, %d imported, %d errors", err, rep.Imported, len(rep.Errors))
		}
		slices.Sort(idle)
		b.ReportMetric(float64(idle[len(idle)*99/100].Microseconds()), "idle_lookup_p99_µs")
		slices.Sort(lookups)
		slices.Sort(ha1s)
		pct := func(d []time.Duration, p int) time.Duration { return d[min(len(d)-1, len(d)*p/100)] }
		b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(pct(lookups, 50).Microseconds()), "lookup_p50_µs")
		b.ReportMetric(float64(pct(lookups, 99).Microseconds()), "lookup_p99_µs")
		b.ReportMetric(float64(lookups[len(lookups)-1].Milliseconds()), "lookup_max_ms")
		b.ReportMetric(float64(len(lookups)), "lookups")
		b.ReportMetric(float64(pct(ha1s, 50).Microseconds()), "ha1_p50_µs")
		b.ReportMetric(float64(pct(ha1s, 99).Microseconds()), "ha1_p99_µs")
	}
}
