package directory

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportCSVUpdateKeepsAbsentColumns: with on_duplicate=update only the
// columns of the file change the contact; an empty cell clears its field.
func TestImportCSVUpdateKeepsAbsentColumns(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	golf, err := s.CreateGroup(ctx, alice, "Golf")
	require.NoError(t, err)
	orig, err := s.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "José", LastName: "Müller", Company: "Acme",
		Phones:  []Phone{{Type: PhoneWork, Number: "04 91 55 01 42"}, {Type: PhoneMobile, Number: "06 12 34 56 78"}},
		Emails:  []string{"jose@example.net", "j2@example.net"},
		Address: Address{City: "Marseille"}, Notes: "keep me"})
	require.NoError(t, err)
	require.NoError(t, s.Mark(ctx, alice, orig.ID, GroupVIP, true))
	require.NoError(t, s.Mark(ctx, alice, orig.ID, golf.ID, true))

	update := func(in string) Entry {
		t.Helper()
		rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{OnDuplicate: DupUpdate})
		require.NoError(t, err)
		require.Equal(t, ImportReport{Updated: 1}, rep)
		got, err := s.Get(ctx, alice, orig.ID)
		require.NoError(t, err)
		return got
	}

	// No email, mobile, address, notes or groups column: all kept.
	got := update("first_name,last_name,phone_work,job_title\nJosé,Müller,0491550142,Gérant\n")
	c := got.Contact
	assert.Equal(t, "Gérant", c.JobTitle, "a present column changes its field")
	assert.Equal(t, "Acme", c.Company)
	assert.Equal(t, []string{"jose@example.net", "j2@example.net"}, c.Emails)
	assert.Equal(t, []Phone{{Type: PhoneWork, Number: "0491550142"}, {Type: PhoneMobile, Number: "06 12 34 56 78"}}, c.Phones)
	assert.Equal(t, "Marseille", c.Address.City)
	assert.Equal(t, "keep me", c.Notes)
	assert.Equal(t, []string{golf.ID, GroupVIP}, got.Marks, "no groups column: marks kept")

	// email present: replaces the first address only; empty cells clear.
	got = update("first_name,last_name,phone_work,email,notes,company,groups\nJosé,Müller,0491550142,new@example.net,,,Favorite\n")
	c = got.Contact
	assert.Equal(t, []string{"new@example.net", "j2@example.net"}, c.Emails)
	assert.Empty(t, c.Notes, "an empty cell of a present column clears the field")
	assert.Empty(t, c.Company)
	assert.Equal(t, "Gérant", c.JobTitle)
	assert.Equal(t, []string{GroupFavorite}, got.Marks, "a groups cell replaces the groups")

	got = update("first_name,last_name,phone_work,email2,groups\nJosé,Müller,0491550142,,\n")
	assert.Equal(t, []string{"new@example.net"}, got.Contact.Emails)
	assert.Empty(t, got.Marks)
}

// TestImportCSVUpdateMergedLimits: the merged contact is validated too.
func TestImportCSVUpdateMergedLimits(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	var phones []Phone
	for i := range MaxPhones {
		phones = append(phones, Phone{Type: PhoneMobile, Number: "06 00 00 00 " + string(rune('1'+i/10)) + string(rune('0'+i%10))})
	}
	_, err := s.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "Many", Phones: phones})
	require.NoError(t, err)
	rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader("first_name,phone_work\nMany,0600000010\n"), ImportOptions{OnDuplicate: DupUpdate})
	require.NoError(t, err)
	require.Len(t, rep.Errors, 1)
	assert.Equal(t, 0, rep.Updated)
	assert.Contains(t, rep.Errors[0].Reason, "updated contact")
}

func TestExportVCardCategoriesList(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	c, err := s.Create(ctx, alice, contactWith(nil))
	require.NoError(t, err)
	for _, name := range []string{"Golf Club", "Smith, Jones"} {
		g, err := s.CreateGroup(ctx, alice, name)
		require.NoError(t, err)
		require.NoError(t, s.Mark(ctx, alice, c.ID, g.ID, true))
	}
	require.NoError(t, s.Mark(ctx, alice, c.ID, GroupBlocked, true))
	var out bytes.Buffer
	require.NoError(t, s.ExportVCard(ctx, alice, KindPersonal, "4.0", &out))
	assert.Contains(t, out.String(), "\r\nCATEGORIES:Blocked,Golf Club,Smith\\, Jones\r\nEND:VCARD\r\n",
		"RFC 6350 §6.7.1: a comma-separated list, commas in a name escaped")

	dst := newService(t, Config{})
	rep, err := dst.ImportVCard(ctx, alice, KindPersonal, &out, ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Imported: 1, CreatedGroups: []string{"Golf Club", "Smith, Jones"}}, rep)
	page, err := dst.Search(ctx, alice, Query{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, []string{GroupBlocked, ownGroupID(alice.User, "Golf Club"), ownGroupID(alice.User, "Smith, Jones")}, page.Items[0].Marks)
}

