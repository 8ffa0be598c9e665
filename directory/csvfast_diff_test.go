package directory

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// cellPieces are what genCell strings together: names, numbers,
// addresses, multi-value separators, formula quotes, control
// characters, invalid UTF-8 and the characters of CSV syntax.
var cellPieces = []string{
	"José", "Müller", "Acme Plomberie SA", "", " ", "  ", "+33 4 12 34 56 78", "06 12 34 56 78", "1-800-FLOWERS",
	" | ", "|", "||", "jose.muller42@acme-plomberie-sa.example", "a@b", "x@", "'=1+1", "'-5", "'\t", "''=x", "'",
	"=SUM(A1)", "@x", "-", "\x00", "\x01", "\x7f", "\xff", "\xc3", "\ufffd", "\u2028", "\u0085", "\r", "\t", "\n",
	"\r\n", "Favorite", "VIP", "日本", ",", ";", "\"", "\"\"", "a\"b", "\ufeff",
}

// genCell returns a random cell value.
func genCell(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(4) {
		b.WriteString(cellPieces[r.IntN(len(cellPieces))])
	}
	return b.String()
}

// headerNames are the header cells genCSV picks from: every column, in
// other spellings too, unknown and empty ones.
var headerNames = append(slices.Clone(csvColumns), "First Name", " EMAIL ", "Phone Work", "foo", "", "email2", "phone_mobile")

// genCSV returns a random CSV file: random header, separator, BOM, line
// ends and rows of random length, quoted or not.
func genCSV(r *rand.Rand) []byte {
	sep := []string{",", ";", "\t"}[r.IntN(3)]
	eol := []string{"\n", "\r\n"}[r.IntN(2)]
	var b bytes.Buffer
	if r.IntN(4) == 0 {
		b.WriteString("\ufeff")
	}
	ncols := 1 + r.IntN(len(headerNames))
	for i := range ncols {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(headerNames[r.IntN(len(headerNames))])
	}
	b.WriteString(eol)
	for range r.IntN(12) {
		switch r.IntN(10) {
		case 0:
			b.WriteString(eol) // a blank line
			continue
		case 1:
			b.WriteString(" " + sep + " " + eol) // a blank record
			continue
		}
		for i := range max(0, ncols+r.IntN(5)-3) {
			if i > 0 {
				b.WriteString(sep)
			}
			v := genCell(r)
			switch r.IntN(6) {
			case 0:
				b.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
			case 1:
				b.WriteString(`"` + v) // broken quoting, LazyQuotes reads on
			default:
				// Unquoted: no separator or line end, or the row breaks up
				// at random (which is input too).
				if r.IntN(3) > 0 {
					v = strings.NewReplacer(sep, " ", "\n", " ", "\r", " ", `"`, "").Replace(v)
				}
				b.WriteString(v)
			}
		}
		if r.IntN(8) > 0 {
			b.WriteString(eol)
		}
	}
	return b.Bytes()
}

// parseAll reads data with parse and returns the rows, the error that
// ended it and the report.
func parseAll(parse func(*bytes.Reader, *ImportReport) (rowSource, error), data []byte) ([]*importRow, string, ImportReport) {
	var rep ImportReport
	next, err := parse(bytes.NewReader(data), &rep)
	if err != nil {
		return nil, "header: " + err.Error(), rep
	}
	var rows []*importRow
	for {
		row, err := next()
		if err != nil {
			return rows, err.Error(), rep
		}
		if row == nil {
			return rows, "", rep
		}
		rows = append(rows, row)
	}
}

func TestParseCSVMatchesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	orig := func(b *bytes.Reader, rep *ImportReport) (rowSource, error) { return origParseCSV(b, rep) }
	fast := func(b *bytes.Reader, rep *ImportReport) (rowSource, error) { return parseCSV(b, rep) }
	files, rows, rejects, multi := 0, 0, 0, 0
	for range 15_000 {
		data := genCSV(r)
		wantRows, wantErr, wantRep := parseAll(orig, data)
		gotRows, gotErr, gotRep := parseAll(fast, data)
		if gotErr != wantErr || !reflect.DeepEqual(gotRows, wantRows) || !reflect.DeepEqual(gotRep, wantRep) {
			t.Fatalf("parse %q:\ngot  %s %#v %+v\nwant %s %#v %+v", data, gotErr, derefRows(gotRows), gotRep, wantErr, derefRows(wantRows), wantRep)
		}
		if wantErr == "" {
			files++
		}
		rows += len(wantRows)
		rejects += len(wantRep.Errors)
		for _, row := range wantRows {
			if len(row.c.Phones)+len(row.c.Emails)+len(row.groups) > 1 {
				multi++
			}
		}
	}
	// The files must reach every path: rows kept, rows refused, cells of
	// several values.
	if files == 0 || rows < 1000 || rejects < 1000 || multi < 100 {
		t.Fatalf("weak inputs: %d files read, %d rows, %d rejects, %d rows of several values", files, rows, rejects, multi)
	}
	t.Logf("%d files read, %d rows, %d rejects, %d rows of several values", files, rows, rejects, multi)
}

func derefRows(rows []*importRow) []importRow {
	out := make([]importRow, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	return out
}

// TestParseCSVMatchesOriginalOnBench holds parseCSV to the original on
// the benchmark's file, rows the size of real imports.
func TestParseCSVMatchesOriginalOnBench(t *testing.T) {
	data := csvBenchData(500)
	wantRows, wantErr, wantRep := parseAll(func(b *bytes.Reader, rep *ImportReport) (rowSource, error) { return origParseCSV(b, rep) }, data)
	gotRows, gotErr, gotRep := parseAll(func(b *bytes.Reader, rep *ImportReport) (rowSource, error) { return parseCSV(b, rep) }, data)
	if len(wantRows) != 500 || gotErr != wantErr || !reflect.DeepEqual(gotRows, wantRows) || !reflect.DeepEqual(gotRep, wantRep) {
		t.Fatalf("got %d rows, %q, %+v; want %d rows, %q, %+v", len(gotRows), gotErr, gotRep, len(wantRows), wantErr, wantRep)
	}
}

func TestBadTextMatchesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for range 200_000 {
		v := genCell(r)
		if got, want := badText(v), origBadText(v); got != want {
			t.Fatalf("badText(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestSplitMultiMatchesOriginal(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	for range 100_000 {
		v := genCell(r)
		if got, want := splitMulti(v), origSplitMulti(v); !reflect.DeepEqual(got, want) {
			t.Fatalf("splitMulti(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestCSVFieldsCoverHeader: a CSVHeader column missing from csvFields
// would be read and then dropped.
func TestCSVFieldsCoverHeader(t *testing.T) {
	for _, col := range csvColumns {
		if _, ok := csvFields[col]; !ok {
			t.Errorf("column %s has no csvFields entry", col)
		}
	}
	if len(csvFields) != len(csvColumns) {
		t.Errorf("csvFields has %d entries, CSVHeader %d columns", len(csvFields), len(csvColumns))
	}
}

// TestPackStringsIsolated: appending to one part never changes another.
func TestPackStringsIsolated(t *testing.T) {
	a, b, c := packStrings([]string{"a"}, []string{"b1", "b2"}, []string{"c"})
	a = append(a, "x")
	b = append(b, "y")
	if !slices.Equal(a, []string{"a", "x"}) || !slices.Equal(b, []string{"b1", "b2", "y"}) || !slices.Equal(c, []string{"c"}) {
		t.Fatalf("parts %q %q %q", a, b, c)
	}
	if a, b, c := packStrings(nil, []string{"b"}, nil); a != nil || c != nil || !slices.Equal(b, []string{"b"}) {
		t.Fatalf("empty parts must be nil: %q %q %q", a, b, c)
	}
}
