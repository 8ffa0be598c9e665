package directory

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/internal/redistest"
)

// Two tenants: a.example and b.example.
var (
	operator    = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite, accounts.ScopeLookup}}
	adminA      = accounts.Principal{Admin: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	adminB      = accounts.Principal{Admin: true, Domain: "b.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	tenantUserA = accounts.Principal{User: "201@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
	tenantUserB = accounts.Principal{User: "301@b.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
)

type tenantFixture struct {
	svc             *Service
	companyA, compB Contact
	sharedA         Group
}

func newTenantFixture(t *testing.T) *tenantFixture {
	t.Helper()
	ctx := context.Background()
	svc, err := New(ctx, NewMemStore(), Config{Domains: []string{"a.example", "b.example"}}, testLogger())
	require.NoError(t, err)
	f := &tenantFixture{svc: svc}
	_, err = svc.ProvisionUser(ctx, adminA, accounts.User{Extension: "201", Domain: "a.example", FirstName: "Ana", LastName: "Silva"})
	require.NoError(t, err)
	_, err = svc.ProvisionUser(ctx, adminB, accounts.User{Extension: "301", Domain: "b.example", FirstName: "Bea", LastName: "Costa"})
	require.NoError(t, err)
	f.companyA, err = svc.Create(ctx, adminA, Contact{Kind: KindCompany, Company: "Alpha Plumbing", Phones: []Phone{{Type: PhoneWork, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	f.compB, err = svc.Create(ctx, adminB, Contact{Kind: KindCompany, Company: "Beta Bakery", Phones: []Phone{{Type: PhoneWork, Number: "+33 4 72 00 11 22"}}})
	require.NoError(t, err)
	f.sharedA, err = svc.CreateSharedGroup(ctx, adminA, "", "Suppliers")
	require.NoError(t, err)
	return f
}

func TestTenantCompanyContactsStayInTheirDomain(t *testing.T) {
	f := newTenantFixture(t)
	ctx := context.Background()
	assert.Equal(t, "a.example", f.companyA.Domain, "a tenant admin writes in its own domain")
	assert.Equal(t, "b.example", f.compB.Domain)

	t.Run("search", func(t *testing.T) {
		for _, q := range []Query{{}, {Text: "alpha"}, {Text: "91 55 01"}, {Kind: KindCompany}} {
			page, err := f.svc.Search(ctx, tenantUserB, q)
			require.NoError(t, err)
			for _, e := range page.Items {
				assert.NotEqual(t, f.companyA.ID, e.Contact.ID, "query %+v", q)
				assert.NotEqual(t, "a.example", e.Contact.Domain, "query %+v", q)
			}
		}
		page, err := f.svc.Search(ctx, tenantUserA, Query{Text: "alpha"})
		require.NoError(t, err)
		require.Len(t, page.Items, 1, "its own tenant finds it")
	})
	t.Run("get hides existence", func(t *testing.T) {
		_, err := f.svc.Get(ctx, tenantUserB, f.companyA.ID)
		require.ErrorIs(t, err, ErrNotFound)
		_, err = f.svc.Get(ctx, adminB, f.companyA.ID)
		require.ErrorIs(t, err, ErrNotFound)
		_, err = f.svc.Get(ctx, operator, f.companyA.ID)
		require.NoError(t, err, "an operator key reads every domain")
	})
	t.Run("export", func(t *testing.T) {
		var out strings.Builder
		require.NoError(t, f.svc.ExportCSV(ctx, tenantUserB, KindCompany, &out))
		assert.NotContains(t, out.String(), "Alpha Plumbing")
		assert.Contains(t, out.String(), "Beta Bakery")
	})
	t.Run("numbers for caller id", func(t *testing.T) {
		var digits []string
		require.NoError(t, f.svc.ForEachNumber(ctx, tenantUserB, func(d string, _ Contact) bool { digits = append(digits, d); return true }))
		assert.NotContains(t, digits, "33491550142")
		assert.Contains(t, digits, "33472001122")
	})
}

func TestTenantAdminWritesOnlyItsDomain(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		op   func(f *tenantFixture) error
		want error // nil, ErrForbidden, ErrNotFound, or errField
	}{
		{name: "create in another domain", want: ErrForbidden, op: func(f *tenantFixture) error {
			_, err := f.svc.Create(ctx, adminB, Contact{Kind: KindCompany, Domain: "a.example", Company: "Intruder", Emails: []string{"x@b.example"}})
			return err
		}},
		{name: "create naming its own domain", op: func(f *tenantFixture) error {
			_, err := f.svc.Create(ctx, adminB, Contact{Kind: KindCompany, Domain: "B.example", Company: "Gamma", Emails: []string{"x@b.example"}})
			return err
		}},
		{name: "update another domain's contact", want: ErrNotFound, op: func(f *tenantFixture) error {
			c := f.companyA
			c.Company = "Defaced"
			_, err := f.svc.Update(ctx, adminB, c, c.Version)
			return err
		}},
		{name: "delete another domain's contact", want: ErrNotFound, op: func(f *tenantFixture) error {
			return f.svc.Delete(ctx, adminB, f.companyA.ID, f.companyA.Version)
		}},
		{name: "operator without a domain", want: errField, op: func(f *tenantFixture) error {
			_, err := f.svc.Create(ctx, operator, Contact{Kind: KindCompany, Company: "Nowhere", Emails: []string{"x@b.example"}})
			return err
		}},
		{name: "operator in an unserved domain", want: errField, op: func(f *tenantFixture) error {
			_, err := f.svc.Create(ctx, operator, Contact{Kind: KindCompany, Domain: "c.example", Company: "Nowhere", Emails: []string{"x@b.example"}})
			return err
		}},
		{name: "operator names a served domain", op: func(f *tenantFixture) error {
			c, err := f.svc.Create(ctx, operator, Contact{Kind: KindCompany, Domain: "a.example", Company: "Delta", Emails: []string{"x@a.example"}})
			if err == nil && c.Domain != "a.example" {
				t.Errorf("created in %q", c.Domain)
			}
			return err
		}},
		{name: "import updating a duplicate of another domain", op: func(f *tenantFixture) error {
			in := CSVHeader + "\nDefaced,,,,,+33491550142,\n"
			rep, err := f.svc.ImportCSV(ctx, adminB, KindCompany, strings.NewReader(in), ImportOptions{OnDuplicate: DupUpdate, Domain: "b.example"})
			if err == nil && (rep.Updated != 0 || rep.Imported != 1) {
				t.Errorf("report %+v: want a new contact in b.example", rep)
			}
			return err
		}},
		{name: "import into another domain", want: ErrForbidden, op: func(f *tenantFixture) error {
			_, err := f.svc.ImportCSV(ctx, adminB, KindCompany, strings.NewReader(CSVHeader+"\nX,,,,,0123,\n"), ImportOptions{Domain: "a.example"})
			return err
		}},
		{name: "operator import without a domain", want: errField, op: func(f *tenantFixture) error {
			_, err := f.svc.ImportCSV(ctx, operator, KindCompany, strings.NewReader(CSVHeader+"\nX,,,,,0123,\n"), ImportOptions{})
			return err
		}},
		{name: "provision a user of another domain", want: ErrForbidden, op: func(f *tenantFixture) error {
			_, err := f.svc.ProvisionUser(ctx, adminB, accounts.User{Extension: "202", Domain: "a.example", FirstName: "Eve"})
			return err
		}},
		{name: "read a user of another domain", want: ErrNotFound, op: func(f *tenantFixture) error {
			_, err := f.svc.GetUser(ctx, adminB, "201@a.example")
			return err
		}},
		{name: "delete a user of another domain", want: ErrNotFound, op: func(f *tenantFixture) error {
			_, err := f.svc.DeleteUser(ctx, adminB, "201@a.example", true)
			return err
		}},
		{name: "shared group in another domain", want: ErrForbidden, op: func(f *tenantFixture) error {
			_, err := f.svc.CreateSharedGroup(ctx, adminB, "a.example", "Spies")
			return err
		}},
		{name: "delete another domain's shared group", want: ErrNotFound, op: func(f *tenantFixture) error {
			return f.svc.DeleteGroup(ctx, adminB, f.sharedA.ID)
		}},
		{name: "mark into another domain's shared group", want: ErrNotFound, op: func(f *tenantFixture) error {
			return f.svc.Mark(ctx, adminB, f.compB.ID, f.sharedA.ID, true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTenantFixture(t)
			err := tt.op(f)
			switch {
			case tt.want == nil:
				require.NoError(t, err)
			case tt.want == errField:
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, "domain", fe.Field)
			default:
				require.ErrorIs(t, err, tt.want)
			}
			got, err := f.svc.Get(ctx, adminA, f.companyA.ID)
			require.NoError(t, err)
			assert.Equal(t, f.companyA, got.Contact, "a.example's contact is untouched")
			_, err = f.svc.GetUser(ctx, adminA, "201@a.example")
			require.NoError(t, err, "a.example's user is untouched")
		})
	}

	t.Run("lists", func(t *testing.T) {
		f := newTenantFixture(t)
		users, err := f.svc.ListUsers(ctx, adminB)
		require.NoError(t, err)
		require.Len(t, users, 1)
		assert.Equal(t, "301@b.example", users[0].AOR())
		groups, err := f.svc.ListGroups(ctx, adminB)
		require.NoError(t, err)
		assert.Empty(t, groups, "a.example's shared group is not listed for b.example")
		page, err := f.svc.Search(ctx, adminB, Query{Kind: KindTeam})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		assert.Equal(t, TeamContactID("301@b.example"), page.Items[0].Contact.ID)
	})
}

// errField marks an expected *FieldError on "domain".
var errField = &FieldError{Field: "domain"}

// seedPreTenant writes what a store held before tenants: a company
// contact and a shared group without a domain, with a membership.
func seedPreTenant(t *testing.T, s Store) Contact {
	t.Helper()
	c := Contact{ID: "c_legacy", Kind: KindCompany, Company: "Legacy SA", Phones: []Phone{{Type: PhoneWork, Number: "+33 4 91 55 01 42"}},
		Created: time.Unix(100, 0).UTC(), Updated: time.Unix(100, 0).UTC(), Version: 3}
	requireApply(t, s, context.Background(), Batch{
		Contacts: []ContactWrite{{Contact: c}},
		Groups:   []Group{{ID: "shared::suppliers", Name: "Suppliers"}},
		Marks:    []Mark{{Owner: "@", ContactID: c.ID, Groups: []string{"shared::suppliers"}}},
	})
	return c
}

func testMigrateTenants(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	s := open(t)
	legacy := seedPreTenant(t, s)
	cfg := Config{Domains: []string{"a.example", "b.example"}}
	svc, err := New(ctx, s, cfg, testLogger())
	require.NoError(t, err)

	stored, err := s.GetContact(ctx, legacy.ID)
	require.NoError(t, err)
	assert.Equal(t, "a.example", stored.Domain, "moved to the default domain in the store")
	assert.Equal(t, legacy.Version+1, stored.Version)

	e, err := svc.Get(ctx, tenantUserA, legacy.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"shared:a.example:suppliers"}, e.Marks, "the membership moved with its group")
	_, err = svc.Get(ctx, tenantUserB, legacy.ID)
	require.ErrorIs(t, err, ErrNotFound)

	groups, err := s.ListGroups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 1)
	assert.Equal(t, Group{ID: "shared:a.example:suppliers", Name: "Suppliers", Domain: "a.example"}, groups[0])
	var marks []Mark
	require.NoError(t, s.ForEachMark(ctx, func(m Mark) error { marks = append(marks, m); return nil }))
	assert.Equal(t, []Mark{{Owner: "@a.example", ContactID: legacy.ID, Groups: []string{"shared:a.example:suppliers"}}}, marks)

	// A second start (or a second instance) finds nothing left to move.
	_, err = New(ctx, s, cfg, testLogger())
	require.NoError(t, err)
	again, err := s.GetContact(ctx, legacy.ID)
	require.NoError(t, err)
	assert.Equal(t, stored, again)
}

func TestMigrateTenantsBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.db")
	testMigrateTenants(t, func(t *testing.T) Store { return openTestBolt(t, path) })
}

func TestMigrateTenantsRedis(t *testing.T) {
	rdb := newTestRedis(t)
	testMigrateTenants(t, func(t *testing.T) Store {
		return NewRedisStore(rdb, redistest.Prefix(t, rdb, "tenant"))
	})
}

// TestSmallTenantSearchAgrees checks the tenant plan of Search (a small
// tenant listed rather than found by scanning) against a brute-force
// filter and sort.
func TestSmallTenantSearchAgrees(t *testing.T) {
	ctx := context.Background()
	store := NewMemStore()
	r := rand.New(rand.NewPCG(3, 4))
	var b Batch
	for i := range 6000 {
		c := genContact(r, i)
		if i%100 == 0 {
			c.Domain = "a.example"
		} else {
			c.Domain = "big.example"
		}
		b.Contacts = append(b.Contacts, ContactWrite{Contact: c})
	}
	requireApply(t, store, ctx, b)
	svc, err := New(ctx, store, Config{}, testLogger())
	require.NoError(t, err)
	for _, text := range []string{"", "a", "mull", "91 55", "user1"} {
		t.Run(text, func(t *testing.T) {
			pq := parseQuery(text)
			var want []string
			var all []doc
			for _, d := range svc.idx.docs.all() {
				if !d.alive {
					continue
				}
				if c := d.contact(svc.idx); canSee(tenantUserA, &c) && d.matches(svc.idx, &pq) {
					all = append(all, *d)
				}
			}
			slices.SortFunc(all, func(a, b doc) int { return strings.Compare(a.fullKey(svc.idx), b.fullKey(svc.idx)) })
			for _, d := range all {
				want = append(want, d.id(svc.idx))
			}
			assert.Equal(t, want, searchAll(t, svc, tenantUserA, Query{Text: text, Limit: 7}))
		})
	}
}
