package ldap

import (
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

func testServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(Config{Domains: []string{"pbx.example.com"}, Region: "US"}, nil, nil, zerolog.Nop())
	require.NoError(t, err)
	return s
}

var alice = directory.Contact{
	ID: "c1", Kind: directory.KindCompany, Domain: "pbx.example.com",
	FirstName: "Alice", LastName: "Müller", Company: "Acme Corp", Department: "Sales", JobTitle: "Buyer",
	Phones: []directory.Phone{
		{Type: directory.PhoneWork, Number: "(415) 555-0132"},
		{Type: directory.PhoneMobile, Number: "+1 415 555 0199"},
		{Type: directory.PhoneHome, Number: "415.555.0100"},
		{Type: directory.PhoneFax, Number: "415 555 0177"},
	},
	Emails: []string{"alice@acme.example"},
}

func TestFilterMatch(t *testing.T) {
	s := testServer(t)
	e := entryFor(&alice, baseDN("pbx.example.com"))
	num := s.numberMatcher("pbx.example.com")
	tests := []struct {
		name   string
		filter string
		want   bool
	}{
		// Yealink ldap.name_filter and ldap.number_filter, % replaced.
		{name: "yealink name", filter: "(|(cn=Alice*)(sn=Alice*))", want: true},
		{name: "yealink name by last name", filter: "(|(cn=mül*)(sn=mül*))", want: true},
		{name: "yealink number E.164", filter: "(|(telephoneNumber=+14155550132)(mobile=+14155550132)(homePhone=+14155550132))", want: true},
		{name: "yealink number national digits", filter: "(|(telephoneNumber=4155550199)(mobile=4155550199)(homePhone=4155550199))", want: true},
		{name: "yealink number with trunk prefix", filter: "(|(telephoneNumber=14155550100)(mobile=14155550100)(homePhone=14155550100))", want: true},
		{name: "yealink prefix mode, whole number", filter: "(|(telephoneNumber=+14155550132*)(mobile=+14155550132*)(homePhone=+14155550132*))", want: true},
		{name: "yealink prefix mode, typed digits", filter: "(|(telephoneNumber=41555*)(mobile=41555*)(homePhone=41555*))", want: true},
		{name: "yealink prefix mode, other digits", filter: "(|(telephoneNumber=41566*)(mobile=41566*)(homePhone=41566*))", want: false},
		{name: "yealink number other", filter: "(|(telephoneNumber=4155550111)(mobile=4155550111)(homePhone=4155550111))", want: false},
		// Snom ldap_search_filter / ldap_number_filter.
		{name: "snom name", filter: "(&(telephoneNumber=*)(sn=Mu*))", want: true},
		{name: "snom number", filter: "(|(telephoneNumber=*0132)(mobile=*0132))", want: true},
		// Polycom dir.corp browsing with >= and <=.
		{name: "polycom range", filter: "(&(sn>=M)(sn<=N))", want: true},
		{name: "polycom range outside", filter: "(&(sn>=A)(sn<=B))", want: false},
		{name: "equality folds case and accents", filter: "(cn=alice muller)", want: true},
		{name: "equality", filter: "(givenName=Alice)", want: true},
		{name: "equality miss", filter: "(givenName=Alic)", want: false},
		{name: "substring any", filter: "(o=*cme*)", want: true},
		{name: "substring initial any final", filter: "(cn=a*ce*ler)", want: true},
		{name: "substring order matters", filter: "(cn=*ler*ali*)", want: false},
		{name: "presence", filter: "(mail=*)", want: true},
		{name: "presence missing", filter: "(ipPhone=*)", want: false},
		{name: "objectClass", filter: "(objectClass=inetOrgPerson)", want: true},
		{name: "not", filter: "(!(ou=Sales))", want: false},
		{name: "and", filter: "(&(title=buyer)(mail=alice@acme.example))", want: true},
		{name: "fax", filter: "(facsimileTelephoneNumber=+1-415-555-0177)", want: true},
		{name: "unknown attribute", filter: "(pager=1)", want: false},
		{name: "attribute names ignore case", filter: "(TELEPHONENUMBER=4155550132)", want: true},
		{name: "approx as equality", filter: "(sn~=muller)", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFilter(tt.filter)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.match(e, num))
		})
	}
}

