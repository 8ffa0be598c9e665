package ldap

import (
	"context"
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
)

// directoryWith returns a Service over a MemStore holding n company
// contacts of pbx.example.com, one of b.example and a personal contact of
// 201 and of 202.
func directoryWith(t testing.TB, n int) *directory.Service {
	t.Helper()
	ctx := context.Background()
	store := directory.NewMemStore()
	var batch directory.Batch
	for i := range n {
		batch.Contacts = append(batch.Contacts, directory.ContactWrite{Contact: directory.Contact{
			ID: fmt.Sprintf("co-%05d", i), Kind: directory.KindCompany, Domain: "pbx.example.com",
			FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last%05d", i), Company: "Acme",
			Phones: []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("+1 415 55%05d", i)}},
		}})
	}
	batch.Contacts = append(batch.Contacts,
		directory.ContactWrite{Contact: directory.Contact{ID: "other", Kind: directory.KindCompany, Domain: "b.example",
			FirstName: "Bob", Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+1 212 555 0100"}}}},
		directory.ContactWrite{Contact: directory.Contact{ID: "p201", Kind: directory.KindPersonal, Owner: "201@pbx.example.com",
			FirstName: "Dave", Phones: []directory.Phone{{Type: directory.PhoneHome, Number: "415 555 0142"}}}},
		directory.ContactWrite{Contact: directory.Contact{ID: "p202", Kind: directory.KindPersonal, Owner: "202@pbx.example.com",
			FirstName: "Eve", Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "415 555 0166"}}}},
	)
	_, err := store.Apply(ctx, batch)
	require.NoError(t, err)
	svc, err := directory.New(ctx, store, directory.Config{Domains: []string{"pbx.example.com", "b.example"}}, zerolog.Nop())
	require.NoError(t, err)
	return svc
}

func findAll(t testing.TB, s *Server, p accounts.Principal, domain, filter string, max int, start pagingCookie) (ids []string, rest pagingCookie, more bool) {
	t.Helper()
	f, err := parseFilter(filter)
	require.NoError(t, err)
	rest, more, err = s.find(context.Background(), p, domain, f, max, start, func(e *entry) error {
		ids = append(ids, e.c.ID)
		return nil
	})
	require.NoError(t, err)
	return ids, rest, more
}

var user201 = accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}}

// TestFindPagesAcrossDirectoryPages pages through 1,203 entries, more
// than two directory.Search pages, 300 at a time: every visible contact
// once, never 202's personal one nor b.example's.
func TestFindPagesAcrossDirectoryPages(t *testing.T) {
	s, err := New(Config{Domains: []string{"pbx.example.com", "b.example"}, Region: "US"}, directoryWith(t, 1201), nil, zerolog.Nop())
	require.NoError(t, err)
	seen := map[string]int{}
	cookie, pages := pagingCookie{}, 0
	for {
		ids, rest, more := findAll(t, s, user201, "pbx.example.com", "(objectClass=*)", 300, cookie)
		pages++
		require.LessOrEqual(t, len(ids), 300)
		for _, id := range ids {
			seen[id]++
		}
		if !more {
			break
		}
		// The cookie survives its encoding, as a client returns it.
		var ok bool
		cookie, ok = decodeCookie(rest.encode())
		require.True(t, ok)
	}
	require.Equal(t, 5, pages)
	require.Len(t, seen, 1202) // 1201 company + own personal
	for id, n := range seen {
		require.Equal(t, 1, n, id)
	}
	require.Contains(t, seen, "p201")
	require.NotContains(t, seen, "p202")
	require.NotContains(t, seen, "other")
}

func TestFindNumberAndVisibility(t *testing.T) {
	s, err := New(Config{Domains: []string{"pbx.example.com", "b.example"}, Region: "US"}, directoryWith(t, 50), nil, zerolog.Nop())
	require.NoError(t, err)
	yealink := "(|(telephoneNumber=%s)(mobile=%s)(homePhone=%s))"
	num := func(n string) string { return fmt.Sprintf(yealink, n, n, n) }

	ids, _, _ := findAll(t, s, user201, "pbx.example.com", num(`\28415\29 550-0042`), 10, pagingCookie{})
	require.Equal(t, []string{"co-00042"}, ids)
	ids, _, _ = findAll(t, s, user201, "pbx.example.com", num("+14155550166"), 10, pagingCookie{})
	require.Empty(t, ids, "202's personal contact")
	ids, _, _ = findAll(t, s, user201, "pbx.example.com", num("+14155550142"), 10, pagingCookie{})
	require.Equal(t, []string{"p201"}, ids)

	_, _, more := findAll(t, s, user201, "pbx.example.com", "(o=Acme)", 10, pagingCookie{})
	require.True(t, more, "50 matches past a limit of 10")

	pbx := accounts.Principal{Domain: "pbx.example.com", PBX: true, Scopes: []accounts.Scope{accounts.ScopeLookup}}
	f, err := parseFilter("(cn=*)")
	require.NoError(t, err)
	_, _, err = s.find(context.Background(), pbx, "pbx.example.com", f, 10, pagingCookie{}, func(*entry) error { return nil })
	require.ErrorIs(t, err, directory.ErrForbidden, "a pbx key searches nothing, as in the API")
}

// BenchmarkFind measures one phone search over 10,000 company contacts:
// a name prefix (narrowed by the directory's index) and a caller number
// (every visible contact examined).
func BenchmarkFind(b *testing.B) {
	s, err := New(Config{Domains: []string{"pbx.example.com"}, Region: "US"}, directoryWith(b, 10_000), nil, zerolog.Nop())
	require.NoError(b, err)
	for _, bc := range []struct{ name, filter string }{
		{"yealink name", "(|(cn=Last0424*)(sn=Last0424*))"},
		{"yealink number", "(|(telephoneNumber=+14155504242)(mobile=+14155504242)(homePhone=+14155504242))"},
	} {
		f, err := parseFilter(bc.filter)
		require.NoError(b, err)
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				n := 0
				if _, _, err := s.find(context.Background(), user201, "pbx.example.com", f, 500, pagingCookie{}, func(*entry) error { n++; return nil }); err != nil || n == 0 {
					b.Fatal(err, n)
				}
			}
		})
	}
}

func TestFindRefusesForgedCookie(t *testing.T) {
	s, err := New(Config{Domains: []string{"pbx.example.com"}, Region: "US"}, directoryWith(t, 3), nil, zerolog.Nop())
	require.NoError(t, err)
	f, err := parseFilter("(cn=*)")
	require.NoError(t, err)
	_, _, err = s.find(context.Background(), user201, "pbx.example.com", f, 10, pagingCookie{cursor: "not-a-cursor"}, func(*entry) error { return nil })
	var fe *directory.FieldError
	require.ErrorAs(t, err, &fe)
}
