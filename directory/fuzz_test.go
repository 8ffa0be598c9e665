package directory

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/switchboardhq/switchboard/accounts"
)

var fuzzOwner = accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}}

func fuzzService(t *testing.T) *Service {
	t.Helper()
	s, err := New(context.Background(), NewMemStore(), Config{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkReport holds what any import must: every rejected row is located,
// and what was imported can be read back.
func checkReport(t *testing.T, s *Service, rep ImportReport) {
	t.Helper()
	for _, e := range append(append([]RowError(nil), rep.Errors...), rep.Skips...) {
		if e.Line < 1 || e.Reason == "" {
			t.Fatalf("row error without line or reason: %+v", e)
		}
	}
	page, err := s.Search(context.Background(), fuzzOwner, Query{Kind: KindPersonal, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(page.Items); got != rep.Imported && page.Next == "" {
		t.Fatalf("report says %d imported, directory holds %d", rep.Imported, got)
	}
	if len(rep.Errors) > MaxReportRows || len(rep.Skips) > MaxReportRows {
		t.Fatalf("report holds %d errors and %d skips, more than %d", len(rep.Errors), len(rep.Skips), MaxReportRows)
	}
	for _, e := range page.Items {
		if err := e.Contact.Validate(); err != nil {
			t.Fatalf("imported contact is invalid: %v: %+v", err, e.Contact)
		}
	}
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(CSVHeader + "\nAda,Lovelace,,,,+44 20 7946 0018,,,,,ada@example.com,,,,,,,Note,\n"))
	f.Add([]byte("\xef\xbb\xbffirst_name;last_name;phone_work\nJosé;Müller;+49 30 123456\n\"Multi\nLine\";X;0491550142\n"))
	f.Add([]byte("first_name,email\n,not-an-email\n\x00\x01\x02,\n"))
	f.Add([]byte(""))
	// Limits: a header at and beyond MaxCSVColumns, control characters,
	// neutralized formula cells, more bad rows than the report keeps.
	f.Add([]byte("first_name" + strings.Repeat(",x", MaxCSVColumns) + "\nAda\n"))
	f.Add([]byte("first_name" + strings.Repeat(",x", MaxCSVColumns-2) + "\nAda\n"))
	f.Add([]byte("first_name,last_name,phone_work,notes,groups\n\"A\rB\",\x1b[2J,0491550142,\"a\r\nb\",\"G\x00\"\n'=HYPERLINK(1),'@x,'+44 20 7946 0018,\"'=1\n\",'=g | VIP\n"))
	f.Add([]byte("first_name\n" + strings.Repeat("x\n", MaxReportRows+5)))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzService(t)
		rep, err := s.ImportCSV(context.Background(), fuzzOwner, KindPersonal, bytes.NewReader(data), ImportOptions{})
		if err != nil {
			return // a file-level error (no header) is a clear answer too
		}
		checkReport(t, s, rep)
	})
}

func FuzzImportVCard(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lovelace;Ada;;;\r\nFN:Ada Lovelace\r\nTEL;TYPE=work:+44 20 7946 0018\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:ACME\r\nORG:ACME;Sales\r\nEMAIL:sales@acme.example\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nEND:VCARD\r\n"))
	// Limits: a skipped PHOTO, many folds, control characters. (Lines over
	// MaxVCardLineBytes are left to TestImportVCardLongLines: the fuzzer
	// spends its time minimizing such large inputs.)
	f.Add([]byte("BEGIN:VCARD\r\nFN:Photo\r\nTEL:1234\r\nPHOTO:" + strings.Repeat("QUJD", 1<<10) + "\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nFN:Folds\r\nTEL:1234\r\nNOTE:" + strings.Repeat("ab\r\n ", 300) + "\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\r\nN:A\rB;C\x00;;;\r\nTEL:1234\r\nCATEGORIES:G\x1b,VIP\r\nEND:VCARD\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzService(t)
		rep, err := s.ImportVCard(context.Background(), fuzzOwner, KindPersonal, bytes.NewReader(data), ImportOptions{})
		if err != nil {
			return
		}
		checkReport(t, s, rep)
	})
}

// FuzzExportCSV creates one contact from fuzzed fields, exports it and
// imports the export: no cell may start a formula (phone cells of valid
// numbers aside) and the contact must come back unchanged.
func FuzzExportCSV(f *testing.F) {
	f.Add("Ada", "Lovelace", "", "", "+44 20 7946 0018", "")
	f.Add(`=HYPERLINK("http://x","y")`, "@SUM(1)", "-2+3", "+cmd", "-123-", "=1+1\nline two")
	f.Add("'=quoted", "''+twice", "'", "\tTab", "0491550142", "\rCR")
	f.Add("A\x1bB", "C\u0085", "D\u2028", "E\x00", "+1 (415) 555-0100", "a\r\nb")
	f.Fuzz(func(t *testing.T, first, last, company, title, number, notes string) {
		ctx := context.Background()
		src := fuzzService(t)
		c, err := src.Create(ctx, fuzzOwner, Contact{Kind: KindPersonal, FirstName: first, LastName: last, Company: company,
			JobTitle: title, Notes: notes, Phones: []Phone{{Type: PhoneWork, Number: number}}})
		if err != nil {
			return // refused input is checked by the Validate tests
		}
		var buf bytes.Buffer
		if err := src.ExportCSV(ctx, fuzzOwner, KindPersonal, &buf); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil || len(recs) != 2 {
			t.Fatalf("export is not CSV with one record (%v): %q", err, buf.String())
		}
		for i, cell := range recs[1] {
			if !strings.HasPrefix(recs[0][i], "phone_") && formulaStart(cell) {
				t.Fatalf("column %s starts a formula: %q", recs[0][i], cell)
			}
		}
		dst := fuzzService(t)
		rep, err := dst.ImportCSV(ctx, fuzzOwner, KindPersonal, &buf, ImportOptions{})
		if err != nil || rep.Imported != 1 {
			t.Fatalf("import of the export: %v %+v", err, rep)
		}
		page, err := dst.Search(ctx, fuzzOwner, Query{Kind: KindPersonal})
		if err != nil || len(page.Items) != 1 {
			t.Fatalf("search: %v %d", err, len(page.Items))
		}
		want, got := canonical(Entry{Contact: c}).Contact, canonical(page.Items[0]).Contact
		if fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("round trip changed the contact:\nwant %+v\ngot  %+v", want, got)
		}
	})
}
