package directory

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
)

func testLogger() zerolog.Logger { return zerolog.Nop() }

var (
	admin = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	alice = accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
	bob   = accounts.Principal{User: "202@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}}
	// carol has no company permission.
	carol = accounts.Principal{User: "203@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}}
	// dave is a user of another domain.
	dave = accounts.Principal{User: "301@other.example.org", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}}
	// adminUser is an administrator who is also a user: still no access
	// to other users' personal contacts.
	adminUser = accounts.Principal{User: "200@pbx.example.com", Admin: true, Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
)

type fixture struct {
	svc      *Service
	personal Contact // alice's
	company  Contact
	team     Contact // alice's team contact
	events   []ChangeEvent
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	svc, err := New(ctx, NewMemStore(), Config{}, testLogger())
	require.NoError(t, err)
	f := &fixture{svc: svc}
	svc.OnChange(func(e ChangeEvent) { f.events = append(f.events, e) })
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "pbx.example.com", FirstName: "Alice", LastName: "Martin", Email: "alice@example.com"},
		{Extension: "202", Domain: "pbx.example.com", FirstName: "Bob", LastName: "Durand"},
		{Extension: "203", Domain: "pbx.example.com", FirstName: "Carol", LastName: "Petit"},
		{Extension: "301", Domain: "other.example.org", FirstName: "Dave", LastName: "Jones"},
	} {
		_, err := svc.ProvisionUser(ctx, admin, u)
		require.NoError(t, err)
	}
	f.personal, err = svc.Create(ctx, alice, Contact{Kind: KindPersonal, FirstName: "José", LastName: "Müller",
		Phones: []Phone{{Type: PhoneMobile, Number: "+33 4 91 55 01 42"}}, Emails: []string{"jose@example.net"}})
	require.NoError(t, err)
	f.company, err = svc.Create(ctx, admin, Contact{Kind: KindCompany, Domain: "pbx.example.com", Company: "Plomberie Générale", Department: "Dépannage",
		Phones: []Phone{{Type: PhoneWork, Number: "04 72 00 11 22"}}})
	require.NoError(t, err)
	g, err := svc.Get(ctx, alice, TeamContactID(alice.User))
	require.NoError(t, err)
	f.team = g.Contact
	return f
}

