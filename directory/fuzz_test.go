package directory

import (
	"bytes"
	"context"
	"testing"

	"github.com/rs/zerolog"
)

var fuzzOwner = Principal{User: "201@pbx.example.com", Scopes: []Scope{ScopePersonal}}

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
}

func FuzzImportCSV(f *testing.F) {
	f.Add([]byte(CSVHeader + "\nAda,Lovelace,,,,+44 20 7946 0018,,,,,ada@example.com,,,,,,,Note,\n"))
	f.Add([]byte("\xef\xbb\xbffirst_name;last_name;phone_work\nJosé;Müller;+49 30 123456\n\"Multi\nLine\";X;0491550142\n"))
	f.Add([]byte("first_name,email\n,not-an-email\n\x00\x01\x02,\n"))
	f.Add([]byte(""))
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
	f.Fuzz(func(t *testing.T, data []byte) {
		s := fuzzService(t)
		rep, err := s.ImportVCard(context.Background(), fuzzOwner, KindPersonal, bytes.NewReader(data), ImportOptions{})
		if err != nil {
			return
		}
		checkReport(t, s, rep)
	})
}
