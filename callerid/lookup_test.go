package callerid

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/directory/phone"
)

func testLogger() zerolog.Logger { return zerolog.Nop() }

var admin = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}

// lookupDomains are the test tenants and their regions.
var lookupDomains = map[string]string{
	"pbx.example.com": "FR", "gb.example": "GB", "us.example": "US", "de.example": "DE",
	"nl.example": "NL", "se.example": "SE", "au.example": "AU",
}

type lookupFixture struct {
	svc *directory.Service
	lk  *Lookup
	ids map[string]string // test name → contact ID
}

func lookupUser(ext, domain string) accounts.Principal {
	return accounts.Principal{User: ext + "@" + domain, Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
}

var (
	userA = lookupUser("201", "pbx.example.com")
	userB = lookupUser("202", "pbx.example.com")
	userC = lookupUser("203", "pbx.example.com")
	userD = lookupUser("100", "de.example")
)

// idFor returns the ID of fixture contact key as seen by callee: the copy
// of a company contact in the callee's tenant.
func (f *lookupFixture) idFor(key, callee string) string {
	_, dom := SplitCallee(callee, "pbx.example.com")
	if id, ok := f.ids[key+"@"+dom]; ok {
		return id
	}
	if id, ok := f.ids[key]; ok {
		return id
	}
	return key
}

// newLookupFixture provisions users, company and personal contacts (some
// before New, some after, so both the snapshot and the change path
// are exercised) and returns the fixture.
func newLookupFixture(t *testing.T) *lookupFixture {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	f := &lookupFixture{svc: svc, ids: map[string]string{}}
	users := []accounts.User{
		{Extension: "201", Domain: "pbx.example.com", FirstName: "Alice", LastName: "Martin"},
		{Extension: "202", Domain: "pbx.example.com", FirstName: "Bob", LastName: "Durand"},
		{Extension: "203", Domain: "pbx.example.com", FirstName: "Carol", LastName: "Petit"},
		{Extension: "301", Domain: "other.example.org", FirstName: "Dave", LastName: "Jones"},
	}
	for dom := range lookupDomains {
		if dom != "pbx.example.com" {
			users = append(users, accounts.User{Extension: "100", Domain: dom, FirstName: "Reception", LastName: dom})
		}
	}
	for _, u := range users {
		_, err := svc.ProvisionUser(ctx, admin, u)
		require.NoError(t, err)
	}
	// Company contacts belong to one tenant: each fixture company exists
	// in every domain, as ids[key] in pbx.example.com and
	// ids[key+"@"+domain] elsewhere.
	company := func(key, name string, numbers ...string) {
		for dom := range lookupDomains {
			c := directory.Contact{Kind: directory.KindCompany, Domain: dom, Company: name}
			for _, n := range numbers {
				c.Phones = append(c.Phones, directory.Phone{Type: directory.PhoneWork, Number: n})
			}
			got, err := svc.Create(ctx, admin, c)
			require.NoError(t, err)
			if dom == "pbx.example.com" {
				f.ids[key] = got.ID
			} else {
				f.ids[key+"@"+dom] = got.ID
			}
		}
	}
	personal := func(key string, p accounts.Principal, first string, number string, mark string) {
		got, err := svc.Create(ctx, p, directory.Contact{Kind: directory.KindPersonal, FirstName: first, Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: number}}})
		require.NoError(t, err)
		f.ids[key] = got.ID
		if mark != "" {
			require.NoError(t, svc.Mark(ctx, p, got.ID, mark, true))
		}
	}
	// Before the Lookup exists: indexed by the initial build.
	company("acme", "ACME", "+33 4 91 55 01 42")
	personal("maman", userA, "Maman", "+33 4 91 55 01 42", directory.GroupBlocked)
	company("london", "London Ltd", "+44 20 7183 8750")
	company("google", "Mountain View Inc", "+1 650 253 0000")

	f.lk, err = New(ctx, svc, Config{DefaultRegion: "FR", DomainRegions: lookupDomains, DefaultDomain: "pbx.example.com"}, testLogger())
	require.NoError(t, err)

	// After: indexed through the change observer.
	personal("clientx", userB, "Client X", "04 91 55 01 42", directory.GroupVIP)
	company("berlin", "Berlin Amt", "+49 30 901820")
	company("paris", "Paris Mairie", "+33 1 42 68 53 00")
	company("amsterdam", "Gemeente Amsterdam", "+31 20 624 1111")
	company("stockholm", "Regeringskansliet", "+46 8 405 10 00")
	company("sydney", "Sydney Office", "+61 2 9374 4000")
	company("sf", "SF Branch", "+1 415 253 0000")
	company("leer", "Leer GmbH", "+49 491 550142")
	personal("french_friend", userD, "Ami", "+33 4 91 55 01 42", directory.GroupBlocked)
	personal("near_miss", userC, "Near", "+33 5 91 55 01 42", directory.GroupBlocked)
	return f
}