func TestPermissionsRead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    accounts.Principal
		id   string
		want error
	}{
		{name: "owner reads personal", p: alice, id: f.personal.ID},
		{name: "other user cannot see personal", p: bob, id: f.personal.ID, want: ErrNotFound},
		{name: "user without company cannot see personal", p: carol, id: f.personal.ID, want: ErrNotFound},
		{name: "admin cannot see personal", p: admin, id: f.personal.ID, want: ErrNotFound},
		{name: "admin user cannot see personal", p: adminUser, id: f.personal.ID, want: ErrNotFound},
		{name: "user reads company", p: bob, id: f.company.ID},
		{name: "user without company:read", p: carol, id: f.company.ID, want: ErrForbidden},
		{name: "admin reads company", p: admin, id: f.company.ID},
		{name: "same domain reads team", p: carol, id: f.team.ID},
		{name: "other domain cannot see team", p: dave, id: f.team.ID, want: ErrNotFound},
		{name: "users admin reads team", p: admin, id: f.team.ID},
		{name: "missing", p: alice, id: "c_nope", want: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Get(ctx, tt.p, tt.id)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestPermissionsWrite(t *testing.T) {
	ctx := context.Background()
	newPersonal := Contact{Kind: KindPersonal, FirstName: "Zoé", Emails: []string{"zoe@example.com"}}
	newCompany := Contact{Kind: KindCompany, Domain: "pbx.example.com", Company: "Acme", Emails: []string{"info@acme.example"}}
	tests := []struct {
		name string
		p    accounts.Principal
		op   func(f *fixture, p accounts.Principal) error
		want error
	}{
		{name: "owner updates personal", p: alice, op: updateOf(func(f *fixture) Contact { return f.personal })},
		{name: "other user updates personal", p: bob, op: updateOf(func(f *fixture) Contact { return f.personal }), want: ErrNotFound},
		{name: "admin updates personal", p: admin, op: updateOf(func(f *fixture) Contact { return f.personal }), want: ErrNotFound},
		{name: "admin deletes personal", p: adminUser, op: deleteOf(func(f *fixture) Contact { return f.personal }), want: ErrNotFound},
		{name: "owner deletes personal", p: alice, op: deleteOf(func(f *fixture) Contact { return f.personal })},
		{name: "user updates company", p: bob, op: updateOf(func(f *fixture) Contact { return f.company }), want: ErrForbidden},
		{name: "user without company updates company", p: carol, op: updateOf(func(f *fixture) Contact { return f.company }), want: ErrForbidden},
		{name: "user deletes company", p: alice, op: deleteOf(func(f *fixture) Contact { return f.company }), want: ErrForbidden},
		{name: "company writer updates company", p: admin, op: updateOf(func(f *fixture) Contact { return f.company })},
		{name: "company writer deletes company", p: admin, op: deleteOf(func(f *fixture) Contact { return f.company })},
		{name: "owner cannot edit team", p: alice, op: updateOf(func(f *fixture) Contact { return f.team }), want: ErrForbidden},
		{name: "admin cannot edit team directly", p: admin, op: deleteOf(func(f *fixture) Contact { return f.team }), want: ErrForbidden},
		{name: "user creates personal", p: carol, op: createOf(newPersonal)},
		{name: "admin key creates personal", p: admin, op: createOf(newPersonal), want: ErrForbidden},
		{name: "user creates company", p: alice, op: createOf(newCompany), want: ErrForbidden},
		{name: "company writer creates company", p: admin, op: createOf(newCompany)},
		{name: "nobody creates team", p: adminUser, op: createOf(Contact{Kind: KindTeam, FirstName: "X", Emails: []string{"x@example.com"}}), want: ErrForbidden},
		{name: "user provisions user", p: alice, op: func(f *fixture, p accounts.Principal) error {
			_, err := f.svc.ProvisionUser(ctx, p, accounts.User{Extension: "209", Domain: "pbx.example.com", FirstName: "Eve"})
			return err
		}, want: ErrForbidden},
		{name: "user lists users", p: alice, op: func(f *fixture, p accounts.Principal) error { _, err := f.svc.ListUsers(ctx, p); return err }, want: ErrForbidden},
		{name: "user deletes user", p: bob, op: func(f *fixture, p accounts.Principal) error {
			_, err := f.svc.DeleteUser(ctx, p, alice.User, true)
			return err
		}, want: ErrForbidden},
		{name: "user creates shared group", p: alice, op: func(f *fixture, p accounts.Principal) error {
			_, err := f.svc.CreateSharedGroup(ctx, p, "pbx.example.com", "Sales")
			return err
		}, want: ErrForbidden},
		{name: "lookup without scope", p: bob, op: func(f *fixture, p accounts.Principal) error {
			return f.svc.ForEachNumber(ctx, p, func(string, Contact) bool { return true })
		}, want: ErrForbidden},
		{name: "other user marks personal", p: bob, op: func(f *fixture, p accounts.Principal) error {
			return f.svc.Mark(ctx, p, f.personal.ID, GroupVIP, true)
		}, want: ErrNotFound},
		{name: "admin exports company", p: admin, op: func(f *fixture, p accounts.Principal) error {
			return f.svc.ExportCSV(ctx, p, KindCompany, &strings.Builder{})
		}},
		{name: "user without company exports company", p: carol, op: func(f *fixture, p accounts.Principal) error {
			return f.svc.ExportCSV(ctx, p, KindCompany, &strings.Builder{})
		}, want: ErrForbidden},
		{name: "admin key exports personal", p: admin, op: func(f *fixture, p accounts.Principal) error {
			return f.svc.ExportCSV(ctx, p, KindPersonal, &strings.Builder{})
		}, want: ErrForbidden},
		{name: "user imports company", p: alice, op: func(f *fixture, p accounts.Principal) error {
			_, err := f.svc.ImportCSV(ctx, p, KindCompany, strings.NewReader(CSVHeader+"\nA,,,,,0123,"), ImportOptions{})
			return err
		}, want: ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := len(f.events)
			err := tt.op(f, tt.p)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
			assert.Len(t, f.events, before, "a refused operation emits nothing")
		})
	}
}

func updateOf(pick func(f *fixture) Contact) func(f *fixture, p accounts.Principal) error {
	return func(f *fixture, p accounts.Principal) error {
		c := pick(f)
		c.Notes = "changed"
		_, err := f.svc.Update(context.Background(), p, c, c.Version)
		return err
	}
}

func deleteOf(pick func(f *fixture) Contact) func(f *fixture, p accounts.Principal) error {
	return func(f *fixture, p accounts.Principal) error {
		c := pick(f)
		return f.svc.Delete(context.Background(), p, c.ID, c.Version)
	}
}

func createOf(c Contact) func(f *fixture, p accounts.Principal) error {
	return func(f *fixture, p accounts.Principal) error {
		_, err := f.svc.Create(context.Background(), p, c)
		return err
	}
}

func TestSearchVisibility(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		p    accounts.Principal
		q    Query
		want []string // display names in order
		err  error
	}{
		{name: "owner sees all kinds", p: alice, want: []string{"Bob Durand", "Alice Martin", "José Müller", "Carol Petit", "Plomberie Générale"}},
		{name: "other user", p: bob, want: []string{"Bob Durand", "Alice Martin", "Carol Petit", "Plomberie Générale"}},
		{name: "user without company", p: carol, want: []string{"Bob Durand", "Alice Martin", "Carol Petit"}},
		{name: "admin never sees personal", p: admin, want: []string{"Bob Durand", "Dave Jones", "Alice Martin", "Carol Petit", "Plomberie Générale"}},
		{name: "admin searching personal number", p: admin, q: Query{Text: "91 55"}, want: nil},
		{name: "other domain sees only its tenant", p: dave, want: []string{"Dave Jones"}},
		{name: "company kind without scope", p: carol, q: Query{Kind: KindCompany}, err: ErrForbidden},
		{name: "personal kind for admin key", p: admin, q: Query{Kind: KindPersonal}, err: ErrForbidden},
		{name: "no scope", p: accounts.Principal{User: "204@pbx.example.com"}, err: ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.Search(ctx, tt.p, tt.q)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(page))
		})
	}
}

