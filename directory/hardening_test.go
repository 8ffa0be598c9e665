package directory

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

func newService(t *testing.T, cfg Config) *Service {
	t.Helper()
	s, err := New(context.Background(), NewMemStore(), cfg, testLogger())
	require.NoError(t, err)
	return s
}

// contactWith returns a valid personal contact changed by set.
func contactWith(set func(c *Contact)) Contact {
	c := Contact{Kind: KindPersonal, FirstName: "Ada", LastName: "Lovelace", Phones: []Phone{{Type: PhoneWork, Number: "+44 20 7946 0018"}}}
	if set != nil {
		set(&c)
	}
	return c
}

func TestNeutralize(t *testing.T) {
	for _, tt := range []struct{ name, in, out string }{
		{name: "formula", in: `=HYPERLINK("http://x","y")`, out: `'=HYPERLINK("http://x","y")`},
		{name: "plus", in: "+cmd", out: "'+cmd"},
		{name: "minus", in: "-2+3", out: "'-2+3"},
		{name: "at", in: "@SUM(A1)", out: "'@SUM(A1)"},
		{name: "tab", in: "\tx", out: "'\tx"},
		{name: "cr", in: "\rx", out: "'\rx"},
		{name: "already quoted formula", in: "'=x", out: "''=x"},
		{name: "quotes before formula", in: "''+x", out: "'''+x"},
		{name: "plain quote", in: "'tis", out: "'tis"},
		{name: "lone quote", in: "'", out: "'"},
		{name: "text", in: "Ada", out: "Ada"},
		{name: "empty", in: "", out: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.out, neutralize(tt.in))
			assert.Equal(t, tt.in, unneutralize(neutralize(tt.in)), "round trip")
		})
	}
}

func TestExportCSVNeutralizesFormulas(t *testing.T) {
	ctx := context.Background()
	src := newService(t, Config{})
	g, err := src.CreateGroup(ctx, alice, "=2+5+cmd")
	require.NoError(t, err)
	in := []Contact{
		contactWith(func(c *Contact) {
			c.FirstName, c.LastName, c.Company = `=HYPERLINK("http://evil.example","click")`, "@SUM(1+1)", "-2+3"
			c.JobTitle, c.Notes, c.Emails = "+cmd", "=1+1\nsecond line", []string{"+tag@example.com"}
			c.Address = Address{Street: "'=already quoted", City: "'plain"}
			c.Phones = []Phone{{Type: PhoneWork, Number: "+44 20 7946 0018"}, {Type: PhoneWork, Number: "-123-"}, {Type: PhoneMobile, Number: "+33 6 12 34 56 78"}}
		}),
		contactWith(func(c *Contact) { c.FirstName, c.LastName = "Plain", "Person" }),
	}
	for i, c := range in {
		c, err := src.Create(ctx, alice, c)
		require.NoError(t, err)
		if i == 0 {
			require.NoError(t, src.Mark(ctx, alice, c.ID, g.ID, true))
		}
	}
	var buf bytes.Buffer
	require.NoError(t, src.ExportCSV(ctx, alice, KindPersonal, &buf))
	exported := buf.String()

	recs, err := csv.NewReader(strings.NewReader(exported)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 3)
	cell := map[string]string{}
	for i, col := range recs[0] {
		cell[col] = recs[1][i]
		if !strings.HasPrefix(col, "phone_") {
			assert.False(t, formulaStart(recs[1][i]), "column %s starts a formula: %q", col, recs[1][i])
		}
	}
	assert.Equal(t, `'=HYPERLINK("http://evil.example","click")`, cell["first_name"])
	assert.Equal(t, "'@SUM(1+1)", cell["last_name"])
	assert.Equal(t, "'-2+3", cell["company"])
	assert.Equal(t, "'+cmd", cell["job_title"])
	assert.Equal(t, "'=1+1\nsecond line", cell["notes"])
	assert.Equal(t, "'+tag@example.com", cell["email"])
	assert.Equal(t, "''=already quoted", cell["street"])
	assert.Equal(t, "'plain", cell["city"])
	assert.Equal(t, "'=2+5+cmd", cell["groups"])
	// Valid numbers stay dialable: no letters, so no function to call.
	assert.Equal(t, "+44 20 7946 0018 | -123-", cell["phone_work"])
	assert.Equal(t, "+33 6 12 34 56 78", cell["phone_mobile"])

	dst := newService(t, Config{})
	rep, err := dst.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(exported), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, ImportReport{Imported: 2, CreatedGroups: []string{"=2+5+cmd"}}, rep)
	want, err := src.Search(ctx, alice, Query{})
	require.NoError(t, err)
	got, err := dst.Search(ctx, alice, Query{})
	require.NoError(t, err)
	require.Len(t, got.Items, len(want.Items))
	for i := range want.Items {
		assert.Equal(t, canonical(want.Items[i]).Contact, canonical(got.Items[i]).Contact)
	}
	var again bytes.Buffer
	require.NoError(t, dst.ExportCSV(ctx, alice, KindPersonal, &again))
	assert.Equal(t, exported, again.String(), "export → import → export is stable")
}