func TestLookupPrecedenceAndMarks(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, number, callee string
		wantID               string
		wantKind             directory.Kind
		wantDisplay          string
		wantMarks            Marks
		wantBlocked          bool
		wantRank             phone.Rank
	}{
		{name: "A keeps it as blocked personal", number: "04 91 55 01 42", callee: "201@pbx.example.com",
			wantID: "maman", wantKind: directory.KindPersonal, wantDisplay: "Maman", wantMarks: Marks{Blocked: true}, wantBlocked: true, wantRank: phone.RankExact},
		{name: "B keeps it as VIP personal", number: "+33491550142", callee: "sip:202@PBX.example.com;user=phone",
			wantID: "clientx", wantKind: directory.KindPersonal, wantDisplay: "Client X", wantMarks: Marks{VIP: true}, wantRank: phone.RankExact},
		{name: "C has no personal contact: company", number: "0033 4 91 55 01 42", callee: "203@pbx.example.com",
			wantID: "acme", wantKind: directory.KindCompany, wantDisplay: "ACME", wantRank: phone.RankExact},
		{name: "bare extension callee uses the default domain", number: "0491550142", callee: "201",
			wantID: "maman", wantKind: directory.KindPersonal, wantDisplay: "Maman", wantMarks: Marks{Blocked: true}, wantBlocked: true, wantRank: phone.RankExact},
		{name: "no callee: company only", number: "0491550142", callee: "",
			wantID: "acme", wantKind: directory.KindCompany, wantDisplay: "ACME", wantRank: phone.RankExact},
		{name: "personal trailing match does not beat company exact, nor block", number: "+33 4 91 55 01 42", callee: "203@pbx.example.com",
			wantID: "acme", wantKind: directory.KindCompany, wantDisplay: "ACME", wantRank: phone.RankExact},
		{name: "personal national match loses the name but its block applies", number: "0491 550142", callee: "100@de.example",
			wantID: "leer", wantKind: directory.KindCompany, wantDisplay: "Leer GmbH", wantMarks: Marks{Blocked: true}, wantBlocked: true, wantRank: phone.RankExact},
		{name: "internal extension is a team contact", number: "202", callee: "201@pbx.example.com",
			wantID: directory.TeamContactID("202@pbx.example.com"), wantKind: directory.KindTeam, wantDisplay: "Bob Durand", wantRank: phone.RankExact},
		{name: "extension as a SIP URI", number: "sip:203@pbx.example.com", callee: "201@pbx.example.com",
			wantID: directory.TeamContactID("203@pbx.example.com"), wantKind: directory.KindTeam, wantDisplay: "Carol Petit", wantRank: phone.RankExact},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := f.lk.Resolve(ctx, tt.number, tt.callee)
			require.True(t, ok)
			assert.Equal(t, f.idFor(tt.wantID, tt.callee), got.ContactID)
			assert.Equal(t, tt.wantKind, got.Kind)
			assert.Equal(t, tt.wantDisplay, got.Display)
			assert.Equal(t, tt.wantMarks, got.Marks)
			assert.Equal(t, tt.wantBlocked, got.Blocked)
			assert.Equal(t, tt.wantRank, got.Rank)
			assert.False(t, got.Ambiguous)
		})
	}
}

func TestLookupTeamAOR(t *testing.T) {
	f := newLookupFixture(t)
	got, ok := f.lk.Resolve(context.Background(), "202", "201@pbx.example.com")
	require.True(t, ok)
	assert.Equal(t, "202@pbx.example.com", got.AOR)
	_, ok = f.lk.Resolve(context.Background(), "301", "201@pbx.example.com")
	assert.False(t, ok, "an extension of another domain is not a team contact here")
}