func names(p Page) []string {
	var out []string
	for _, e := range p.Items {
		out = append(out, e.Contact.DisplayName())
	}
	return out
}

func TestSearchMatching(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tests := []struct {
		name string
		text string
		want []string
	}{
		{name: "accent folded", text: "jose", want: []string{"José Müller"}},
		{name: "umlaut prefix", text: "mull", want: []string{"José Müller"}},
		{name: "case", text: "MÜLLER JOS", want: []string{"José Müller"}},
		{name: "digits across formatting", text: "91 550 142", want: []string{"José Müller"}},
		{name: "digits with punctuation", text: "(0)4.72-00", want: []string{"Plomberie Générale"}},
		{name: "department", text: "depan", want: []string{"Plomberie Générale"}},
		{name: "email", text: "alice@exa", want: []string{"Alice Martin"}},
		{name: "extension", text: "202", want: []string{"Bob Durand"}},
		{name: "word must prefix", text: "uller", want: nil},
		{name: "all words must match", text: "jose durand", want: nil},
		{name: "no match", text: "zzz", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.Search(ctx, alice, Query{Text: tt.text})
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(page))
		})
	}
}

func TestSearchOrderFiltersAndPaging(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Favorites first, then VIPs, then by name.
	require.NoError(t, f.svc.Mark(ctx, alice, TeamContactID(carol.User), GroupVIP, true))
	require.NoError(t, f.svc.Mark(ctx, alice, f.personal.ID, GroupFavorite, true))
	page, err := f.svc.Search(ctx, alice, Query{})
	require.NoError(t, err)
	assert.Equal(t, []string{"José Müller", "Carol Petit", "Bob Durand", "Alice Martin", "Plomberie Générale"}, names(page))
	assert.Equal(t, []string{GroupFavorite}, page.Items[0].Marks)

	// Bob's order is unaffected by Alice's marks.
	page, err = f.svc.Search(ctx, bob, Query{})
	require.NoError(t, err)
	assert.Equal(t, "Bob Durand", names(page)[0])

	for _, tt := range []struct {
		name string
		q    Query
		want []string
	}{
		{name: "kind team", q: Query{Kind: KindTeam}, want: []string{"Carol Petit", "Bob Durand", "Alice Martin"}},
		{name: "kind personal", q: Query{Kind: KindPersonal}, want: []string{"José Müller"}},
		{name: "kind company", q: Query{Kind: KindCompany}, want: []string{"Plomberie Générale"}},
		{name: "group vip", q: Query{Group: GroupVIP}, want: []string{"Carol Petit"}},
		{name: "group and text", q: Query{Group: GroupFavorite, Text: "carol"}, want: nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			page, err := f.svc.Search(ctx, alice, tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.want, names(page))
		})
	}

	t.Run("pages are stable under inserts", func(t *testing.T) {
		var got []string
		q := Query{Limit: 3}
		for i := 0; ; i++ {
			page, err := f.svc.Search(ctx, alice, q)
			require.NoError(t, err)
			got = append(got, names(page)...)
			if i == 0 {
				// Inserted before the cursor: must not shift later pages.
				_, err := f.svc.Create(ctx, alice, Contact{Kind: KindPersonal, LastName: "Aaron", Emails: []string{"a@example.com"}})
				require.NoError(t, err)
			}
			if page.Next == "" {
				break
			}
			q.Cursor = page.Next
		}
		assert.Equal(t, []string{"José Müller", "Carol Petit", "Bob Durand", "Alice Martin", "Plomberie Générale"}, got)
	})

	t.Run("malformed cursor", func(t *testing.T) {
		_, err := f.svc.Search(ctx, alice, Query{Cursor: "!!"})
		var fe *FieldError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "cursor", fe.Field)
	})
}