func TestImportCSVUnneutralizesPhoneCells(t *testing.T) {
	// Other tools neutralize phone cells too.
	s := newService(t, Config{})
	rep, err := s.ImportCSV(context.Background(), alice, KindPersonal,
		strings.NewReader("first_name,phone_work\nAda,'+44 20 7946 0018\n"), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, ImportReport{Imported: 1}, rep)
	page, err := s.Search(context.Background(), alice, Query{})
	require.NoError(t, err)
	assert.Equal(t, "+44 20 7946 0018", page.Items[0].Contact.Phones[0].Number)
}

// vcardCard returns a minimal card with extra content lines.
func vcardCard(name string, extra ...string) string {
	return "BEGIN:VCARD\r\nVERSION:3.0\r\nN:" + name + ";Test;;;\r\nFN:Test " + name + "\r\nTEL;TYPE=work:+49 30 1234567\r\n" +
		strings.Join(extra, "") + "END:VCARD\r\n"
}

func TestImportVCardLongLines(t *testing.T) {
	photo := strings.Repeat("QUJD", 512<<10) // 2 MiB of base64
	var folded strings.Builder
	folded.WriteString("PHOTO;ENCODING=b;TYPE=JPEG:")
	for i := 0; i < len(photo); i += 74 {
		folded.WriteString(photo[i:min(i+74, len(photo))])
		folded.WriteString("\r\n ")
	}
	in := vcardCard("One") + // lines 1-6
		vcardCard("Note", "NOTE:"+strings.Repeat("x", 2<<20)+"\r\n") + // lines 7-13, NOTE on 12
		vcardCard("Photo", "PHOTO;ENCODING=b;TYPE=JPEG:"+photo+"\r\n") + // 14-20
		vcardCard("Folded", strings.TrimSuffix(folded.String(), " ")) + // 21-…
		vcardCard("Last")
	s := newService(t, Config{})
	rep, err := s.ImportVCard(context.Background(), alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Imported: 4, Errors: []RowError{
		{Line: 7, Reason: fmt.Sprintf("line 12: NOTE property longer than %d bytes", MaxVCardLineBytes)},
	}}, rep)
	page, err := s.Search(context.Background(), alice, Query{})
	require.NoError(t, err)
	assert.Equal(t, []string{"Test Folded", "Test Last", "Test One", "Test Photo"}, names(page))
}

func TestImportVCardBOMAndLineEnds(t *testing.T) {
	in := "\ufeff" + vcardCard("Bom") + strings.ReplaceAll(vcardCard("Unix"), "\r\n", "\n") +
		strings.ReplaceAll(vcardCard("Folded", "NOTE:one\r\n two\r\n\tthree\r\n"), "\r\n", "\n")
	s := newService(t, Config{})
	rep, err := s.ImportVCard(context.Background(), alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	require.Equal(t, ImportReport{Imported: 3}, rep)
	page, err := s.Search(context.Background(), alice, Query{Text: "Folded"})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "onetwothree", page.Items[0].Contact.Notes)
}

func TestImportVCardCardSize(t *testing.T) {
	var tels strings.Builder
	for tels.Len() <= MaxVCardBytes {
		tels.WriteString("TEL:+49 30 1234567\r\n")
	}
	s := newService(t, Config{})
	rep, err := s.ImportVCard(context.Background(), alice, KindPersonal,
		strings.NewReader(vcardCard("Big", tels.String())+vcardCard("Small")), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Imported: 1, Errors: []RowError{
		{Line: 1, Reason: fmt.Sprintf("card longer than %d bytes", MaxVCardBytes)},
	}}, rep)
}

