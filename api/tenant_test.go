package api

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/callerid"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// tenantEnv serves two tenants, a.example and b.example, over a real
// directory, Lookup and presence core. 202@a.example keeps "Secret Lover"
// as a personal contact; a.example has the company contact "Alpha
// Plumbing".
type tenantEnv struct {
	ts     *httptest.Server
	core   *presence.Service
	alpha  directory.Contact
	secret directory.Contact
}

var tenantKeys = keys{
	"a201":     {User: "201@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}},
	"a202":     {User: "202@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}},
	"b301":     {User: "301@b.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}},
	"adminA":   {Admin: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite, accounts.ScopeLookup}},
	"adminB":   {Admin: true, Domain: "b.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite, accounts.ScopeLookup}},
	"operator": {Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}},
	"pbxB":     {Domain: "b.example", PBX: true, Scopes: []accounts.Scope{accounts.ScopeLookup}},
}

func newTenantEnv(t *testing.T) *tenantEnv {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{Domains: []string{"a.example", "b.example"}}, zerolog.Nop())
	require.NoError(t, err)
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "a.example", FirstName: "Ana"},
		{Extension: "202", Domain: "a.example", FirstName: "Bruno"},
		{Extension: "301", Domain: "b.example", FirstName: "Bea"},
	} {
		_, err := svc.ProvisionUser(ctx, tenantKeys["operator"], u)
		require.NoError(t, err)
	}
	env := &tenantEnv{}
	env.alpha, err = svc.Create(ctx, tenantKeys["adminA"], directory.Contact{Kind: directory.KindCompany, Company: "Alpha Plumbing",
		Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	env.secret, err = svc.Create(ctx, tenantKeys["a202"], directory.Contact{Kind: directory.KindPersonal, FirstName: "Secret", LastName: "Lover",
		Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "06 99 88 77 66"}}})
	require.NoError(t, err)
	lk, err := callerid.New(ctx, svc, callerid.Config{DefaultRegion: "FR", DefaultDomain: "a.example"}, zerolog.Nop())
	require.NoError(t, err)
	env.core = presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	srv := New(Deps{Presence: env.core, Keys: tenantKeys, Directory: svc}, zerolog.Nop())
	srv.SetCallerID(lk)
	env.core.Watch(srv.Watch)
	env.ts = httptest.NewServer(srv)
	t.Cleanup(env.ts.Close)
	return env
}

