package directory

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// messyCSV is what Excel in a French locale writes: BOM, ";" separators,
// quoted multi-line notes, plus the usual mistakes.
const messyCSV = "\ufeff" + `first_name;last_name;company;department;job_title;phone_work;phone_mobile;phone_home;phone_fax;phone_other;email;email2;street;city;region;postal_code;country;notes;groups
Jean;Dupont;Dupont SARL;;Gérant;+33 4 91 55 01 42;;;;;jean@dupont.example;;1 rue de la Paix;Marseille;PACA;13001;France;"Rappeler le lundi
Parking derrière";Favorite
Marie;Curie;;;;;06 12 34 56 78;;;;marie@@curie;;;;;;;;
;;;;;;;;;;;;;;;;;;
Jean;Dupont;;;;+33 (4) 91.55.01.42;;;;;;;;;;;;;

Zoé;Lévy;;;;;;;;;zoe@levy.example;;;;;;;"Trois
lignes
de notes";
Bad;Number;;;;12-AB;;;;;;;;;;;;;
;;;;;;;;;;x@y.example;;;;;;;;
Paul;` + "\xff\xfe" + `Bin;;;;0123456;;;;;;;;;;;;;
Paul;Martin;;;;;07 00 00 00 01;;;;;;;;;;;;
Paul;Martin;;;;;0700000001;;;;;;;;;;;;Golf
Léa;Roux;;;;;0611111111;;;;;;;;;;;;Favorite | Blocked
Anna;Schmidt;;;;030 1234567;;;;;;;;;;;;;VIP
`

func TestImportCSVMessyFile(t *testing.T) {
	for _, dry := range []bool{true, false} {
		t.Run(map[bool]string{true: "dry run", false: "real"}[dry], func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			before, err := f.svc.Search(ctx, bob, Query{})
			require.NoError(t, err)
			rep, err := f.svc.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(messyCSV), ImportOptions{DryRun: dry})
			require.NoError(t, err)
			assert.Equal(t, ImportReport{
				Imported: 4, Skipped: 2, DryRun: dry,
				Errors: []RowError{
					{Line: 4, Column: "email", Reason: `not an email address: "marie@@curie"`},
					{Line: 11, Column: "phone_work", Reason: "2 letters (a vanity number spells a word of 3 or more)"},
					{Line: 12, Column: "first_name", Reason: "a first name, last name or company is required"},
					{Line: 13, Column: "last_name", Reason: "invalid UTF-8 (save the file as UTF-8)"},
					{Line: 16, Column: "groups", Reason: "a contact cannot be both blocked and favorite or VIP"},
				},
				Skips: []RowError{
					{Line: 6, Reason: "duplicate of line 2"},
					{Line: 15, Reason: "duplicate of line 14"},
				},
			}, rep)

			page, err := f.svc.Search(ctx, alice, Query{Kind: KindPersonal})
			require.NoError(t, err)
			if dry {
				assert.Equal(t, []string{"José Müller"}, names(page))
				return
			}
			assert.Equal(t, []string{"Jean Dupont", "Anna Schmidt", "Zoé Lévy", "Paul Martin", "José Müller"}, names(page))
			jean := page.Items[0]
			assert.Equal(t, "Rappeler le lundi\nParking derrière", jean.Contact.Notes)
			assert.Equal(t, []string{GroupFavorite}, jean.Marks)
			assert.Equal(t, Address{Street: "1 rue de la Paix", City: "Marseille", Region: "PACA", PostalCode: "13001", Country: "France"}, jean.Contact.Address)
			assert.Equal(t, []string{GroupVIP}, page.Items[1].Marks)

			// Nothing else changed: Bob sees exactly what he saw before.
			after, err := f.svc.Search(ctx, bob, Query{})
			require.NoError(t, err)
			assert.Equal(t, names(before), names(after))
		})
	}
}

func TestImportCSVDuplicateUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := CSVHeader + "\nJosé,Müller,,,,,04 91 55 01 42 | +33491550142,,,,jose@new.example,,,,,,,,\n"
	rep, err := f.svc.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{OnDuplicate: DupUpdate})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Updated: 1}, rep)
	got, err := f.svc.Get(ctx, alice, f.personal.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"jose@new.example"}, got.Contact.Emails)
	assert.Equal(t, f.personal.Version+1, got.Contact.Version)
}

func TestImportCSVHeaderErrors(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		name, in string
	}{
		{name: "empty", in: ""},
		{name: "no name columns", in: "foo,bar\n1,2\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.ImportCSV(context.Background(), alice, KindPersonal, strings.NewReader(tt.in), ImportOptions{})
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "header", fe.Field)
		})
	}
}