// TestImportVCardUnfoldingLinear counts the bytes an import of heavily
// folded properties allocates: quadratic unfolding (one string
// concatenation per fold) allocates about folds²×foldLen/2 bytes, here
// 4 MB for the NOTE and 2 GB for the PHOTO.
func TestImportVCardUnfoldingLinear(t *testing.T) {
	var in strings.Builder
	in.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Folds;Many;;;\r\nTEL:+49 30 1234567\r\nNOTE:")
	for range 900 {
		in.WriteString("0123456789\r\n ")
	}
	in.WriteString("end\r\nPHOTO:")
	for range 20000 {
		in.WriteString("0123456789\r\n ")
	}
	in.WriteString("end\r\nEND:VCARD\r\n")
	s := newService(t, Config{})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rep, err := s.ImportVCard(context.Background(), alice, KindPersonal, strings.NewReader(in.String()), ImportOptions{})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Equal(t, ImportReport{Imported: 1}, rep)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(50*in.Len()), "import of %d bytes allocated %d bytes", in.Len(), allocated)
	t.Logf("import of %d bytes allocated %d bytes", in.Len(), allocated)
}

func BenchmarkImportVCardFolds(b *testing.B) {
	var in strings.Builder
	in.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Folds;Many;;;\r\nTEL:+49 30 1234567\r\nPHOTO:")
	for range 200000 {
		in.WriteString("0123456789\r\n ")
	}
	in.WriteString("end\r\nEND:VCARD\r\n")
	data := in.String()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := New(context.Background(), NewMemStore(), Config{}, testLogger())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.ImportVCard(context.Background(), alice, KindPersonal, strings.NewReader(data), ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestImportCSVHeaderBounds(t *testing.T) {
	s := newService(t, Config{})
	many := func(n int) string {
		cols := make([]string, n)
		for i := range cols {
			cols[i] = fmt.Sprintf("x%d", i)
		}
		return "first_name," + strings.Join(cols, ",") + "\nAda\n"
	}
	for _, tt := range []struct{ name, in, reason string }{
		{name: "too many columns", in: many(MaxCSVColumns), reason: fmt.Sprintf("%d columns, at most %d allowed", MaxCSVColumns+1, MaxCSVColumns)},
		{name: "a million columns", in: many(1 << 20), reason: fmt.Sprintf("header line longer than %d bytes", MaxCSVHeaderBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := s.ImportCSV(context.Background(), alice, KindPersonal, strings.NewReader(tt.in), ImportOptions{})
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, &FieldError{Field: "header", Reason: tt.reason}, fe)
			assert.Empty(t, rep.Errors)
		})
	}
	// At the limit the unknown columns are reported, once each.
	rep, err := s.ImportCSV(context.Background(), alice, KindPersonal, strings.NewReader(many(MaxCSVColumns-1)), ImportOptions{DryRun: true})
	require.NoError(t, err)
	assert.Len(t, rep.Errors, MaxCSVColumns)
}

func TestImportReportBounded(t *testing.T) {
	var in strings.Builder
	in.WriteString("first_name,phone_work\n")
	for i := range 2500 {
		fmt.Fprintf(&in, "Bad%d,not a number\nDup,0491550142\n", i)
	}
	s := newService(t, Config{})
	rep, err := s.ImportCSV(context.Background(), alice, KindPersonal, strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Imported)
	assert.Len(t, rep.Errors, MaxReportRows)
	assert.Equal(t, 2500-MaxReportRows, rep.ErrorsOmitted)
	assert.Equal(t, RowError{Line: 2, Column: "phone_work", Reason: "letter 'n' before any digit (letters only in a vanity number such as 1-800-FLOWERS)"}, rep.Errors[0])
	assert.Len(t, rep.Skips, MaxReportRows)
	assert.Equal(t, 2499-MaxReportRows, rep.SkipsOmitted)
}

func TestControlCharactersRefused(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	for _, tt := range []struct {
		name, field string
		set         func(c *Contact)
	}{
		{"ESC in first name", "first_name", func(c *Contact) { c.FirstName = "Ada\x1b[31m" }},
		{"CR in last name", "last_name", func(c *Contact) { c.LastName = "Love\rlace" }},
		{"NUL in company", "company", func(c *Contact) { c.Company = "Ac\x00me" }},
		{"C1 NEL in department", "department", func(c *Contact) { c.Department = "R\u0085D" }},
		{"line separator in job title", "job_title", func(c *Contact) { c.JobTitle = "Boss\u2028Forged: line" }},
		{"LF in city", "address.city", func(c *Contact) { c.Address.City = "Lyon\nParis" }},
		{"DEL in country", "address.country", func(c *Contact) { c.Address.Country = "F\x7fR" }},
		{"bare CR in notes", "notes", func(c *Contact) { c.Notes = "one\rEND:VCARD" }},
		{"BEL in notes", "notes", func(c *Contact) { c.Notes = "ring\a" }},
		{"CR in email", "emails[0]", func(c *Contact) { c.Emails = []string{"a\r@example.com"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Create(ctx, alice, contactWith(tt.set))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
	t.Run("multiline fields keep LF and tab, CRLF becomes LF", func(t *testing.T) {
		c, err := s.Create(ctx, alice, contactWith(func(c *Contact) {
			c.Notes, c.Address.Street = "one\r\n\ttwo\r\n", "1 rue de la Paix\r\nBât. B"
		}))
		require.NoError(t, err)
		assert.Equal(t, "one\n\ttwo", c.Notes)
		assert.Equal(t, "1 rue de la Paix\nBât. B", c.Address.Street)
	})
	t.Run("update", func(t *testing.T) {
		c, err := s.Create(ctx, alice, contactWith(nil))
		require.NoError(t, err)
		c.FirstName = "Ada\x00"
		_, err = s.Update(ctx, alice, c, c.Version)
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "first_name", fe.Field)
	})
	t.Run("user", func(t *testing.T) {
		_, err := s.ProvisionUser(ctx, admin, accounts.User{Extension: "250", Domain: "pbx.example.com", FirstName: "Eve\x1b]0;pwned\a"})
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "first_name", fe.Field)
	})
	t.Run("csv and vcard imports report the column", func(t *testing.T) {
		rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader("first_name,last_name,phone_work\n\"Ann\rX\",Y,0491550142\n"), ImportOptions{})
		require.NoError(t, err)
		assert.Equal(t, []RowError{{Line: 2, Column: "first_name", Reason: "control character U+000D not allowed"}}, rep.Errors)
		rep, err = s.ImportVCard(ctx, alice, KindPersonal, strings.NewReader(vcardCard(`Forged\nEND:VCARD`)), ImportOptions{})
		require.NoError(t, err)
		assert.Equal(t, []RowError{{Line: 1, Column: "N", Reason: "control character U+000A not allowed"}}, rep.Errors)
	})
}

// TestExportVCardNoBareCR stores contacts written before control
// characters were refused and checks no CR but the line ends reaches the
// vCard export, where it could end a line and forge a property.
func TestExportVCardNoBareCR(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	legacy := contactWith(func(c *Contact) {
		c.ID, c.Owner, c.Version = "c_legacy", alice.User, 1
		c.FirstName, c.Notes, c.Company = "Ada\rTEL:+1 900 555 0100", "one\rtwo\r\nthree", "Ac\x00me"
	})
	requireApply(t, store, ctx, Batch{Contacts: []ContactWrite{{Contact: legacy}}})
	s, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	for _, v := range []string{"3.0", "4.0"} {
		var buf bytes.Buffer
		require.NoError(t, s.ExportVCard(ctx, alice, KindPersonal, v, &buf))
		out := buf.String()
		assert.NotContains(t, strings.ReplaceAll(out, "\r\n", ""), "\r", "bare CR in %q", out)
		assert.NotContains(t, out, "\x00")
		assert.Equal(t, 1, strings.Count(out, "\r\nTEL"), "one TEL property only: %q", out)
	}
}

func TestFieldLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	for _, tt := range []struct {
		name, field string
		set         func(c *Contact)
	}{
		{"first name", "first_name", func(c *Contact) { c.FirstName = long(MaxNameBytes + 1) }},
		{"street", "address.street", func(c *Contact) { c.Address.Street = long(MaxAddressFieldBytes + 1) }},
		{"postal code", "address.postal_code", func(c *Contact) { c.Address.PostalCode = long(MaxAddressFieldBytes + 1) }},
		{"notes", "notes", func(c *Contact) { c.Notes = long(MaxNotesBytes + 1) }},
		{"phone count", "phones", func(c *Contact) {
			for len(c.Phones) <= MaxPhones {
				c.Phones = append(c.Phones, Phone{Type: PhoneOther, Number: fmt.Sprintf("0491 55 %04d", len(c.Phones))})
			}
		}},
		{"email count", "emails", func(c *Contact) {
			for len(c.Emails) <= MaxEmails {
				c.Emails = append(c.Emails, fmt.Sprintf("a%d@example.com", len(c.Emails)))
			}
		}},
		{"padded number", "phones[0].number", func(c *Contact) { c.Phones[0].Number = "1" + strings.Repeat(" ", MaxNumberBytes) + "23" }},
		{"email length", "emails[0]", func(c *Contact) { c.Emails = []string{long(MaxEmailBytes) + "@example.com"} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := contactWith(tt.set).Validate()
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
	at := contactWith(func(c *Contact) {
		c.FirstName, c.Notes, c.Address.Street = long(MaxNameBytes), long(MaxNotesBytes), long(MaxAddressFieldBytes)
		for len(c.Phones) < MaxPhones {
			c.Phones = append(c.Phones, Phone{Type: PhoneOther, Number: fmt.Sprintf("0491 55 %04d", len(c.Phones))})
		}
		for len(c.Emails) < MaxEmails {
			c.Emails = append(c.Emails, fmt.Sprintf("a%d@example.com", len(c.Emails)))
		}
	})
	assert.NoError(t, at.Validate(), "every limit is inclusive")
}

func TestImportGroupNamesFollowAPIRules(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	in := "first_name,phone_work,groups\n" +
		"A,0491550101," + strings.Repeat("g", MaxGroupNameBytes+1) + "\n" +
		"B,0491550102,\"Golf\rClub\"\n" +
		"C,0491550103, vip | FAVORITE \n" +
		"D,0491550104,Golf\n"
	rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Imported)
	assert.Equal(t, []RowError{
		{Line: 2, Column: "groups", Reason: fmt.Sprintf("invalid group name %q: longer than %d bytes", strings.Repeat("g", MaxGroupNameBytes+1), MaxGroupNameBytes)},
		{Line: 3, Column: "groups", Reason: `invalid group name "Golf\rClub": control character U+000D not allowed`},
	}, rep.Errors)
	groups, err := s.ListGroups(ctx, alice)
	require.NoError(t, err)
	var own []string
	for _, g := range groups {
		if !g.Builtin {
			own = append(own, g.Name)
		}
	}
	assert.Equal(t, []string{"Golf"}, own, "built-in names map to the built-in groups")
	page, err := s.Search(ctx, alice, Query{Text: "C"})
	require.NoError(t, err)
	require.NotEmpty(t, page.Items)
	assert.Equal(t, []string{GroupFavorite, GroupVIP}, page.Items[0].Marks)
}

func TestGroupCountLimit(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	var in strings.Builder
	in.WriteString("first_name,phone_work,groups\n")
	for i := range MaxGroupsPerOwner + 1 {
		fmt.Fprintf(&in, "N%d,0491 55 %04d,G%d\n", i, i, i)
	}
	rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in.String()), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, MaxGroupsPerOwner, rep.Imported)
	assert.Equal(t, []RowError{{Line: MaxGroupsPerOwner + 2, Column: "groups",
		Reason: fmt.Sprintf("group limit of %d reached; %q not created", MaxGroupsPerOwner, fmt.Sprintf("G%d", MaxGroupsPerOwner))}}, rep.Errors)
	_, err = s.CreateGroup(ctx, alice, "One more")
	require.ErrorIs(t, err, ErrQuotaExceeded)
	_, err = s.CreateGroup(ctx, bob, "Bob's first")
	require.NoError(t, err, "the limit is per owner")
	for _, name := range []string{"Bad\x1bname", "a|b", strings.Repeat("g", MaxGroupNameBytes+1), " "} {
		_, err = s.CreateGroup(ctx, bob, name)
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "%q", name)
		assert.Equal(t, "name", fe.Field)
	}
}