// TestLookupTrunkFormats feeds numbers as trunks in seven countries really
// send them, each to a callee in that country.
func TestLookupTrunkFormats(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()
	tests := []struct {
		name, number, callee string
		want                 string // fixture key; "" for a miss
		wantRank             phone.Rank
	}{
		{name: "GB national", number: "020 7183 8750", callee: "100@gb.example", want: "london", wantRank: phone.RankExact},
		{name: "GB international with (0)", number: "+44 (0)20 7183 8750", callee: "100@gb.example", want: "london", wantRank: phone.RankExact},
		{name: "GB plus lost", number: "442071838750", callee: "100@gb.example", want: "london", wantRank: phone.RankExact},
		{name: "GB sip uri national", number: "sip:02071838750@gw.example;user=phone", callee: "100@gb.example", want: "london", wantRank: phone.RankExact},
		{name: "US parentheses", number: "(650) 253-0000", callee: "100@us.example", want: "google", wantRank: phone.RankExact},
		{name: "US 1 prefix dashes", number: "1-650-253-0000", callee: "100@us.example", want: "google", wantRank: phone.RankExact},
		{name: "US extension suffix", number: "+1 650 253 0000 x123", callee: "100@us.example", want: "google", wantRank: phone.RankExact},
		{name: "US 011 to France", number: "011 33 1 42 68 53 00", callee: "100@us.example", want: "paris", wantRank: phone.RankExact},
		{name: "DE national", number: "030 901820", callee: "100@de.example", want: "berlin", wantRank: phone.RankExact},
		{name: "DE 00", number: "0049 30 901820", callee: "100@de.example", want: "berlin", wantRank: phone.RankExact},
		{name: "DE +49 (0)", number: "+49 (0)30 901820", callee: "100@de.example", want: "berlin", wantRank: phone.RankExact},
		{name: "FR dots", number: "01.42.68.53.00", callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankExact},
		{name: "FR tel uri", number: "tel:+33-1-42-68-53-00", callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankExact},
		{name: "FR name-addr", number: `"Mairie" <sip:0142685300@10.0.0.1>;tag=1`, callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankExact},
		{name: "FR phone-context", number: "tel:0142685300;phone-context=+33", callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankExact},
		{name: "FR ext param", number: "0142685300;ext=12", callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankExact},
		{name: "NL dash", number: "020-6241111", callee: "100@nl.example", want: "amsterdam", wantRank: phone.RankExact},
		{name: "NL 00", number: "0031 20 6241111", callee: "100@nl.example", want: "amsterdam", wantRank: phone.RankExact},
		{name: "SE national", number: "08-405 10 00", callee: "100@se.example", want: "stockholm", wantRank: phone.RankExact},
		{name: "SE 00", number: "0046 8 4051000", callee: "100@se.example", want: "stockholm", wantRank: phone.RankExact},
		{name: "AU national", number: "(02) 9374 4000", callee: "100@au.example", want: "sydney", wantRank: phone.RankExact},
		{name: "AU 0011", number: "0011 61 2 9374 4000", callee: "100@au.example", want: "sydney", wantRank: phone.RankExact},
		{name: "unreadable prefix falls back to trailing digits", number: "*31#0142685300", callee: "201@pbx.example.com", want: "paris", wantRank: phone.RankTrailingDigits},

		{name: "miss: same digits in Belgium", number: "+32 491 55 01 42", callee: "203@pbx.example.com"},
		{name: "miss: neighbour number", number: "+1 650 253 0001", callee: "100@us.example"},
		{name: "miss: GB number read in FR stays foreign", number: "+44 20 7183 8751", callee: "201@pbx.example.com"},
		{name: "miss: unknown extension", number: "999", callee: "201@pbx.example.com"},
		{name: "miss: garbage", number: "anonymous", callee: "201@pbx.example.com"},
		{name: "miss: empty", number: "", callee: "201@pbx.example.com"},
		{name: "miss: short unreadable", number: "*31#123", callee: "201@pbx.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := f.lk.Resolve(ctx, tt.number, tt.callee)
			if tt.want == "" {
				assert.False(t, ok, "got %+v", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, f.idFor(tt.want, tt.callee), got.ContactID)
			assert.Equal(t, tt.wantRank, got.Rank)
			assert.False(t, got.Blocked)
		})
	}
}

