// Command million generates the 1,000,000-contact directory of issue 20
// (four CSV files of 250,000 company contacts: first and last name,
// company, a work and a mobile number, an email), imports it over HTTP
// into a running switchboard, and prints import rows/s per chunk, the
// server's RSS and Go heap after each chunk, and search and caller-ID
// lookup p50/p99 for a fixed list of terms. integration/million.sh starts
// the server and runs it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	firstNames = strings.Fields("James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen " +
		"José María Jean Marie Anna Paul Léa Lukas Sofia Mohamed Chloé Jürgen Zoé Ana Björn Eva Noah Hans Giulia Luca Sven Ingrid Pierre Camille Hugo Lucía Mateo Jonas Emma Olga")
	lastNames = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin " +
		"Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera " +
		"Campbell Mitchell Carter Roberts Müller Mullins Mullen Muller Mulligan Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Dupont Durand Dubois Moreau " +
		"Laurent Lefebvre Michel Leroy Rossi Russo Ferrari Esposito Bianchi Romano Colombo Nowak Kowalski Wiśniewski Öztürk Yılmaz Kaya Silva Santos Oliveira Pereira Costa Jensen Nielsen Hansen")
	companyA = strings.Fields("Acme Globex Initech Umbrella Hooli Stark Wayne Wonka Tyrell Cyberdyne Soylent Vandelay Gringotts Oscorp Aperture Massive Dynamic Blue Sun Monarch Nakatomi")
	companyB = strings.Fields("Plomberie Logistics Consulting Industries Systems Bank Foods Motors Pharma Energy Media Retail Software Partners Labs Services Holdings Transport Travel Insurance")
	forms    = strings.Fields("SA SARL GmbH Ltd Inc AG BV SpA Oy AB")
)

// contact returns row n of chunk c as CSV columns, deterministically.
func contact(r *rand.Rand, n int) []string {
	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	ci := r.IntN(20000)
	company := fmt.Sprintf("%s %s %s", companyA[ci%len(companyA)], companyB[(ci/len(companyA))%len(companyB)], forms[ci%len(forms)])
	if ci >= len(companyA)*len(companyB) {
		company = fmt.Sprintf("%s %d", company, ci)
	}
	slug := strings.ToLower(strings.NewReplacer(" ", "-").Replace(company))
	email := fmt.Sprintf("%s.%s%d@%s.example", ascii(first), ascii(last), n%100, slug)
	work := fmt.Sprintf("+33 4 %02d %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100))
	mobile := fmt.Sprintf("+33 6 %02d %02d %02d %02d", r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100))
	// first_name,last_name,company,department,job_title,phone_work,phone_mobile,…,email
	return []string{first, last, company, "", "", work, mobile, "", "", "", email, "", "", "", "", "", "", "", ""}
}

func ascii(s string) string {
	return strings.NewReplacer("é", "e", "á", "a", "í", "i", "ü", "u", "ö", "o", "ś", "s", "ı", "i", "Ö", "o").Replace(strings.ToLower(s))
}

const header = "first_name,last_name,company,department,job_title,phone_work,phone_mobile,phone_home,phone_fax,phone_other,email,email2,street,city,region,postal_code,country,notes,groups"

func chunk(c, rows int) []byte {
	r := rand.New(rand.NewPCG(uint64(c), 20))
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	fmt.Fprintln(w, header)
	for i := range rows {
		fmt.Fprintln(w, strings.Join(contact(r, c*rows+i), ","))
	}
	_ = w.Flush()
	return b.Bytes()
}

type client struct {
	base, key, domain string
	http              *http.Client
}

func (c *client) do(method, path string, body io.Reader) ([]byte, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "text/csv")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, out)
	}
	return out, err
}

// memory returns the server's RSS (from /proc when pid is known) and
// Go heap in use (from /metrics).
func (c *client) memory(pid int) (rss, heap float64) {
	if pid > 0 {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.ParseFloat(f[1], 64)
					rss = kb * 1024
				}
			}
		}
	}
	resp, err := c.http.Get(c.base + "/metrics")
	if err != nil {
		return rss, 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if v, ok := strings.CutPrefix(l, "go_memstats_heap_inuse_bytes "); ok {
			heap, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(l, "process_resident_memory_bytes "); ok && rss == 0 {
			rss, _ = strconv.ParseFloat(v, 64)
		}
	}
	return rss, heap
}

