package directory

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// csvBenchRows is the size of the file BenchmarkParseCSVRows reads.
const csvBenchRows = 4096

// csvBenchData returns a CSV in the full CSVHeader template of rows rows
// like the company directories people import: accented names, two
// numbers, one email, the other columns empty.
func csvBenchData(rows int) []byte {
	r := rand.New(rand.NewPCG(5, 6))
	firsts := []string{"José", "Anne", "Jean-Luc", "Zoë", "Marc", "Søren"}
	lasts := []string{"Müller", "Dupont", "Martin", "Lefèvre", "Bernard", "O'Neil"}
	companies := []string{"Acme Plomberie SA", "Globex", "Initech GmbH", "Café du Port", "Umbrella SARL"}
	var buf bytes.Buffer
	buf.WriteString(CSVHeader + "\n")
	for i := range rows {
		first, last := firsts[r.IntN(len(firsts))], lasts[r.IntN(len(lasts))]
		company := companies[r.IntN(len(companies))]
		mail := strings.ToLower(strings.NewReplacer(" ", "-", "'", "").Replace(fmt.Sprintf("%s.%s%d@%s.example", first, last, i, company)))
		mail = strings.NewReplacer("é", "e", "ü", "u", "ë", "e", "ø", "o", "è", "e").Replace(mail)
		fmt.Fprintf(&buf, "%s,%s,%s,,,+33 4 %02d %02d %02d %02d,+33 6 %02d %02d %02d %02d,,,,%s,,,,,,,,\n",
			first, last, company, r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100),
			r.IntN(100), r.IntN(100), r.IntN(100), r.IntN(100), mail)
	}
	return buf.Bytes()
}

// BenchmarkParseCSVRows reads a csvBenchRows-row CSV into import rows
// (parseCSV and csvRow, no validation or store); one op is the file.
func BenchmarkParseCSVRows(b *testing.B) {
	data := csvBenchData(csvBenchRows)
	b.ReportAllocs()
	for b.Loop() {
		var rep ImportReport
		next, err := parseCSV(bytes.NewReader(data), &rep)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, err := next()
			if err != nil {
				b.Fatal(err)
			}
			if row == nil {
				break
			}
			n++
		}
		if n != csvBenchRows || len(rep.Errors) != 0 {
			b.Fatalf("%d rows, %d errors", n, len(rep.Errors))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*csvBenchRows), "ns/row")
}

// BenchmarkValidateImported validates (after normalize, as importRows
// does) the contacts of csvBenchData; one op is one contact.
func BenchmarkValidateImported(b *testing.B) {
	var rep ImportReport
	next, err := parseCSV(bytes.NewReader(csvBenchData(csvBenchRows)), &rep)
	if err != nil {
		b.Fatal(err)
	}
	var cs []Contact
	for {
		row, err := next()
		if err != nil {
			b.Fatal(err)
		}
		if row == nil {
			break
		}
		row.c.Kind, row.c.Domain = KindCompany, "pbx.example.com"
		row.c.normalize()
		cs = append(cs, row.c)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := cs[i%len(cs)].Validate(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