func TestLookupAmbiguity(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()

	// A local 7-digit US number matches two area codes by trailing digits.
	got, ok := f.lk.Resolve(ctx, "253-0000", "100@us.example")
	require.True(t, ok)
	assert.True(t, got.Ambiguous)
	assert.Equal(t, phone.RankTrailingDigits, got.Rank)
	assert.Empty(t, got.ContactID)
	assert.ElementsMatch(t, []string{f.ids["google@us.example"], f.ids["sf@us.example"]}, got.Candidates)
	assert.Empty(t, got.Display, "no shared name: the phone shows the number")

	// Two company contacts with one number: ambiguous, but they share the
	// company, which is what the phone shows.
	for _, first := range []string{"Jean", "Paul"} {
		_, err := f.svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", FirstName: first, Company: "Standard SA",
			Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 2 40 00 00 01"}}})
		require.NoError(t, err)
	}
	got, ok = f.lk.Resolve(ctx, "02 40 00 00 01", "201@pbx.example.com")
	require.True(t, ok)
	assert.True(t, got.Ambiguous)
	assert.Equal(t, phone.RankExact, got.Rank)
	assert.Len(t, got.Candidates, 2)
	assert.Equal(t, "Standard SA", got.Display)

	// An unreadable prefix whose trailing digits fit two numbers.
	_, err := f.svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "Nantes",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 2 42 68 53 00"}}})
	require.NoError(t, err)
	got, ok = f.lk.Resolve(ctx, "*31#68 53 00 ", "201@pbx.example.com")
	assert.False(t, ok, "fewer digits than the fallback needs stay a miss")
	got, ok = f.lk.Resolve(ctx, "*31#09 42 68 53 00", "201@pbx.example.com")
	require.True(t, ok)
	assert.Equal(t, phone.RankTrailingDigits, got.Rank)
	assert.True(t, got.Ambiguous, "got %+v", got)
	assert.False(t, got.Blocked)
}

func TestLookupFollowsChanges(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()
	callee := "201@pbx.example.com"

	c, err := f.svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", FirstName: "Zoé", LastName: "Lefèvre", Company: "Globex",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "03 20 00 00 01"}, {Type: directory.PhoneMobile, Number: "06 12 34 56 78"}}})
	require.NoError(t, err)
	for _, n := range []string{"+33320000001", "0612345678"} {
		got, ok := f.lk.Resolve(ctx, n, callee)
		require.True(t, ok, n)
		assert.Equal(t, c.ID, got.ContactID)
		assert.Equal(t, "Zoé Lefèvre (Globex)", got.Display)
	}

	// Update: one number replaced, the name changed.
	c.Phones = []directory.Phone{{Type: directory.PhoneWork, Number: "03 20 00 00 02"}, {Type: directory.PhoneMobile, Number: "06 12 34 56 78"}}
	c.LastName = "Lefebvre"
	c, err = f.svc.Update(ctx, admin, c, c.Version)
	require.NoError(t, err)
	_, ok := f.lk.Resolve(ctx, "0320000001", callee)
	assert.False(t, ok, "old number must be gone")
	got, ok := f.lk.Resolve(ctx, "0320000002", callee)
	require.True(t, ok)
	assert.Equal(t, "Zoé Lefebvre (Globex)", got.Display)
	got, ok = f.lk.Resolve(ctx, "0612345678", callee)
	require.True(t, ok, "kept number still resolves")
	assert.Equal(t, c.ID, got.ContactID)

	// Marks are read live.
	require.NoError(t, f.svc.Mark(ctx, userA, c.ID, directory.GroupBlocked, true))
	got, _ = f.lk.Resolve(ctx, "0612345678", callee)
	assert.True(t, got.Blocked)
	got, _ = f.lk.Resolve(ctx, "0612345678", "202@pbx.example.com")
	assert.False(t, got.Blocked, "marks are per user")

	// Delete.
	require.NoError(t, f.svc.Delete(ctx, admin, c.ID, c.Version))
	for _, n := range []string{"0320000002", "0612345678"} {
		_, ok := f.lk.Resolve(ctx, n, callee)
		assert.False(t, ok, n)
	}

	// Team contacts follow user provisioning and deletion.
	_, err = f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Dan", LastName: "Roux"})
	require.NoError(t, err)
	got, ok = f.lk.Resolve(ctx, "204", callee)
	require.True(t, ok)
	assert.Equal(t, "Dan Roux", got.Display)
	_, err = f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "204", Domain: "pbx.example.com", FirstName: "Daniel", LastName: "Roux"})
	require.NoError(t, err)
	got, _ = f.lk.Resolve(ctx, "204", callee)
	assert.Equal(t, "Daniel Roux", got.Display)
	_, err = f.svc.DeleteUser(ctx, admin, "204@pbx.example.com", true)
	require.NoError(t, err)
	_, ok = f.lk.Resolve(ctx, "204", callee)
	assert.False(t, ok)

	// Deleting user A takes its personal contacts: the number is ACME's
	// again for A's extension.
	_, err = f.svc.DeleteUser(ctx, admin, userA.User, true)
	require.NoError(t, err)
	got, ok = f.lk.Resolve(ctx, "0491550142", callee)
	require.True(t, ok)
	assert.Equal(t, f.ids["acme"], got.ContactID)
	assert.False(t, got.Blocked)
}

