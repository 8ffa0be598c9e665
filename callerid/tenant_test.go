package callerid

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// Two tenants: a.example and b.example.
var (
	adminA      = accounts.Principal{Admin: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	adminB      = accounts.Principal{Admin: true, Domain: "b.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	tenantUserA = accounts.Principal{User: "201@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
	tenantUserB = accounts.Principal{User: "301@b.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
)

type tenantFixture struct {
	svc             *directory.Service
	companyA, compB directory.Contact
}

func newTenantFixture(t *testing.T) *tenantFixture {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{Domains: []string{"a.example", "b.example"}}, testLogger())
	require.NoError(t, err)
	f := &tenantFixture{svc: svc}
	_, err = svc.ProvisionUser(ctx, adminA, accounts.User{Extension: "201", Domain: "a.example", FirstName: "Ana", LastName: "Silva"})
	require.NoError(t, err)
	_, err = svc.ProvisionUser(ctx, adminB, accounts.User{Extension: "301", Domain: "b.example", FirstName: "Bea", LastName: "Costa"})
	require.NoError(t, err)
	f.companyA, err = svc.Create(ctx, adminA, directory.Contact{Kind: directory.KindCompany, Company: "Alpha Plumbing", Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	f.compB, err = svc.Create(ctx, adminB, directory.Contact{Kind: directory.KindCompany, Company: "Beta Bakery", Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 72 00 11 22"}}})
	require.NoError(t, err)
	return f
}

func TestLookupStaysInTheCalleesTenant(t *testing.T) {
	f := newTenantFixture(t)
	ctx := context.Background()
	lk, err := New(ctx, f.svc, Config{DefaultRegion: "FR", DefaultDomain: "a.example"}, testLogger())
	require.NoError(t, err)
	// After the build, through the change path: a.example's contact gets a
	// second number, and 301@b.example keeps a personal contact.
	c := f.companyA
	c.Phones = append(c.Phones, directory.Phone{Type: directory.PhoneMobile, Number: "06 12 34 56 78"})
	_, err = f.svc.Update(ctx, adminA, c, c.Version)
	require.NoError(t, err)
	secret, err := f.svc.Create(ctx, tenantUserB, directory.Contact{Kind: directory.KindPersonal, FirstName: "Secret", LastName: "Lover", Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "06 99 88 77 66"}}})
	require.NoError(t, err)
	require.NoError(t, f.svc.Mark(ctx, tenantUserB, secret.ID, directory.GroupVIP, true))

	tests := []struct {
		name, number, callee string
		shared               bool
		want                 string // contact ID, "" for a miss
	}{
		{name: "own tenant", number: "0491550142", callee: "201@a.example", want: f.companyA.ID},
		{name: "own tenant, added number", number: "0612345678", callee: "201", want: f.companyA.ID},
		{name: "other tenant's company contact", number: "0491550142", callee: "301@b.example"},
		{name: "other tenant's added number", number: "0612345678", callee: "301@b.example"},
		{name: "other tenant, shared view", number: "0491550142", callee: "301@b.example", shared: true},
		{name: "b's own company contact", number: "0472001122", callee: "301@b.example", want: f.compB.ID},
		{name: "b's company contact not for a", number: "0472001122", callee: "201@a.example"},
		{name: "owner's personal contact", number: "0699887766", callee: "301@b.example", want: secret.ID},
		{name: "shared view never reads personal", number: "0699887766", callee: "301@b.example", shared: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resolve := lk.Resolve
			if tt.shared {
				resolve = lk.ResolveShared
			}
			got, ok := resolve(ctx, tt.number, tt.callee)
			if tt.want == "" {
				assert.False(t, ok, "got %+v", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got.ContactID)
		})
	}

	t.Run("shared view carries no personal marks", func(t *testing.T) {
		_, err := f.svc.Create(ctx, tenantUserB, directory.Contact{Kind: directory.KindPersonal, FirstName: "Blocked", Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "04 72 00 11 22"}}})
		require.NoError(t, err)
		page, err := f.svc.Search(ctx, tenantUserB, directory.Query{Text: "blocked"})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.NoError(t, f.svc.Mark(ctx, tenantUserB, page.Items[0].Contact.ID, directory.GroupBlocked, true))
		full, ok := lk.Resolve(ctx, "0472001122", "301@b.example")
		require.True(t, ok)
		assert.True(t, full.Blocked, "the owner's block applies for the owner")
		shared, ok := lk.ResolveShared(ctx, "0472001122", "301@b.example")
		require.True(t, ok)
		assert.Equal(t, f.compB.ID, shared.ContactID)
		assert.False(t, shared.Blocked)
		assert.Equal(t, Marks{}, shared.Marks)
	})
}

// TestLookupLogsNoPersonalNumber checks that a personal number the
// caller-ID index cannot read is logged by contact id only.
func TestLookupLogsNoPersonalNumber(t *testing.T) {
	ctx := context.Background()
	var logs strings.Builder
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, log)
	require.NoError(t, err)
	_, err = New(ctx, svc, Config{DefaultRegion: "FR", DefaultDomain: "a.example"}, log)
	require.NoError(t, err)
	c, err := svc.Create(ctx, tenantUserA, directory.Contact{Kind: directory.KindPersonal, FirstName: "Secret", Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "+999 555 4242"}}})
	require.NoError(t, err)
	require.Contains(t, logs.String(), c.ID, "the unreadable number is reported")
	assert.NotContains(t, logs.String(), "4242")
	assert.NotContains(t, logs.String(), "Secret")
}