// pretouch maps gb GiB of anonymous memory, writes one byte a page and
// unmaps it, returning the seconds each GiB took. On a VM whose host
// backs guest memory lazily and takes back what the guest frees (this
// machine: Firecracker with free page reporting), the first write to a
// page the host does not back costs ~12 µs against ~2 µs for a page the
// guest recycles, and it lands on whichever chunk first grows past the
// memory recently freed by others (the build): that chunk measured
// 3-5 µs a row slower, the same whichever of the four it was. Touching
// the memory first leaves the guest holding it for the next seconds, so
// every chunk pays the same for its pages and the rows/s compare the
// import itself.
func pretouch(gb int) ([]float64, error) {
	const gib = 1 << 30
	var maps [][]byte
	defer func() {
		for _, m := range maps {
			_ = syscall.Munmap(m)
		}
	}()
	var secs []float64
	for range gb {
		t0 := time.Now()
		m, err := syscall.Mmap(-1, 0, gib, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return secs, fmt.Errorf("pretouch: %w", err)
		}
		maps = append(maps, m)
		for i := 0; i < gib; i += 4096 {
			m[i] = 1
		}
		secs = append(secs, time.Since(t0).Seconds())
	}
	return secs, nil
}

// cpuSeconds returns the user+system CPU time pid has used, from
// /proc/<pid>/stat (0 when pid is unknown).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if pid <= 0 || err != nil {
		return 0
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14 and stime 15 (proc(5)).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lat)
	return lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
}

// readWhileImporting searches for a common prefix and looks up a number,
// alternately every 10 ms, until stop is closed, and returns the
// latencies of each: readers must not wait for an import.
func (c *client) readWhileImporting(stop <-chan struct{}, domain string) [2][]time.Duration {
	var lat [2][]time.Duration
	reqs := [2]string{
		"/v1/contacts?limit=50&q=mu",
		"/v1/lookup?callee=" + url.QueryEscape("201@"+domain) + "&number=" + url.QueryEscape("+33 4 91 55 01 42"),
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		case <-time.After(10 * time.Millisecond):
		}
		t0 := time.Now()
		_, _ = c.do("GET", reqs[i%2], nil) // a 404 (unknown number) is an answer too
		lat[i%2] = append(lat[i%2], time.Since(t0))
	}
}