func TestProvisionUserDomain(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name    string
		domains []string
		domain  string
		wantErr string // FieldError reason prefix, "" for success
	}{
		{name: "CRLF", domain: "evil\r\n.test", wantErr: "want a SIP domain"},
		{name: "leading hyphen", domain: "-pbx.example.com", wantErr: "want a SIP domain"},
		{name: "empty label", domain: "pbx..example.com", wantErr: "want a SIP domain"},
		{name: "underscore", domain: "pbx_1.example.com", wantErr: "want a SIP domain"},
		{name: "long label", domain: strings.Repeat("a", 64) + ".example", wantErr: "want a SIP domain"},
		{name: "any valid host without served domains", domain: "pbx.example.com"},
		{name: "served", domains: []string{"pbx.example.com", "b.example"}, domain: "B.Example"},
		{name: "not served", domains: []string{"pbx.example.com"}, domain: "other.example", wantErr: `"other.example" is not a served domain (pbx.example.com)`},
		{name: "invalid and not served", domains: []string{"pbx.example.com"}, domain: "evil\r\n.test", wantErr: "want a SIP domain"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(t, Config{Domains: tt.domains})
			u, err := s.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: tt.domain, FirstName: "Ana"})
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, strings.ToLower(tt.domain), u.Domain)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "domain", fe.Field)
			assert.True(t, strings.HasPrefix(fe.Reason, tt.wantErr), "reason %q", fe.Reason)
		})
	}
}