func TestMarksConflictAndGroups(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.svc.Mark(ctx, alice, f.company.ID, GroupFavorite, true))
	err := f.svc.Mark(ctx, alice, f.company.ID, GroupBlocked, true)
	require.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "favorite")
	// The mark is the user's: Bob may block the same contact.
	require.NoError(t, f.svc.Mark(ctx, bob, f.company.ID, GroupBlocked, true))
	err = f.svc.Mark(ctx, bob, f.company.ID, GroupVIP, true)
	require.ErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "blocked")

	g, err := f.svc.CreateGroup(ctx, alice, "Golf club")
	require.NoError(t, err)
	_, err = f.svc.CreateGroup(ctx, alice, "golf  CLUB")
	require.ErrorIs(t, err, ErrConflict)
	require.NoError(t, f.svc.Mark(ctx, alice, f.personal.ID, g.ID, true))
	require.ErrorIs(t, f.svc.Mark(ctx, bob, TeamContactID(bob.User), g.ID, true), ErrNotFound, "another user's group is invisible")

	sg, err := f.svc.CreateSharedGroup(ctx, admin, "pbx.example.com", "Reception")
	require.NoError(t, err)
	require.NoError(t, f.svc.Mark(ctx, admin, TeamContactID(carol.User), sg.ID, true))
	require.ErrorIs(t, f.svc.Mark(ctx, alice, TeamContactID(bob.User), sg.ID, true), ErrForbidden)
	page, err := f.svc.Search(ctx, bob, Query{Group: sg.ID})
	require.NoError(t, err)
	assert.Equal(t, []string{"Carol Petit"}, names(page))
	_, err = f.svc.Search(ctx, dave, Query{Group: sg.ID})
	require.ErrorIs(t, err, ErrNotFound)

	groups, err := f.svc.ListGroups(ctx, alice)
	require.NoError(t, err)
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	assert.Equal(t, []string{GroupFavorite, GroupVIP, GroupBlocked, g.ID, sg.ID}, ids)

	require.NoError(t, f.svc.DeleteGroup(ctx, alice, g.ID))
	got, err := f.svc.Get(ctx, alice, f.personal.ID)
	require.NoError(t, err)
	assert.Empty(t, got.Marks)
}

func TestVersionsAndValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.personal
	c.Notes = "first"
	c1, err := f.svc.Update(ctx, alice, c, c.Version)
	require.NoError(t, err)
	assert.Equal(t, c.Version+1, c1.Version)
	c.Notes = "lost update"
	_, err = f.svc.Update(ctx, alice, c, c.Version)
	require.ErrorIs(t, err, ErrVersionMismatch)
	require.ErrorIs(t, f.svc.Delete(ctx, alice, c.ID, c.Version), ErrVersionMismatch)

	tests := []struct {
		name  string
		c     Contact
		field string
	}{
		{name: "no name", c: Contact{Kind: KindPersonal, Emails: []string{"a@b.example"}}, field: "name"},
		{name: "no number or email", c: Contact{Kind: KindPersonal, FirstName: "A"}, field: "phones"},
		{name: "bad second number", c: Contact{Kind: KindPersonal, FirstName: "A", Phones: []Phone{{Type: PhoneWork, Number: "0123"}, {Type: PhoneHome, Number: "12a4"}}}, field: "phones[1].number"},
		{name: "too few digits", c: Contact{Kind: KindPersonal, FirstName: "A", Phones: []Phone{{Type: PhoneWork, Number: "1-2"}}}, field: "phones[0].number"},
		{name: "bad type", c: Contact{Kind: KindPersonal, FirstName: "A", Phones: []Phone{{Type: "pager", Number: "0123"}}}, field: "phones[0].type"},
		{name: "bad email", c: Contact{Kind: KindPersonal, FirstName: "A", Emails: []string{"a@b.example", "nope"}}, field: "emails[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Create(ctx, alice, tt.c)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.field, fe.Field)
			assert.NotEmpty(t, fe.Reason)
		})
	}
}

func TestDeleteUserNeedsConfirmation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	require.NoError(t, f.svc.Mark(ctx, bob, f.team.ID, GroupFavorite, true))
	sg, err := f.svc.CreateSharedGroup(ctx, admin, "pbx.example.com", "Managers")
	require.NoError(t, err)
	require.NoError(t, f.svc.Mark(ctx, admin, f.team.ID, sg.ID, true))
	_, err = f.svc.CreateGroup(ctx, alice, "Family")
	require.NoError(t, err)

	dep, err := f.svc.DeleteUser(ctx, admin, alice.User, false)
	require.ErrorIs(t, err, ErrConfirmationRequired)
	want := Dependents{MarkedBy: 1, SharedGroups: []string{sg.ID}, PersonalContacts: 1, OwnGroups: 1}
	assert.Equal(t, want, dep)
	_, err = f.svc.Get(ctx, bob, f.team.ID)
	require.NoError(t, err, "nothing deleted without confirmation")

	f.events = nil
	dep, err = f.svc.DeleteUser(ctx, admin, alice.User, true)
	require.NoError(t, err)
	assert.Equal(t, want, dep)
	_, err = f.svc.Get(ctx, bob, f.team.ID)
	require.ErrorIs(t, err, ErrNotFound)
	page, err := f.svc.Search(ctx, bob, Query{Group: GroupFavorite})
	require.NoError(t, err)
	assert.Empty(t, page.Items)
	assert.Len(t, f.events, 2, "team contact and personal contact deleted")
	_, err = f.svc.DeleteUser(ctx, admin, alice.User, true)
	require.ErrorIs(t, err, ErrNotFound)
}