func TestLookupKeepsOtherObserver(t *testing.T) {
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	var seen int
	svc.OnChange(func(directory.ChangeEvent) { seen++ })
	lk, err := New(ctx, svc, Config{DefaultRegion: "FR", DefaultDomain: "pbx.example.com"}, testLogger())
	require.NoError(t, err)
	_, err = svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "X", Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "0142685300"}}})
	require.NoError(t, err)
	assert.Equal(t, 1, seen)
	_, ok := lk.Resolve(ctx, "0142685300", "")
	assert.True(t, ok)
}

func TestLookupConfig(t *testing.T) {
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "defaults", cfg: Config{DefaultRegion: "FR"}, ok: true},
		{name: "no region", cfg: Config{}},
		{name: "bad domain region", cfg: Config{DefaultRegion: "FR", DomainRegions: map[string]string{"x": "ZZ"}}},
		{name: "unknown placeholder", cfg: Config{DefaultRegion: "FR", DisplayPattern: "{nick}"}},
		{name: "unbalanced", cfg: Config{DefaultRegion: "FR", DisplayPattern: "{first} ({company}"}},
		{name: "tiny display", cfg: Config{DefaultRegion: "FR", MaxDisplayLen: 2}},
		{name: "fallback too short", cfg: Config{DefaultRegion: "FR", TrailingFallback: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), svc, tt.cfg, testLogger())
			if tt.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
}

func TestDisplayFormat(t *testing.T) {
	full := directory.Contact{FirstName: "Jean-Baptiste", LastName: "Dupont-Martin", Company: "Plomberie Générale"}
	tests := []struct {
		name    string
		pattern string
		max     int
		c       directory.Contact
		want    string
	}{
		{name: "all parts", pattern: DefaultDisplayPattern, c: directory.Contact{FirstName: "Zoé", LastName: "Roux", Company: "ACME"}, want: "Zoé Roux (ACME)"},
		{name: "no company drops the brackets", pattern: DefaultDisplayPattern, c: directory.Contact{FirstName: "Zoé", LastName: "Roux"}, want: "Zoé Roux"},
		{name: "company only unwraps", pattern: DefaultDisplayPattern, c: directory.Contact{Company: "ACME"}, want: "ACME"},
		{name: "last only", pattern: DefaultDisplayPattern, c: directory.Contact{LastName: "Roux", Company: "ACME"}, want: "Roux (ACME)"},
		{name: "separators collapse", pattern: "{last}, {first} - {company}", c: directory.Contact{FirstName: "Zoé", Company: "ACME"}, want: "Zoé - ACME"},
		{name: "leading separator dropped", pattern: "{last}, {first}", c: directory.Contact{FirstName: "Zoé"}, want: "Zoé"},
		{name: "white space and control chars", pattern: DefaultDisplayPattern, c: directory.Contact{FirstName: " Zoé\t", LastName: "Le\nRoux"}, want: "Zoé Le Roux"},
		{name: "truncated with a dot", pattern: DefaultDisplayPattern, max: 24, c: full, want: "Jean-Baptiste Dupont-Ma."},
		{name: "truncation trims a dangling bracket", pattern: DefaultDisplayPattern, max: 16, c: directory.Contact{FirstName: "Zoé", LastName: "Roux", Company: "ACME Corporation"}, want: "Zoé Roux (ACME."},
		{name: "exact length kept", pattern: DefaultDisplayPattern, max: 15, c: directory.Contact{FirstName: "Zoé", LastName: "Roux", Company: "ACME"}, want: "Zoé Roux (ACME)"},
		{name: "pattern without the name falls back", pattern: "{company}", c: directory.Contact{FirstName: "Zoé"}, want: "Zoé"},
		{name: "square brackets", pattern: "[{department}] {last}", c: directory.Contact{LastName: "Roux", Department: "Ventes"}, want: "[Ventes] Roux"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseDisplayPattern(tt.pattern, tt.max)
			require.NoError(t, err)
			got := f.render(&tt.c)
			assert.Equal(t, tt.want, got)
			if tt.max > 0 {
				assert.LessOrEqual(t, len([]rune(got)), tt.max)
			}
		})
	}
}