func TestParseCategories(t *testing.T) {
	for _, tt := range []struct {
		name, raw string
		want      []string
	}{
		{name: "rfc list", raw: "Blocked,Golf Club", want: []string{"Blocked", "Golf Club"}},
		{name: "rfc escaped comma in a name", raw: `Smith\, Jones,Golf`, want: []string{"Smith, Jones", "Golf"}},
		{name: "old export form", raw: `Blocked\,Golf Club`, want: []string{"Blocked", "Golf Club"}},
		{name: "one", raw: "VIP", want: []string{"VIP"}},
		{name: "escapes", raw: `a\\b,c\;d`, want: []string{`a\b`, "c;d"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, parseCategories(tt.raw))
		})
	}
}

func TestImportVCardOldCategoriesForm(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	in := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nTEL;TYPE=work:+44 20 7946 0018\r\nCATEGORIES:Blocked\\,Golf Club\r\nEND:VCARD\r\n"
	rep, err := s.ImportVCard(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, ImportReport{Imported: 1, CreatedGroups: []string{"Golf Club"}}, rep)
	page, err := s.Search(ctx, alice, Query{})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, []string{GroupBlocked, ownGroupID(alice.User, "Golf Club")}, page.Items[0].Marks)
}

// TestImportReportsCreatedGroups: a group name the user does not have is
// created, listed in the report, only for accepted rows and within the
// group limit.
func TestImportReportsCreatedGroups(t *testing.T) {
	ctx := context.Background()
	in := "first_name,phone_work,groups\n" +
		"A,0491550101,Golf | Favorite\n" +
		"B,0491550102,golf  | Tennis\n" + // Golf again, another spelling
		"C,0491550103,Chess | Blocked | VIP\n" + // rejected: Chess must not exist
		"D,0491550104,Existing\n"
	for _, dry := range []bool{true, false} {
		t.Run(map[bool]string{true: "dry run", false: "real"}[dry], func(t *testing.T) {
			s := newService(t, Config{})
			_, err := s.CreateGroup(ctx, alice, "Existing")
			require.NoError(t, err)
			rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{DryRun: dry})
			require.NoError(t, err)
			assert.Equal(t, []string{"Golf", "Tennis"}, rep.CreatedGroups)
			assert.Equal(t, 3, rep.Imported)
			require.Len(t, rep.Errors, 1)
			assert.Equal(t, 4, rep.Errors[0].Line)
			groups, err := s.ListGroups(ctx, alice)
			require.NoError(t, err)
			var own []string
			for _, g := range groups {
				if !g.Builtin {
					own = append(own, g.Name)
				}
			}
			if dry {
				assert.Equal(t, []string{"Existing"}, own)
			} else {
				assert.Equal(t, []string{"Existing", "Golf", "Tennis"}, own, "the rejected row created no group")
			}
		})
	}
}

func TestImportCreatedGroupsRespectLimit(t *testing.T) {
	ctx := context.Background()
	s := newService(t, Config{})
	for i := range MaxGroupsPerOwner - 1 {
		_, err := s.CreateGroup(ctx, alice, fmt.Sprintf("G%d", i))
		require.NoError(t, err)
	}
	in := "first_name,phone_work,groups\nA,0491550101,New One\nB,0491550102,New Two\nC,0491550103,New One\n"
	rep, err := s.ImportCSV(ctx, alice, KindPersonal, strings.NewReader(in), ImportOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"New One"}, rep.CreatedGroups)
	assert.Equal(t, 2, rep.Imported)
	assert.Equal(t, []RowError{{Line: 3, Column: "groups", Reason: `group limit of 200 reached; "New Two" not created`}}, rep.Errors)
	_, err = s.CreateGroup(ctx, alice, "One more")
	require.ErrorIs(t, err, ErrQuotaExceeded)
}