func (e *tenantEnv) do(t *testing.T, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if method == http.MethodPut {
		req.Header.Set("If-Match", "*")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestTenantIsolationOverHTTP(t *testing.T) {
	env := newTenantEnv(t)
	tests := []struct {
		name, method, path, key, body string
		want                          int
		absent                        string // must not appear in the body
		present                       string
	}{
		{name: "own tenant searches", method: "GET", path: "/v1/contacts?q=alpha", key: "a201", want: 200, present: env.alpha.ID},
		{name: "other tenant's user searches", method: "GET", path: "/v1/contacts?q=alpha", key: "b301", want: 200, absent: env.alpha.ID},
		{name: "other tenant's user searches the number", method: "GET", path: "/v1/contacts?q=0491550142", key: "b301", want: 200, absent: "Alpha"},
		{name: "other tenant's user gets it", method: "GET", path: "/v1/contacts/" + env.alpha.ID, key: "b301", want: 404, absent: "Alpha"},
		{name: "other tenant's user looks it up", method: "GET", path: "/v1/lookup?number=0491550142", key: "b301", want: 404, absent: "Alpha"},
		{name: "other tenant's PBX looks it up", method: "GET", path: "/v1/lookup?number=0491550142&callee=301", key: "pbxB", want: 404, absent: "Alpha"},
		{name: "other tenant's PBX names a callee of a", method: "GET", path: "/v1/lookup?number=0491550142&callee=201@a.example", key: "pbxB", want: 403, absent: "Alpha"},
		{name: "other tenant's phonebook", method: "GET", path: "/v1/phonebook/yealink", key: "b301", want: 200, absent: "Alpha"},
		{name: "other tenant's export", method: "GET", path: "/v1/contacts/export.csv?kind=company", key: "b301", want: 200, absent: "Alpha"},
		{name: "own tenant looks it up", method: "GET", path: "/v1/lookup?number=0491550142&format=text", key: "a201", want: 200, present: "Alpha Plumbing"},
		{name: "tenant admin writes another domain", method: "POST", path: "/v1/contacts", key: "adminB", want: 403,
			body: `{"kind":"company","domain":"a.example","company":"Intruder","emails":["x@b.example"]}`},
		{name: "tenant admin changes another domain's contact", method: "PUT", path: "/v1/contacts/" + env.alpha.ID, key: "adminB", want: 404,
			body: `{"kind":"company","company":"Defaced","emails":["x@b.example"]}`},
		{name: "operator must name the domain", method: "POST", path: "/v1/contacts", key: "operator", want: 400, present: `"field":"domain"`,
			body: `{"kind":"company","company":"Nowhere","emails":["x@b.example"]}`},
		{name: "operator names it", method: "POST", path: "/v1/contacts", key: "operator", want: 201, present: `"domain":"b.example"`,
			body: `{"kind":"company","domain":"b.example","company":"Beta","emails":["x@b.example"]}`},
		{name: "operator imports without a domain", method: "POST", path: "/v1/contacts/import.csv?kind=company", key: "operator", want: 400,
			body: directory.CSVHeader + "\nX,,,,,0123,\n"},
		{name: "operator imports naming it", method: "POST", path: "/v1/contacts/import.csv?kind=company&domain=b.example", key: "operator", want: 200,
			body: directory.CSVHeader + "\nX,,,,,0123,\n", present: `"imported":1`},
		{name: "tenant admin lists users", method: "GET", path: "/v1/users", key: "adminB", want: 200, present: "301@b.example", absent: "a.example"},
		{name: "tenant admin provisions another domain", method: "PUT", path: "/v1/users/209@a.example", key: "adminB", want: 403, body: `{"first_name":"Eve"}`},
		{name: "tenant admin reads presence of another domain", method: "GET", path: "/v1/presence/201@a.example", key: "adminB", want: 403},
		{name: "tenant admin sets status in another domain", method: "PUT", path: "/v1/presence/201@a.example/status", key: "adminB", want: 403, body: `{"status":"dnd"}`},
		{name: "tenant admin streams another domain", method: "GET", path: "/v1/presence/stream?domain=a.example", key: "adminB", want: 403},
		{name: "user streams another domain", method: "GET", path: "/v1/presence/stream?domain=a.example", key: "b301", want: 403},
		{name: "tenant admin reads its own", method: "GET", path: "/v1/presence/301@b.example", key: "adminB", want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := env.do(t, tt.method, tt.path, tt.key, tt.body)
			assert.Equal(t, tt.want, code, body)
			if tt.absent != "" {
				assert.NotContains(t, body, tt.absent)
			}
			if tt.present != "" {
				assert.Contains(t, body, tt.present)
			}
		})
	}
}

// TestPersonalCallerNameReachesOnlyTheOwner rings 202 from the number of
// its personal contact. The shared view carries only the number (the core
// stores what the caller resolver allows); 202's own GET and stream name
// the caller, a colleague's never do.
func TestPersonalCallerNameReachesOnlyTheOwner(t *testing.T) {
	env := newTenantEnv(t)
	ctx := context.Background()
	aor := presence.NewAOR("202", "a.example")

	// Both start streaming before the call.
	streams := map[string]*bufio.Reader{}
	for _, key := range []string{"a201", "a202"} {
		req, err := http.NewRequestWithContext(ctx, "GET", env.ts.URL+"/v1/presence/stream?aor=202@a.example", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		require.Equal(t, 200, res.StatusCode)
		streams[key] = bufio.NewReader(res.Body)
	}

	_, err := env.core.Publish(ctx, aor, presence.Publish{Event: presence.EventDialog, Expires: time.Minute, Body: &presence.PublishBody{
		Dialogs: []presence.Dialog{{ID: "d1", CallID: "c1", Direction: presence.DirectionRecipient, State: presence.DialogEarly,
			Remote: presence.Party{URI: "sip:0699887766@pbx"}}},
	}})
	require.NoError(t, err)

	code, body := env.do(t, "GET", "/v1/presence/202@a.example", "a201", "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, `"ringing"`)
	assert.Contains(t, body, "0699887766", "the colleague sees the number")
	assert.NotContains(t, body, "Secret")
	assert.NotContains(t, body, env.secret.ID)
	code, body = env.do(t, "GET", "/v1/presence?aor=202@a.example", "a201", "")
	require.Equal(t, 200, code)
	assert.NotContains(t, body, "Secret")

	code, body = env.do(t, "GET", "/v1/presence/202@a.example", "a202", "")
	require.Equal(t, 200, code)
	assert.Contains(t, body, "Secret Lover", "the owner sees its own contact's name")
	assert.Contains(t, body, env.secret.ID)

	event := func(key string) string {
		for {
			line, err := streams[key].ReadString('\n')
			require.NoError(t, err)
			if strings.HasPrefix(line, "data: ") {
				return line
			}
		}
	}
	colleague := event("a201")
	assert.Contains(t, colleague, "ringing")
	assert.NotContains(t, colleague, "Secret")
	assert.NotContains(t, colleague, env.secret.ID)
	assert.Contains(t, event("a202"), "Secret Lover")
}