func TestNumberCacheEvicts(t *testing.T) {
	c := newNumberCache(2)
	c.put("a", phone.Number{E164: "+1"}, true)
	c.put("b", phone.Number{E164: "+2"}, true)
	_, _, found := c.get("a") // a is now most recent
	require.True(t, found)
	c.put("c", phone.Number{}, false)
	assert.Equal(t, 2, c.len())
	_, _, found = c.get("b")
	assert.False(t, found, "least recently used is evicted")
	num, ok, found := c.get("a")
	assert.True(t, found)
	assert.True(t, ok)
	assert.Equal(t, "+1", num.E164)
	assert.Equal(t, "a", num.Raw)
	_, ok, found = c.get("c")
	assert.True(t, found)
	assert.False(t, ok, "failed parses are cached as failures")
}

func TestLookupCacheBounded(t *testing.T) {
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	lk, err := New(context.Background(), svc, Config{DefaultRegion: "FR", CacheSize: 16 * 4}, testLogger())
	require.NoError(t, err)
	for i := range 500 {
		lk.Resolve(context.Background(), fmt.Sprintf("01 42 68 %04d", i), "")
	}
	assert.Equal(t, 16*4, lk.def.cache.len())
}

// TestLookupConcurrent runs lookups against writes; run with -race.
func TestLookupConcurrent(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				f.lk.Resolve(ctx, fmt.Sprintf("03 20 %02d %02d %02d", w, i/100, i%100), "201@pbx.example.com")
				f.lk.Resolve(ctx, "0491550142", "202@pbx.example.com")
			}
		}()
	}
	for i := range 100 {
		c, err := f.svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "Load",
			Phones: []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("03 20 00 %02d %02d", i/100, i%100)}}})
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, f.svc.Delete(ctx, admin, c.ID, c.Version))
		}
	}
	wg.Wait()
	_, ok := f.lk.Resolve(ctx, "03 20 00 00 01", "")
	assert.True(t, ok)
	_, ok = f.lk.Resolve(ctx, "03 20 00 00 02", "")
	assert.False(t, ok)
}

func TestLookupBuildCancelled(t *testing.T) {
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, testLogger())
	require.NoError(t, err)
	for i := range 10 {
		_, err := svc.Create(context.Background(), admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "X",
			Phones: []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("01 42 00 00 %02d", i)}}})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = New(ctx, svc, Config{DefaultRegion: "FR"}, testLogger())
	require.ErrorIs(t, err, context.Canceled)
	// The orphaned observer must not queue changes forever.
	_, err = svc.Create(context.Background(), admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "Y",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "01 42 00 00 99"}}})
	require.NoError(t, err)
}

// TestLookupSameNumberTwoFormats: a contact holding one number written
// two ways keeps resolving when an update drops one of the writings.
func TestLookupSameNumberTwoFormats(t *testing.T) {
	f := newLookupFixture(t)
	ctx := context.Background()
	callee := "201@pbx.example.com"
	c, err := f.svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", LastName: "Twice",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "01 45 55 77 10"}, {Type: directory.PhoneOther, Number: "+33 1 45 55 77 10"}}})
	require.NoError(t, err)
	got, ok := f.lk.Resolve(ctx, "+33145557710", callee)
	require.True(t, ok)
	assert.Equal(t, c.ID, got.ContactID)

	c.Phones = c.Phones[1:]
	c, err = f.svc.Update(ctx, admin, c, c.Version)
	require.NoError(t, err)
	got, ok = f.lk.Resolve(ctx, "+33145557710", callee)
	require.True(t, ok, "the writing kept still resolves")
	assert.Equal(t, c.ID, got.ContactID)

	c.Phones = []directory.Phone{{Type: directory.PhoneWork, Number: "01 45 55 77 11"}}
	_, err = f.svc.Update(ctx, admin, c, c.Version)
	require.NoError(t, err)
	_, ok = f.lk.Resolve(ctx, "+33145557710", callee)
	assert.False(t, ok, "gone once no writing is left")
}