// tail formats the p99 and the maximum of lat.
func tail(lat []time.Duration) string {
	if len(lat) == 0 {
		return "-"
	}
	_, p99 := percentiles(lat)
	return ms(p99) + " / " + ms(slices.Max(lat))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func run() error {
	base := flag.String("url", "http://127.0.0.1:8080", "switchboard HTTP base URL")
	keyFile := flag.String("key-file", "", "file holding an admin API key (the bootstrap key)")
	domain := flag.String("domain", "example.com", "SIP domain the company contacts go to")
	chunks := flag.Int("chunks", 4, "CSV files to import")
	rows := flag.Int("rows", 250000, "rows per CSV file")
	pid := flag.Int("pid", 0, "server process ID, for RSS from /proc")
	reps := flag.Int("reps", 200, "requests per search term and lookup number")
	readers := flag.Bool("during", true, "search and look up every 10 ms while each chunk imports, and print their p99 and worst latency (the readers take CPU from the import)")
	rest := flag.Duration("rest", 25*time.Second, "pause after the import before measuring memory at rest (the server's --memory-trim returns freed memory once a whole 10 s interval passed without a collection: 10 to 20 s after the import)")
	touch := flag.Int("pretouch", 0, "GiB of memory to write and free before importing, so that every chunk gets memory the VM's host already backs (see pretouch)")
	flag.Parse()
	if *touch > 0 {
		secs, err := pretouch(*touch)
		if err != nil {
			return err
		}
		fmt.Printf("pre-touched %d GiB, seconds per GiB: %.2f (slowest %.2f)\n", len(secs), secs, slices.Max(secs))
	}
	key, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read key: %w", err)
	}
	c := &client{base: strings.TrimRight(*base, "/"), key: strings.TrimSpace(string(key)), domain: *domain, http: &http.Client{Timeout: 10 * time.Minute}}

	fmt.Printf("%-6s %10s %10s %10s %12s %10s %12s %18s %18s\n", "chunk", "rows", "seconds", "rows/s", "CPU µs/row", "RSS MB", "heap MB", "search p99/max ms", "lookup p99/max ms")
	total := 0
	for i := range *chunks {
		data := chunk(i, *rows)
		t0, cpu0 := time.Now(), cpuSeconds(*pid)
		stop := make(chan struct{})
		during := make(chan [2][]time.Duration)
		go func() {
			if !*readers {
				<-stop
				during <- [2][]time.Duration{}
				return
			}
			during <- c.readWhileImporting(stop, *domain)
		}()
		out, err := c.do("POST", "/v1/contacts/import.csv?kind=company&domain="+url.QueryEscape(*domain), bytes.NewReader(data))
		close(stop)
		lat := <-during
		if err != nil {
			return err
		}
		el, cpu := time.Since(t0), cpuSeconds(*pid)-cpu0
		var rep struct{ Imported, Updated, Skipped int }
		if err := json.Unmarshal(out, &rep); err != nil {
			return fmt.Errorf("import report: %w", err)
		}
		total += rep.Imported
		rss, heap := c.memory(*pid)
		fmt.Printf("%-6d %10d %10.1f %10.0f %12.0f %10.0f %12.0f %18s %18s   (imported %d, updated %d, skipped %d)\n",
			i+1, *rows, el.Seconds(), float64(*rows)/el.Seconds(), cpu*1e6/float64(*rows), rss/1e6, heap/1e6,
			tail(lat[0]), tail(lat[1]), rep.Imported, rep.Updated, rep.Skipped)
	}
	rss, heap := c.memory(*pid)
	if total > 0 {
		fmt.Printf("contacts %d right after the import: RSS %.0f MB (%.0f B/contact), Go heap in use %.0f MB (%.0f B/contact)\n", total, rss/1e6, rss/float64(total), heap/1e6, heap/float64(total))
		time.Sleep(*rest)
		rss, heap = c.memory(*pid)
		fmt.Printf("contacts %d after %s at rest: RSS %.0f MB (%.0f B/contact), Go heap in use %.0f MB (%.0f B/contact)\n", total, *rest, rss/1e6, rss/float64(total), heap/1e6, heap/float64(total))
	}

	fmt.Printf("\n%-22s %8s %8s %8s %8s\n", "search term", "p50 ms", "p99 ms", "items", "total")
	for _, term := range []string{"mu", "mull", "mullins", "mullins5", "jo", "john", "josé m", "smith", "a", "e", "acme", "acme plomberie", "91 55", "06 12", "+33 4 91", "4 91 55 01 42", ""} {
		var lat []time.Duration
		var page struct {
			Items       []json.RawMessage
			Total       int
			TotalCapped bool `json:"total_capped"`
		}
		for range *reps {
			t0 := time.Now()
			out, err := c.do("GET", "/v1/contacts?limit=50&q="+url.QueryEscape(term), nil)
			lat = append(lat, time.Since(t0))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(out, &page); err != nil {
				return err
			}
		}
		p50, p99 := percentiles(lat)
		tot := strconv.Itoa(page.Total)
		if page.TotalCapped {
			tot += "+"
		}
		fmt.Printf("%-22q %8s %8s %8d %8s\n", term, ms(p50), ms(p99), len(page.Items), tot)
	}

	fmt.Printf("\n%-22s %8s %8s\n", "lookup number", "p50 ms", "p99 ms")
	r := rand.New(rand.NewPCG(0, 20))
	for _, kind := range []string{"known", "unknown"} {
		var lat []time.Duration
		for i := range *reps {
			var num string
			if kind == "known" {
				num = contact(r, i)[5]
			} else {
				num = fmt.Sprintf("+49 30 %07d", i)
			}
			t0 := time.Now()
			_, err := c.do("GET", "/v1/lookup?callee="+url.QueryEscape("201@"+*domain)+"&number="+url.QueryEscape(num), nil)
			lat = append(lat, time.Since(t0))
			if err != nil && !strings.Contains(err.Error(), "404") {
				return err
			}
		}
		p50, p99 := percentiles(lat)
		fmt.Printf("%-22s %8s %8s\n", kind, ms(p50), ms(p99))
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
}