func TestPersonalContactQuota(t *testing.T) {
	ctx := context.Background()
	t.Run("create", func(t *testing.T) {
		s := newService(t, Config{MaxContactsPerUser: 2})
		var made []Contact
		for i := range 2 {
			c, err := s.Create(ctx, alice, contactWith(func(c *Contact) { c.FirstName = fmt.Sprint("N", i) }))
			require.NoError(t, err)
			made = append(made, c)
		}
		_, err := s.Create(ctx, alice, contactWith(nil))
		require.ErrorIs(t, err, ErrQuotaExceeded)
		assert.Contains(t, err.Error(), "personal contact limit of 2 reached")
		_, err = s.Create(ctx, bob, contactWith(nil))
		require.NoError(t, err, "the quota is per user")
		_, err = s.Create(ctx, admin, contactWith(func(c *Contact) { c.Kind, c.Domain = KindCompany, "pbx.example.com" }))
		require.NoError(t, err, "company contacts are not personal")
		require.NoError(t, s.Delete(ctx, alice, made[0].ID, made[0].Version))
		_, err = s.Create(ctx, alice, contactWith(nil))
		require.NoError(t, err, "room again after a delete")
	})
	t.Run("import stops at the quota and reports the rest", func(t *testing.T) {
		s := newService(t, Config{MaxContactsPerUser: 3})
		_, err := s.Create(ctx, alice, contactWith(func(c *Contact) { c.FirstName, c.LastName, c.Phones[0].Number = "Old", "", "0491550100" }))
		require.NoError(t, err)
		in := "first_name,phone_work\nOld,0491550100\nA,0491550101\nB,0491550102\nC,0491550103\nD,0491550104\n"
		for _, dry := range []bool{true, false} {
			rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{OnDuplicate: DupUpdate, DryRun: dry})
			require.NoError(t, err)
			reason := "personal contact limit of 3 reached; delete contacts first or ask the administrator to raise --max-contacts-per-user"
			assert.Equal(t, ImportReport{Imported: 2, Updated: 1, DryRun: dry, Errors: []RowError{{Line: 5, Reason: reason}, {Line: 6, Reason: reason}}}, rep)
		}
		page, err := s.Search(ctx, alice, Query{Kind: KindPersonal})
		require.NoError(t, err)
		assert.Equal(t, []string{"A", "B", "Old"}, names(page))
	})
	t.Run("default and unlimited", func(t *testing.T) {
		var in strings.Builder
		in.WriteString("first_name,phone_work\n")
		for i := range DefaultMaxContactsPerUser + 1 {
			fmt.Fprintf(&in, "N%d,0491%06d\n", i, i)
		}
		s := newService(t, Config{})
		rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in.String()), ImportOptions{DryRun: true})
		require.NoError(t, err)
		assert.Equal(t, DefaultMaxContactsPerUser, rep.Imported)
		require.Len(t, rep.Errors, 1)
		assert.Equal(t, DefaultMaxContactsPerUser+2, rep.Errors[0].Line)

		s = newService(t, Config{MaxContactsPerUser: -1})
		rep, err = s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in.String()), ImportOptions{DryRun: true})
		require.NoError(t, err)
		assert.Equal(t, DefaultMaxContactsPerUser+1, rep.Imported)
		assert.Empty(t, rep.Errors)
	})
}