// canonical drops what a round trip does not keep and orders phones by
// type as the template does.
func canonical(e Entry) Entry {
	c := e.Contact
	c.ID, c.Owner, c.Created, c.Updated, c.Version = "", "", time.Time{}, time.Time{}, 0
	slices.SortStableFunc(c.Phones, func(a, b Phone) int {
		return slices.Index(phoneTypes, a.Type) - slices.Index(phoneTypes, b.Type)
	})
	return Entry{Contact: c, Marks: e.Marks}
}

func richContacts() []Contact {
	return []Contact{
		{Kind: KindPersonal, FirstName: "José", LastName: "Müller", Company: "Acme & Sons, Ltd", Department: "R&D", JobTitle: "Chef \"de\" projet",
			Phones: []Phone{{Type: PhoneMobile, Number: "+33 6 12 34 56 78"}, {Type: PhoneWork, Number: "04 91 55 01 42"}, {Type: PhoneMobile, Number: "06 00 00 00 01"},
				{Type: PhoneHome, Number: "(0)4-91/55.01.43"}, {Type: PhoneFax, Number: "0491550144"}, {Type: PhoneOther, Number: "123"}},
			Emails:  []string{"jose@example.com", "j.muller@example.org", "jm@example.net"},
			Address: Address{Street: "1 rue de la Paix\nBât. B", City: "Marseille", Region: "PACA", PostalCode: "13001", Country: "France"},
			Notes:   "line one\nline two, with comma; and semicolon\n\"quoted\""},
		{Kind: KindPersonal, Company: "Only Company", Emails: []string{"info@only.example"}},
		{Kind: KindPersonal, FirstName: "Åsa", Phones: []Phone{{Type: PhoneWork, Number: "+46 8 123 456"}}},
	}
}

func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		export func(s *Service, w *bytes.Buffer) error
		imp    func(s *Service, r *bytes.Buffer) (ImportReport, error)
	}{
		{name: "csv",
			export: func(s *Service, w *bytes.Buffer) error { return s.ExportCSV(ctx, alice, KindPersonal, w) },
			imp: func(s *Service, r *bytes.Buffer) (ImportReport, error) {
				return s.ImportCSV(ctx, alice, KindPersonal, r, ImportOptions{})
			}},
		{name: "vcard 3.0",
			export: func(s *Service, w *bytes.Buffer) error { return s.ExportVCard(ctx, alice, KindPersonal, "3.0", w) },
			imp: func(s *Service, r *bytes.Buffer) (ImportReport, error) {
				return s.ImportVCard(ctx, alice, KindPersonal, r, ImportOptions{})
			}},
		{name: "vcard 4.0",
			export: func(s *Service, w *bytes.Buffer) error { return s.ExportVCard(ctx, alice, KindPersonal, "4.0", w) },
			imp: func(s *Service, r *bytes.Buffer) (ImportReport, error) {
				return s.ImportVCard(ctx, alice, KindPersonal, r, ImportOptions{})
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(ctx, NewMemStore(), Config{}, testLogger())
			require.NoError(t, err)
			g, err := src.CreateGroup(ctx, alice, "Golf")
			require.NoError(t, err)
			for i, c := range richContacts() {
				c, err := src.Create(ctx, alice, c)
				require.NoError(t, err)
				if i == 0 {
					require.NoError(t, src.Mark(ctx, alice, c.ID, GroupFavorite, true))
					require.NoError(t, src.Mark(ctx, alice, c.ID, g.ID, true))
				}
			}
			var buf bytes.Buffer
			require.NoError(t, tt.export(src, &buf))
			exported := buf.String()

			dst, err := New(ctx, NewMemStore(), Config{}, testLogger())
			require.NoError(t, err)
			rep, err := tt.imp(dst, &buf)
			require.NoError(t, err)
			require.Equal(t, ImportReport{Imported: 3, CreatedGroups: []string{"Golf"}}, rep)

			want, err := src.Search(ctx, alice, Query{})
			require.NoError(t, err)
			got, err := dst.Search(ctx, alice, Query{})
			require.NoError(t, err)
			require.Len(t, got.Items, len(want.Items))
			for i := range want.Items {
				assert.Equal(t, canonical(want.Items[i]), canonical(got.Items[i]))
			}
			var again bytes.Buffer
			require.NoError(t, tt.export(dst, &again))
			assert.Equal(t, exported, again.String(), "export of the import is identical")
		})
	}
}

func TestImportVCardReport(t *testing.T) {
	f := newFixture(t)
	in := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ok Person\r\nN:Person;Ok;;;\r\nTEL;TYPE=cell:+49 30 1234567\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bad Mail\r\nN:Mail;Bad;;;\r\nEMAIL:not-an-address\r\nEND:VCARD\r\n" +
		"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut\r\n"
	rep, err := f.svc.ImportVCard(context.Background(), alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Imported: 1, Errors: []RowError{
		{Line: 7, Column: "EMAIL", Reason: `not an email address: "not-an-address"`},
		{Line: 13, Reason: "card without END:VCARD"},
	}}, rep)
}