func TestProvisionUpdatesTeamContactAndEvents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.events = nil
	_, err := f.svc.ProvisionUser(ctx, admin, accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Alicia", LastName: "Martin", JobTitle: "CFO"})
	require.NoError(t, err)
	got, err := f.svc.Get(ctx, bob, f.team.ID)
	require.NoError(t, err)
	assert.Equal(t, "Alicia", got.Contact.FirstName)
	assert.Equal(t, f.team.Version+1, got.Contact.Version)
	require.Len(t, f.events, 1)
	assert.Equal(t, ChangeUpdated, f.events[0].Op)

	var numbers []string
	require.NoError(t, f.svc.ForEachNumber(ctx, alice, func(d string, c Contact) bool {
		numbers = append(numbers, d)
		return true
	}))
	assert.ElementsMatch(t, []string{"201", "202", "203", "33491550142", "0472001122"}, numbers, "alice's tenant only")
}

// TestSearchPlansAgree checks that every query plan (candidates, budgeted
// scan, full scan) returns the same pages as a brute-force filter and sort.
func TestSearchPlansAgree(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(7, 8))
	var b Batch
	for i := range 6000 {
		b.Contacts = append(b.Contacts, ContactWrite{Contact: genContact(r, i)})
	}
	requireApply(t, store, ctx, b)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	require.NoError(t, svc.Mark(ctx, alice, "c_00005999", GroupFavorite, true))
	require.NoError(t, svc.Mark(ctx, alice, "c_00000007", GroupVIP, true))

	ranks := map[string]int{"c_00005999": rankFavorite, "c_00000007": rankVIP}
	for _, text := range []string{"mull", "jose", "a", "91 55", "user12", "", "jürgen gl"} {
		t.Run(text, func(t *testing.T) { checkSearchAgainstBruteForce(t, svc, text, ranks) })
	}
}

// TestSearchPlansAgreeOnTiedHeads is TestSearchPlansAgree over contacts
// whose sort keys share their first 8 bytes ("smith\x00jo…"), where the
// dense heads a search skips candidates by cannot order them.
func TestSearchPlansAgreeOnTiedHeads(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(9, 10))
	firsts := []string{"Jo", "Joan", "Joe", "John", "Johanna", "Jonas", "Jos", "José", "Joseph", "Josh"}
	var b Batch
	for i := range 5000 {
		c := genContact(r, i)
		c.LastName, c.FirstName = "Smith", firsts[r.IntN(len(firsts))]
		if i%3 == 0 {
			c.LastName = "Smithson"
		}
		b.Contacts = append(b.Contacts, ContactWrite{Contact: c})
	}
	requireApply(t, store, ctx, b)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	for _, text := range []string{"jo", "smith", "joh", "smith jo", "a"} {
		t.Run(text, func(t *testing.T) { checkSearchAgainstBruteForce(t, svc, text, nil) })
	}
}

// checkSearchAgainstBruteForce compares every page of text's search for
// alice with a filter and sort of every doc; ranks names the contacts
// alice marked (others rank rankOther).
func checkSearchAgainstBruteForce(t *testing.T, svc *Service, text string, ranks map[string]int) {
	t.Helper()
	pq := parseQuery(text)
	type ref struct {
		rank    int
		key, id string
	}
	var all []ref
	for _, d := range svc.idx.docs.all() {
		if d.alive && d.matches(svc.idx, &pq) {
			rank, ok := ranks[d.id(svc.idx)]
			if !ok {
				rank = rankOther
			}
			all = append(all, ref{rank, d.fullKey(svc.idx), d.id(svc.idx)})
		}
	}
	slices.SortFunc(all, func(a, b ref) int { return cmp.Or(a.rank-b.rank, strings.Compare(a.key, b.key)) })
	var want []string
	for _, h := range all {
		want = append(want, h.id)
	}
	for _, limit := range []int{500, 20} {
		assert.Equal(t, want, searchAll(t, svc, alice, Query{Text: text, Limit: limit}), "limit %d", limit)
	}
}

// searchAll pages through every result of q for p and returns the IDs in
// order.
func searchAll(t *testing.T, svc *Service, p accounts.Principal, q Query) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "paging does not terminate")
		page, err := svc.Search(context.Background(), p, q)
		require.NoError(t, err)
		for _, e := range page.Items {
			got = append(got, e.Contact.ID)
		}
		if page.Next == "" {
			return got
		}
		q.Cursor = page.Next
	}
}