func TestFilterTeamExtension(t *testing.T) {
	s := testServer(t)
	team := directory.Contact{ID: "t1", Kind: directory.KindTeam, Domain: "pbx.example.com", FirstName: "Bob", LastName: "Ng",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "201"}}}
	e := entryFor(&team, baseDN("pbx.example.com"))
	num := s.numberMatcher("pbx.example.com")
	for filter, want := range map[string]bool{"(ipPhone=201)": true, "(telephoneNumber=201)": true, "(telephoneNumber=202)": false, "(telephoneNumber=2015550201)": false} {
		f, err := parseFilter(filter)
		require.NoError(t, err)
		require.Equal(t, want, f.match(e, num), filter)
	}
}

func TestParseFilterRefuses(t *testing.T) {
	for _, s := range []string{"", "(cn=a", "cn=a)", "(&(cn=a)", "(cn:dn:=a)"} {
		_, err := parseFilter(s)
		require.Error(t, err, s)
	}
	deep := "(cn=a)"
	for range maxFilterDepth + 1 {
		deep = "(!" + deep + ")"
	}
	_, err := parseFilter(deep)
	require.ErrorIs(t, err, errFilter)
}

func TestFilterHint(t *testing.T) {
	tests := []struct{ name, filter, want string }{
		{name: "yealink or of one value", filter: "(|(cn=Ali*)(sn=Ali*))", want: "Ali"},
		{name: "or of different values", filter: "(|(cn=Ali*)(sn=Bob*))", want: ""},
		{name: "or with a number branch", filter: "(|(cn=Ali*)(telephoneNumber=Ali*))", want: ""},
		{name: "and takes one branch", filter: "(&(objectClass=person)(sn=Smith))", want: "Smith"},
		{name: "any substring cannot narrow", filter: "(cn=*li*)", want: ""},
		{name: "number-like word", filter: "(cn=Room 101)", want: ""},
		{name: "not", filter: "(!(cn=Ali))", want: ""},
		{name: "title is not indexed", filter: "(title=Buyer)", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFilter(tt.filter)
			require.NoError(t, err)
			require.Equal(t, tt.want, f.hint())
		})
	}
}

func TestBindNames(t *testing.T) {
	s, err := New(Config{Domains: []string{"pbx.example.com", "b.example"}, Region: "US"}, nil, nil, zerolog.Nop())
	require.NoError(t, err)
	user := accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}}
	admin := accounts.Principal{Admin: true, Domain: "pbx.example.com"}
	operator := accounts.Principal{Admin: true}
	tests := []struct {
		name string
		bind string
		p    accounts.Principal
		want bool
	}{
		{name: "aor", bind: "201@pbx.example.com", p: user, want: true},
		{name: "aor case", bind: "201@PBX.example.com", p: user, want: true},
		{name: "dn", bind: "uid=201,ou=users,dc=pbx,dc=example,dc=com", p: user, want: true},
		{name: "dn without ou", bind: "UID=201,DC=pbx,DC=example,DC=com", p: user, want: true},
		{name: "another user", bind: "202@pbx.example.com", p: user},
		{name: "another domain", bind: "uid=201,dc=b,dc=example", p: user},
		{name: "tenant admin by domain", bind: "pbx.example.com", p: admin, want: true},
		{name: "tenant admin by base dn", bind: "dc=pbx,dc=example,dc=com", p: admin, want: true},
		{name: "tenant admin elsewhere", bind: "b.example", p: admin},
		{name: "operator any served domain", bind: "b.example", p: operator, want: true},
		{name: "operator unserved domain", bind: "c.example", p: operator},
		{name: "user key as domain", bind: "pbx.example.com", p: user},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.want, s.bindNameFits(tt.bind, tt.p)) })
	}
}

func TestPagingCookie(t *testing.T) {
	c := pagingCookie{cursor: "abc\x01def", skip: 17}
	got, ok := decodeCookie(c.encode())
	require.True(t, ok)
	require.Equal(t, c, got)
	for _, bad := range []string{"", "!!", "YWJj"} {
		_, ok := decodeCookie([]byte(bad))
		require.False(t, ok, bad)
	}
}
