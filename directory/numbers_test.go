package directory

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

func TestCheckNumberAsTyped(t *testing.T) {
	tests := []struct {
		name, number string
		reason       string // "" accepts
	}{
		{name: "plain", number: "+33 4 91 55 01 42"},
		{name: "x extension", number: "+1 415 555 0132 x45"},
		{name: "ext. extension", number: "+1 415 555 0132 ext. 45"},
		{name: "rfc 3966 extension", number: "+14155550132;ext=45"},
		{name: "hash extension", number: "(415) 555-0132 #45"},
		{name: "vanity", number: "1-800-FLOWERS"},
		{name: "full-width", number: "＋４４ ２０ ７１８３ ８７５０"},
		{name: "full-width with ideographic spaces and extension", number: "０３\u3000１２３４\u3000５６７８ ｘ１２"},
		{name: "devanagari digits", number: "०४९१५५०१४२"},
		{name: "letters that spell nothing", number: "not a number", reason: "letter 'n' before any digit"},
		{name: "two letters", number: "12-AB", reason: "2 letters"},
		{name: "symbol", number: "0491*550142", reason: "unexpected character '*' (allowed:"},
		{name: "control character", number: "0491\u0007550142", reason: "control character"},
		{name: "line separator", number: "0491\u2028550142", reason: "control character"},
		{name: "too few digits", number: "12 x345", reason: "main number has 2 digits, want 3 to 20"},
		{name: "too many digits", number: "+1 2345 6789 0123 4567 8901", reason: "too many digits"},
		{name: "too long", number: "1" + string(make([]byte, MaxNumberBytes)), reason: "longer than 100 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkNumber(tt.number)
			if tt.reason == "" {
				assert.Empty(t, got)
				return
			}
			assert.Contains(t, got, tt.reason)
		})
	}
}

func TestDigitsOfMainNumber(t *testing.T) {
	for in, want := range map[string]string{
		"+1 415 555 0132 ext. 45": "14155550132",
		"1-800-FLOWERS":           "18003569377",
		"＋４４ ２０ ７１８３ ８７５０":        "442071838750",
		"garbage 12 and 34*":      "1234", // refused by ParseTyped: every ASCII digit
	} {
		assert.Equal(t, want, Digits(in), in)
	}
}

func TestSearchFindsTypedNumbersByMainDigits(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.svc.Create(ctx, alice, Contact{Kind: KindPersonal, Company: "Flowers", Phones: []Phone{
		{Type: PhoneWork, Number: "1-800-FLOWERS x12"}, {Type: PhoneMobile, Number: "＋４４ ７７００ ９００１２３"},
	}})
	require.NoError(t, err)
	assert.Equal(t, "1-800-FLOWERS x12", c.Phones[0].Number, "stored as typed")
	for _, q := range []string{"3569377", "800 356", "7700900123", "+44 7700"} {
		pg, err := f.svc.Search(ctx, alice, Query{Text: q})
		require.NoError(t, err)
		require.Len(t, pg.Items, 1, q)
		assert.Equal(t, c.ID, pg.Items[0].Contact.ID)
	}
	// The extension is not part of the main number.
	pg, err := f.svc.Search(ctx, alice, Query{Text: "937712"})
	require.NoError(t, err)
	assert.Empty(t, pg.Items)
}

func TestUserNumbersOnTeamContact(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u, err := f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Dan", LastName: "Roy",
		DID: " +33 4 91 55 02 04 ", Mobile: "０６ １２ ３４ ５６ ７８"})
	require.NoError(t, err)
	assert.Equal(t, "+33 4 91 55 02 04", u.DID, "trimmed, else as typed")
	assert.Equal(t, "０６ １２ ３４ ５６ ７８", u.Mobile)

	got, err := f.svc.Get(ctx, alice, TeamContactID("204@pbx.example.com"))
	require.NoError(t, err)
	assert.Equal(t, []Phone{
		{Type: PhoneWork, Number: "204"},
		{Type: PhoneWork, Number: "+33 4 91 55 02 04"},
		{Type: PhoneMobile, Number: "０６ １２ ３４ ５６ ７８"},
	}, got.Contact.Phones)

	// Clearing the mobile drops it from the team contact.
	_, err = f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Dan", LastName: "Roy", DID: "+33 4 91 55 02 04"})
	require.NoError(t, err)
	got, err = f.svc.Get(ctx, alice, TeamContactID("204@pbx.example.com"))
	require.NoError(t, err)
	assert.Len(t, got.Contact.Phones, 2)

	for _, tt := range []struct{ field, did, mobile string }{
		{"did", "call me", ""},
		{"mobile", "", "06\x0012"},
	} {
		_, err = f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Dan", DID: tt.did, Mobile: tt.mobile})
		var fe *FieldError
		require.True(t, errors.As(err, &fe), "%v", err)
		assert.Equal(t, tt.field, fe.Field)
	}
}

// A vanity number is a valid number with letters: a CSV export must
// neutralize it like any cell a spreadsheet could run as a formula.
func TestExportCSVNeutralizesVanityNumbers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.svc.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "Formula", Phones: []Phone{
		{Type: PhoneWork, Number: "+1-800-SUM(A1)"}, {Type: PhoneMobile, Number: "+44 7700 900123 x5"},
	}})
	require.NoError(t, err)
	var out strings.Builder
	require.NoError(t, f.svc.ExportCSV(ctx, alice, KindPersonal, &out))
	assert.Contains(t, out.String(), ",'+1-800-SUM(A1),")
	assert.Contains(t, out.String(), ",'+44 7700 900123 x5,")
	assert.Contains(t, out.String(), ",+33 4 91 55 01 42,", "a number without letters stays as it is")
}
