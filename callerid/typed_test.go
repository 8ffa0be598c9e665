package callerid

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

// TestImportTypedNumbersFoundByCallerID imports an address book as people
// keep them (testdata/typed_numbers.csv and .vcf: extensions written
// "x45", "ext. 45", ";ext=12", "#201", vanity numbers, full-width,
// Arabic-Indic and Devanagari digits, ideographic spaces) and requires
// every row to import and every number to be found by caller ID. Each
// contact's note lists the caller IDs a trunk would send for its numbers.
func TestImportTypedNumbersFoundByCallerID(t *testing.T) {
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "us.example", FirstName: "Una"})
	require.NoError(t, err)
	una := lookupUser("201", "us.example")
	lk, err := New(ctx, svc, Config{DefaultRegion: "FR", DomainRegions: map[string]string{"us.example": "US"}}, testLogger())
	require.NoError(t, err)

	for _, tt := range []struct {
		file  string
		cards int
		imp   func(f *os.File) (directory.ImportReport, error)
	}{
		{"testdata/typed_numbers.csv", 11, func(f *os.File) (directory.ImportReport, error) {
			return svc.ImportCSV(ctx, una, directory.KindPersonal, f, directory.ImportOptions{})
		}},
		{"testdata/typed_numbers.vcf", 5, func(f *os.File) (directory.ImportReport, error) {
			return svc.ImportVCard(ctx, una, directory.KindPersonal, f, directory.ImportOptions{})
		}},
	} {
		f, err := os.Open(tt.file)
		require.NoError(t, err)
		rep, err := tt.imp(f)
		require.NoError(t, f.Close())
		require.NoError(t, err, tt.file)
		assert.Empty(t, rep.Errors, tt.file)
		assert.Equal(t, tt.cards, rep.Imported, tt.file)
	}

	pg, err := svc.Search(ctx, una, directory.Query{Kind: directory.KindPersonal, Limit: 100})
	require.NoError(t, err)
	require.Len(t, pg.Items, 16)
	norm, err := phone.NewNormalizer(phone.Config{DefaultRegion: "US"})
	require.NoError(t, err)
	checked := 0
	for _, it := range pg.Items {
		c := it.Contact
		callers := strings.Fields(c.Notes)
		require.NotEmpty(t, callers, "%s has caller IDs in its note", c.DisplayName())
		for _, p := range c.Phones {
			assert.NotRegexp(t, `^\+?[0-9]+$`, p.Number, "stored as typed, not normalized")
			num, err := norm.Parse(p.Number)
			require.NoError(t, err, p.Number)
			assert.Contains(t, callers, num.E164, "the note of %s lists %q", c.DisplayName(), p.Number)
		}
		for _, caller := range callers {
			res, ok := lk.Resolve(ctx, caller, "201@us.example")
			if assert.True(t, ok, "%s calling from %s", c.DisplayName(), caller) {
				assert.Equal(t, c.ID, res.ContactID, caller)
				assert.GreaterOrEqual(t, res.Rank, phone.RankNationalNumber, caller)
				assert.Equal(t, c.DisplayName(), res.Name)
			}
			checked++
		}
	}
	assert.Equal(t, 25, checked, "every caller ID in the files")
}

// TestColleagueNamedFromDirectNumbers: a user's DID and mobile are team
// numbers, so a colleague calling from them is named, for the callee and
// in shared views; clearing them stops it.
func TestColleagueNamedFromDirectNumbers(t *testing.T) {
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	lk, err := New(ctx, svc, Config{DefaultRegion: "US"}, testLogger())
	require.NoError(t, err)
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "us.example", FirstName: "Una"},
		{Extension: "202", Domain: "us.example", FirstName: "Vic", LastName: "Ross", DID: "+1 (415) 555-0177", Mobile: "４１５ ５５５ ０１７８"},
	} {
		_, err := svc.ProvisionUser(ctx, admin, u)
		require.NoError(t, err)
	}
	for _, caller := range []string{"+14155550177", "4155550177", "sip:+14155550178@trunk.example"} {
		for name, resolve := range map[string]func(context.Context, string, string) (Result, bool){"callee": lk.Resolve, "shared": lk.ResolveShared} {
			res, ok := resolve(ctx, caller, "201@us.example")
			require.True(t, ok, "%s %s", name, caller)
			assert.Equal(t, directory.KindTeam, res.Kind)
			assert.Equal(t, "202@us.example", res.AOR)
			assert.Equal(t, "Vic Ross", res.Name)
			assert.Equal(t, phone.RankExact, res.Rank)
		}
	}
	_, err = svc.ProvisionUser(ctx, admin, accounts.User{Extension: "202", Domain: "us.example", FirstName: "Vic", LastName: "Ross"})
	require.NoError(t, err)
	_, ok := lk.Resolve(ctx, "+14155550177", "201@us.example")
	assert.False(t, ok, "a cleared DID no longer names Vic")
}
