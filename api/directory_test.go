package api

import (
	"context"
	"encoding/json"
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
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// dirFixture is an API over a real directory.Service, real Keys and a real
// presence core, with one key per kind of caller.
type dirFixture struct {
	ts       *httptest.Server
	svc      *directory.Service
	keys     *accounts.Keys
	personal directory.Contact // owner's
	company  directory.Contact
	team     string // ID of the team contact of 202
	// API keys.
	owner, other, noCompany, foreign, admin, lookupOnly string
}

func newDirFixture(t *testing.T) *dirFixture {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	f := &dirFixture{svc: svc, keys: accounts.NewKeys(accounts.NewMemKeyStore())}
	mint := func(p accounts.Principal) string {
		key, _, err := f.keys.Mint(ctx, p)
		require.NoError(t, err)
		return key
	}
	f.owner = mint(accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}})
	f.other = mint(accounts.Principal{User: "202@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}})
	f.noCompany = mint(accounts.Principal{User: "203@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	f.foreign = mint(accounts.Principal{User: "301@other.example.org", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}})
	f.admin = mint(accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}})
	f.lookupOnly = mint(accounts.Principal{User: "204@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopeLookup}})

	admin := accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", LastName: "Silva"},
		{Extension: "202", Domain: "pbx.example.com", FirstName: "Bruno", LastName: "Costa"},
		{Extension: "203", Domain: "pbx.example.com", FirstName: "Carla", LastName: "Dias"},
	} {
		_, err := svc.ProvisionUser(ctx, admin, u)
		require.NoError(t, err)
	}
	f.team = directory.TeamContactID("202@pbx.example.com")
	f.personal, err = svc.Create(ctx, accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}},
		directory.Contact{Kind: directory.KindPersonal, FirstName: "José", LastName: "Müller", Phones: []directory.Phone{{Type: directory.PhoneMobile, Number: "+33 4 91 55 01 42"}}})
	require.NoError(t, err)
	f.company, err = svc.Create(ctx, admin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "Acme Plumbing", Phones: []directory.Phone{{Type: directory.PhoneWork, Number: "+1 415 555 0100"}}})
	require.NoError(t, err)

	_, err = core.Register(ctx, presence.NewAOR("202", "pbx.example.com"), presence.Registration{CallID: "c", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:202@10.0.0.6", Expires: time.Hour}}})
	require.NoError(t, err)
	_, err = core.SetStatus(ctx, presence.NewAOR("202", "pbx.example.com"), presence.UserStatus{Status: presence.StatusLunch, Note: "back at 2"})
	require.NoError(t, err)

	f.ts = httptest.NewServer(New(Deps{Presence: core, Keys: f.keys, Directory: svc, Subscriptions: subCount{}}, zerolog.Nop()))
	t.Cleanup(f.ts.Close)
	return f
}

// dirResponse is an answer with its body read.
type dirResponse struct {
	*http.Response
	body []byte
}

// json decodes the body as an object.
func (r dirResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(r.body, &out), "body %s", r.body)
	return out
}

// errorField returns error.<name> of an error body.
func (r dirResponse) errorField(t *testing.T, name string) string {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	require.True(t, ok, "no error object in %s", r.body)
	s, _ := e[name].(string)
	return s
}

// call sends a request with key as bearer token (none when empty); header
// holds extra header pairs.
func (f *dirFixture) call(t *testing.T, method, path, key string, body io.Reader, header ...string) dirResponse {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, body)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return dirResponse{Response: res, body: raw}
}

func (f *dirFixture) callJSON(t *testing.T, method, path, key, body string, header ...string) dirResponse {
	t.Helper()
	return f.call(t, method, path, key, strings.NewReader(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

// ids returns the contact IDs of a search answer, in order.
func ids(t *testing.T, r dirResponse) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.StatusCode, "body %s", r.body)
	var page struct {
		Items []struct {
			Contact directory.Contact `json:"contact"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(r.body, &page))
	out := []string{}
	for _, it := range page.Items {
		out = append(out, it.Contact.ID)
	}
	return out
}

func TestDirectoryAPIPermissions(t *testing.T) {
	f := newDirFixture(t)
	personal, company := "/v1/contacts/"+f.personal.ID, "/v1/contacts/"+f.company.ID
	newPersonal := `{"kind":"personal","first_name":"Zed","phones":[{"type":"mobile","number":"+44 20 7946 0000"}]}`
	newCompany := `{"kind":"company","domain":"pbx.example.com","company":"Globex","phones":[{"type":"work","number":"+1 212 555 0199"}]}`
	tests := []struct {
		name, method, path, key, body string
		want                          int
	}{
		// 401 only for a missing or unknown key.
		{name: "no key", method: "GET", path: personal, want: 401},
		{name: "unknown key", method: "GET", path: personal, key: "sbk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", want: 401},
		{name: "malformed key", method: "GET", path: personal, key: "hunter2", want: 401},

		// Personal contacts: the owner only, whatever the other's rights.
		{name: "owner reads personal", method: "GET", path: personal, key: f.owner, want: 200},
		{name: "other user cannot read personal", method: "GET", path: personal, key: f.other, want: 404},
		{name: "user without company cannot read personal", method: "GET", path: personal, key: f.noCompany, want: 404},
		{name: "admin cannot read personal", method: "GET", path: personal, key: f.admin, want: 404},
		{name: "other user cannot change personal", method: "PUT", path: personal, key: f.other, body: newPersonal, want: 404},
		{name: "admin cannot delete personal", method: "DELETE", path: personal, key: f.admin, want: 404},
		{name: "other user cannot mark personal", method: "PUT", path: personal + "/marks/favorite", key: f.other, want: 404},
		{name: "user creates personal", method: "POST", path: "/v1/contacts", key: f.noCompany, body: newPersonal, want: 201},
		{name: "admin key without user cannot create personal", method: "POST", path: "/v1/contacts", key: f.admin, body: newPersonal, want: 403},
		{name: "lookup-only key cannot create personal", method: "POST", path: "/v1/contacts", key: f.lookupOnly, body: newPersonal, want: 403},

		// Company contacts: read with company:read, write with company:write.
		{name: "user reads company", method: "GET", path: company, key: f.owner, want: 200},
		{name: "user without company permission", method: "GET", path: company, key: f.noCompany, want: 403},
		{name: "admin reads company", method: "GET", path: company, key: f.admin, want: 200},
		{name: "reader cannot create company", method: "POST", path: "/v1/contacts", key: f.owner, body: newCompany, want: 403},
		{name: "reader cannot change company", method: "PUT", path: company, key: f.owner, body: newCompany, want: 403},
		{name: "reader cannot delete company", method: "DELETE", path: company, key: f.owner, want: 403},
		{name: "writer creates company", method: "POST", path: "/v1/contacts", key: f.admin, body: newCompany, want: 201},
		{name: "user marks company contact", method: "PUT", path: company + "/marks/vip", key: f.owner, want: 200},

		// Team contacts: the same domain and users:admin; never edited.
		{name: "colleague reads team", method: "GET", path: "/v1/contacts/" + f.team, key: f.owner, want: 200},
		{name: "colleague without company reads team", method: "GET", path: "/v1/contacts/" + f.team, key: f.noCompany, want: 200},
		{name: "other domain cannot read team", method: "GET", path: "/v1/contacts/" + f.team, key: f.foreign, want: 404},
		{name: "admin reads team", method: "GET", path: "/v1/contacts/" + f.team, key: f.admin, want: 200},
		{name: "team contact is not edited directly", method: "PUT", path: "/v1/contacts/" + f.team, key: f.admin, body: newCompany, want: 403},

		// Search and export.
		{name: "lookup-only key cannot search", method: "GET", path: "/v1/contacts", key: f.lookupOnly, want: 403},
		{name: "admin cannot export personal", method: "GET", path: "/v1/contacts/export.csv?kind=personal", key: f.admin, want: 403},
		{name: "admin cannot export personal vcard", method: "GET", path: "/v1/contacts/export.vcf?kind=personal", key: f.admin, want: 403},
		{name: "user without company cannot export company", method: "GET", path: "/v1/contacts/export.csv?kind=company", key: f.noCompany, want: 403},
		{name: "reader exports company", method: "GET", path: "/v1/contacts/export.csv?kind=company", key: f.owner, want: 200},
		{name: "reader cannot import company", method: "POST", path: "/v1/contacts/import.csv?kind=company", key: f.owner, body: "company,phone_work\nX,123\n", want: 403},
		{name: "admin cannot import personal", method: "POST", path: "/v1/contacts/import.csv?kind=personal", key: f.admin, body: "first_name,phone_work\nX,123\n", want: 403},

		// Groups.
		{name: "user creates own group", method: "POST", path: "/v1/groups", key: f.owner, body: `{"name":"Suppliers"}`, want: 201},
		{name: "admin key without user cannot create own group", method: "POST", path: "/v1/groups", key: f.admin, body: `{"name":"Suppliers"}`, want: 403},
		{name: "user cannot create shared group", method: "POST", path: "/v1/shared-groups", key: f.owner, body: `{"domain":"pbx.example.com","name":"Sales"}`, want: 403},
		{name: "admin creates shared group", method: "POST", path: "/v1/shared-groups", key: f.admin, body: `{"domain":"pbx.example.com","name":"Sales"}`, want: 201},
		{name: "built-in group cannot go", method: "DELETE", path: "/v1/groups/favorite", key: f.owner, want: 403},
		{name: "unknown group", method: "DELETE", path: "/v1/groups/own:201@pbx.example.com:nope", key: f.owner, want: 404},

		// Users: users:admin only.
		{name: "user cannot list users", method: "GET", path: "/v1/users", key: f.owner, want: 403},
		{name: "user cannot read a user", method: "GET", path: "/v1/users/201@pbx.example.com", key: f.owner, want: 403},
		{name: "user cannot provision", method: "PUT", path: "/v1/users/205@pbx.example.com", key: f.owner, body: `{"first_name":"Eve"}`, want: 403},
		{name: "user cannot delete a user", method: "DELETE", path: "/v1/users/203@pbx.example.com?confirm=true", key: f.owner, want: 403},
		{name: "admin lists users", method: "GET", path: "/v1/users", key: f.admin, want: 200},
		{name: "admin reads a user", method: "GET", path: "/v1/users/201@pbx.example.com", key: f.admin, want: 200},
		{name: "admin reads an unknown user", method: "GET", path: "/v1/users/299@pbx.example.com", key: f.admin, want: 404},
		{name: "admin provisions", method: "PUT", path: "/v1/users/205@pbx.example.com", key: f.admin, body: `{"first_name":"Eve"}`, want: 201},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.callJSON(t, tc.method, tc.path, tc.key, tc.body, "If-Match", "*")
			require.Equal(t, tc.want, res.StatusCode, "body %s", res.body)
			switch {
			case tc.want == 401:
				assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Bearer")
				assert.Equal(t, "unauthenticated", res.errorField(t, "code"))
			case tc.want >= 400:
				assert.NotEmpty(t, res.errorField(t, "message"))
			}
		})
	}
}

func TestDirectoryAPIPersonalNeverLeaks(t *testing.T) {
	f := newDirFixture(t)
	// Search by name, by number, and unfiltered.
	for _, q := range []string{"?q=muller", "?q=550142", "", "?kind=personal"} {
		assert.Contains(t, ids(t, f.call(t, "GET", "/v1/contacts"+q, f.owner, nil)), f.personal.ID, "owner, query %q", q)
		for name, key := range map[string]string{"other": f.other, "no company": f.noCompany, "foreign": f.foreign, "admin": f.admin} {
			res := f.call(t, "GET", "/v1/contacts"+q, key, nil)
			if key == f.admin && q == "?kind=personal" {
				assert.Equal(t, 403, res.StatusCode, "an admin key has no personal contacts to list")
				continue
			}
			assert.NotContains(t, ids(t, res), f.personal.ID, "%s, query %q", name, q)
		}
	}
	// Exports: the owner's has the contact; another user's has only theirs.
	res := f.call(t, "GET", "/v1/contacts/export.csv", f.owner, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.Contains(t, string(res.body), "Müller")
	res = f.call(t, "GET", "/v1/contacts/export.csv?kind=personal", f.other, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.NotContains(t, string(res.body), "Müller")
	res = f.call(t, "GET", "/v1/contacts/export.vcf?kind=personal", f.other, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.NotContains(t, string(res.body), "Müller")
	// The company contact is not in a search without company:read.
	assert.NotContains(t, ids(t, f.call(t, "GET", "/v1/contacts?q=acme", f.noCompany, nil)), f.company.ID)
	assert.Contains(t, ids(t, f.call(t, "GET", "/v1/contacts?q=acme", f.owner, nil)), f.company.ID)
}

func TestDirectoryAPIETag(t *testing.T) {
	f := newDirFixture(t)
	path := "/v1/contacts/" + f.personal.ID
	res := f.call(t, "GET", path, f.owner, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, `"1"`, res.Header.Get("ETag"))

	update := `{"kind":"personal","first_name":"José","last_name":"Müller-Lopes","phones":[{"type":"mobile","number":"+33 4 91 55 01 42"}]}`
	tests := []struct {
		name, method, ifMatch, body string
		want                        int
		code                        string
		etag                        string
	}{
		{name: "put without If-Match", method: "PUT", body: update, want: 428, code: "precondition_required"},
		{name: "put with a stale version", method: "PUT", ifMatch: `"7"`, body: update, want: 412, code: "version_mismatch"},
		{name: "put with a malformed If-Match", method: "PUT", ifMatch: `W/"1"`, body: update, want: 400, code: "invalid"},
		{name: "put with the current version", method: "PUT", ifMatch: `"1"`, body: update, want: 200, etag: `"2"`},
		{name: "put again with the old version", method: "PUT", ifMatch: `"1"`, body: update, want: 412, code: "version_mismatch"},
		{name: "put with an invalid field", method: "PUT", ifMatch: `"2"`, body: `{"kind":"personal","first_name":"J","phones":[{"type":"pager","number":"123"}]}`, want: 400, code: "invalid"},
		{name: "put with an unknown field", method: "PUT", ifMatch: `"2"`, body: `{"first_name":"J","nickname":"x"}`, want: 400, code: "invalid"},
		{name: "delete without If-Match", method: "DELETE", want: 428, code: "precondition_required"},
		{name: "delete with a stale version", method: "DELETE", ifMatch: `"1"`, want: 412, code: "version_mismatch"},
		{name: "delete with the current version", method: "DELETE", ifMatch: `"2"`, want: 204},
		{name: "delete again", method: "DELETE", ifMatch: `"2"`, want: 404, code: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ifMatch != "" {
				hdr = []string{"If-Match", tc.ifMatch}
			}
			res := f.callJSON(t, tc.method, path, f.owner, tc.body, hdr...)
			require.Equal(t, tc.want, res.StatusCode, "body %s", res.body)
			if tc.code != "" {
				assert.Equal(t, tc.code, res.errorField(t, "code"))
			}
			if tc.etag != "" {
				assert.Equal(t, tc.etag, res.Header.Get("ETag"))
				assert.Equal(t, "Müller-Lopes", res.json(t)["contact"].(map[string]any)["last_name"])
			}
		})
	}
	// The field of a validation error is named.
	res = f.callJSON(t, "POST", "/v1/contacts", f.owner, `{"kind":"personal","first_name":"J","phones":[{"type":"pager","number":"123"}]}`)
	require.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "phones[0].type", res.errorField(t, "field"))
}

func TestDirectoryAPIMarks(t *testing.T) {
	f := newDirFixture(t)
	marks := "/v1/contacts/" + f.personal.ID + "/marks/"
	res := f.call(t, "PUT", marks+"favorite", f.owner, nil)
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	assert.Equal(t, []any{"favorite"}, res.json(t)["marks"])

	res = f.call(t, "PUT", marks+"blocked", f.owner, nil)
	require.Equal(t, 409, res.StatusCode, "body %s", res.body)
	assert.Equal(t, "conflict", res.errorField(t, "code"))
	assert.Contains(t, res.errorField(t, "message"), "favorite")

	require.Equal(t, 200, f.call(t, "DELETE", marks+"favorite", f.owner, nil).StatusCode)
	require.Equal(t, 200, f.call(t, "PUT", marks+"blocked", f.owner, nil).StatusCode)
	res = f.call(t, "PUT", marks+"vip", f.owner, nil)
	require.Equal(t, 409, res.StatusCode, "body %s", res.body)
	assert.Contains(t, res.errorField(t, "message"), "blocked")

	// Own groups and favorites-first ordering.
	res = f.callJSON(t, "POST", "/v1/groups", f.owner, `{"name":"Plumbers"}`)
	require.Equal(t, 201, res.StatusCode, "body %s", res.body)
	group := res.json(t)["id"].(string)
	require.Equal(t, 200, f.call(t, "PUT", "/v1/contacts/"+f.company.ID+"/marks/"+group, f.owner, nil).StatusCode)
	assert.Equal(t, []string{f.company.ID}, ids(t, f.call(t, "GET", "/v1/contacts?group="+group, f.owner, nil)))
	require.Equal(t, 200, f.call(t, "PUT", "/v1/contacts/"+f.company.ID+"/marks/favorite", f.owner, nil).StatusCode)
	all := ids(t, f.call(t, "GET", "/v1/contacts", f.owner, nil))
	require.NotEmpty(t, all)
	assert.Equal(t, f.company.ID, all[0], "favorites first")
	// Groups list holds the built-in and own groups.
	res = f.call(t, "GET", "/v1/groups", f.owner, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.Contains(t, string(res.body), `"id":"favorite"`)
	assert.Contains(t, string(res.body), group)
	require.Equal(t, 204, f.call(t, "DELETE", "/v1/groups/"+group, f.owner, nil).StatusCode)
	// Another user does not see the group.
	assert.Equal(t, 404, f.call(t, "DELETE", "/v1/groups/"+group, f.other, nil).StatusCode)
}

func TestDirectoryAPISearchPaging(t *testing.T) {
	f := newDirFixture(t)
	for _, n := range []string{"Alpha", "Bravo", "Charlie"} {
		res := f.callJSON(t, "POST", "/v1/contacts", f.other, `{"kind":"personal","first_name":"`+n+`","emails":["`+strings.ToLower(n)+`@example.com"]}`)
		require.Equal(t, 201, res.StatusCode, "body %s", res.body)
	}
	res := f.call(t, "GET", "/v1/contacts?kind=personal&limit=2", f.other, nil)
	require.Equal(t, 200, res.StatusCode)
	first := res.json(t)
	next, _ := first["next"].(string)
	require.NotEmpty(t, next)
	assert.Len(t, ids(t, res), 2)
	res = f.call(t, "GET", "/v1/contacts?kind=personal&limit=2&cursor="+next, f.other, nil)
	assert.Len(t, ids(t, res), 1)
	assert.Equal(t, 400, f.call(t, "GET", "/v1/contacts?limit=abc", f.other, nil).StatusCode)
	res = f.call(t, "GET", "/v1/contacts?cursor=!!!", f.other, nil)
	require.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "cursor", res.errorField(t, "field"))
}

func TestDirectoryAPITeamPresence(t *testing.T) {
	f := newDirFixture(t)
	res := f.call(t, "GET", "/v1/contacts/"+f.team, f.owner, nil)
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	p, ok := res.json(t)["presence"].(map[string]any)
	require.True(t, ok, "body %s", res.body)
	assert.Equal(t, "idle", p["line"])
	assert.Equal(t, "lunch", p["status"])
	assert.Equal(t, "back at 2", p["note"])
	assert.NotEmpty(t, p["status_label"])

	res = f.call(t, "GET", "/v1/contacts?q=bruno", f.owner, nil)
	require.Equal(t, 200, res.StatusCode)
	items := res.json(t)["items"].([]any)
	require.Len(t, items, 1)
	assert.Contains(t, items[0], "presence")

	// Non-team contacts carry none.
	res = f.call(t, "GET", "/v1/contacts/"+f.company.ID, f.owner, nil)
	assert.NotContains(t, res.json(t), "presence")
}

func TestDirectoryAPICSV(t *testing.T) {
	f := newDirFixture(t)
	csv := "first_name,last_name,phone_mobile,email,groups\n" +
		"Lina,Haddad,+33 6 12 34 56 78,lina@example.com,Favorite\n" +
		"Bad,Number,12x34,,\n" +
		"Omar,,+33 6 98 76 54 32,,\n"

	res := f.call(t, "POST", "/v1/contacts/import.csv?dry_run=true", f.other, strings.NewReader(csv), "Content-Type", "text/csv")
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	var rep directory.ImportReport
	require.NoError(t, json.Unmarshal(res.body, &rep))
	assert.True(t, rep.DryRun)
	assert.Equal(t, 2, rep.Imported)
	require.Len(t, rep.Errors, 1)
	assert.Equal(t, 3, rep.Errors[0].Line)
	assert.Equal(t, "phone_mobile", rep.Errors[0].Column)
	assert.Empty(t, ids(t, f.call(t, "GET", "/v1/contacts?q=haddad", f.other, nil)), "dry run writes nothing")

	res = f.call(t, "POST", "/v1/contacts/import.csv?kind=personal", f.other, strings.NewReader(csv))
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	rep = directory.ImportReport{}
	require.NoError(t, json.Unmarshal(res.body, &rep))
	assert.Equal(t, 2, rep.Imported)
	assert.Len(t, ids(t, f.call(t, "GET", "/v1/contacts?q=haddad&group=favorite", f.other, nil)), 1)

	// Again: duplicates are skipped, or updated on request.
	res = f.call(t, "POST", "/v1/contacts/import.csv", f.other, strings.NewReader(csv))
	require.NoError(t, json.Unmarshal(res.body, &rep))
	assert.Equal(t, 2, rep.Skipped)
	res = f.call(t, "POST", "/v1/contacts/import.csv?on_duplicate=update", f.other, strings.NewReader(csv))
	rep = directory.ImportReport{}
	require.NoError(t, json.Unmarshal(res.body, &rep))
	assert.Equal(t, 2, rep.Updated)

	for _, tc := range []struct {
		name, query, body, field string
	}{
		{name: "bad dry_run", query: "?dry_run=maybe", body: csv, field: "dry_run"},
		{name: "bad on_duplicate", query: "?on_duplicate=merge", body: csv, field: "on_duplicate"},
		{name: "bad kind", query: "?kind=team", body: csv, field: "kind"},
		{name: "no header", query: "", body: "", field: "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.call(t, "POST", "/v1/contacts/import.csv"+tc.query, f.other, strings.NewReader(tc.body))
			require.Equal(t, 400, res.StatusCode, "body %s", res.body)
			assert.Equal(t, tc.field, res.errorField(t, "field"))
		})
	}

	// Export: CSV attachment with the template header.
	res = f.call(t, "GET", "/v1/contacts/export.csv?kind=personal", f.other, nil)
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Equal(t, `attachment; filename="contacts-personal.csv"`, res.Header.Get("Content-Disposition"))
	assert.True(t, strings.HasPrefix(string(res.body), directory.CSVHeader+"\n"), string(res.body))
	assert.Contains(t, string(res.body), "Haddad")
}

func TestDirectoryAPIBodyLimits(t *testing.T) {
	f := newDirFixture(t)
	big := strings.Repeat("x", maxImportBody)
	t.Run("import with content length", func(t *testing.T) {
		res := f.call(t, "POST", "/v1/contacts/import.csv", f.other, strings.NewReader("notes\n"+big))
		require.Equal(t, 413, res.StatusCode, "body %.200s", res.body)
		assert.Equal(t, "too_large", res.errorField(t, "code"))
	})
	t.Run("chunked import", func(t *testing.T) {
		// A plain io.Reader hides the length, so the request is chunked.
		body := io.MultiReader(strings.NewReader("first_name,notes\nx,"), strings.NewReader(big))
		res := f.call(t, "POST", "/v1/contacts/import.csv", f.other, body)
		require.Equal(t, 413, res.StatusCode, "body %.200s", res.body)
	})
	t.Run("json", func(t *testing.T) {
		res := f.callJSON(t, "POST", "/v1/contacts", f.other, `{"kind":"personal","notes":"`+strings.Repeat("x", maxJSONBody)+`"}`)
		require.Equal(t, 413, res.StatusCode, "body %.200s", res.body)
	})
	t.Run("trailing json", func(t *testing.T) {
		res := f.callJSON(t, "POST", "/v1/groups", f.other, `{"name":"a"}{"name":"b"}`)
		require.Equal(t, 400, res.StatusCode, "body %s", res.body)
	})
}

func TestDirectoryAPIVCard(t *testing.T) {
	f := newDirFixture(t)
	card := "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Haddad;Lina;;;\r\nFN:Lina Haddad\r\nTEL;TYPE=cell:+33 6 12 34 56 78\r\nEND:VCARD\r\n"
	res := f.call(t, "POST", "/v1/contacts/import.vcf", f.other, strings.NewReader(card), "Content-Type", "text/vcard")
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	assert.EqualValues(t, 1, res.json(t)["imported"])

	res = f.call(t, "GET", "/v1/contacts/export.vcf?version=3.0", f.other, nil)
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	assert.Equal(t, "text/vcard; charset=utf-8", res.Header.Get("Content-Type"))
	assert.Contains(t, string(res.body), "VERSION:3.0")
	assert.Contains(t, string(res.body), "Haddad")
	res = f.call(t, "GET", "/v1/contacts/export.vcf?version=2.1", f.other, nil)
	require.Equal(t, 400, res.StatusCode)
	assert.Equal(t, "version", res.errorField(t, "field"))
}

func TestDirectoryAPIUsers(t *testing.T) {
	f := newDirFixture(t)
	const pw = "s3cret-Passw0rd"
	res := f.callJSON(t, "PUT", "/v1/users/210@PBX.example.com", f.admin, `{"first_name":"Rui","email":"rui@example.com","sip_password":"`+pw+`"}`)
	require.Equal(t, 201, res.StatusCode, "body %s", res.body)
	body := res.json(t)
	assert.Equal(t, "210@pbx.example.com", body["aor"])
	assert.Equal(t, true, body["sip_credentials"])
	ha1, ok, err := f.svc.HA1(context.Background(), "210", "pbx.example.com", "SHA-256")
	require.NoError(t, err)
	require.True(t, ok)
	for _, secret := range []string{pw, ha1} {
		assert.NotContains(t, string(res.body), secret)
	}
	md5, _, _ := f.svc.HA1(context.Background(), "210", "pbx.example.com", "MD5")
	for _, path := range []string{"/v1/users", "/v1/users/210@pbx.example.com"} {
		res := f.call(t, "GET", path, f.admin, nil)
		require.Equal(t, 200, res.StatusCode)
		assert.Contains(t, string(res.body), `"sip_credentials":true`)
		for _, secret := range []string{pw, ha1, md5} {
			assert.NotContains(t, string(res.body), secret)
		}
	}

	// Updating: 200; bad input: 400 with the field.
	res = f.callJSON(t, "PUT", "/v1/users/210@pbx.example.com", f.admin, `{"first_name":"Rui","last_name":"Alves"}`)
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	assert.Equal(t, true, res.json(t)["sip_credentials"], "kept without a new password")
	for _, tc := range []struct{ name, path, body, field string }{
		{name: "short password", path: "/v1/users/210@pbx.example.com", body: `{"first_name":"Rui","sip_password":"short"}`, field: "sip_password"},
		{name: "no name", path: "/v1/users/210@pbx.example.com", body: `{}`, field: "name"},
		{name: "bad extension", path: "/v1/users/ab@pbx.example.com", body: `{"first_name":"Rui"}`, field: "extension"},
		{name: "no domain", path: "/v1/users/210", body: `{"first_name":"Rui"}`, field: "aor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.callJSON(t, "PUT", tc.path, f.admin, tc.body)
			require.Equal(t, 400, res.StatusCode, "body %s", res.body)
			assert.Equal(t, tc.field, res.errorField(t, "field"))
			assert.NotContains(t, string(res.body), "short\"")
		})
	}
	res = f.callJSON(t, "PUT", "/v1/users/210@pbx.example.com", f.admin, `{"first_name":"Rui","extension":"211"}`)
	require.Equal(t, 400, res.StatusCode, "unknown field")

	// Deleting a user with dependents needs confirm=true.
	require.Equal(t, 200, f.call(t, "PUT", "/v1/contacts/"+directory.TeamContactID("210@pbx.example.com")+"/marks/favorite", f.owner, nil).StatusCode)
	res = f.call(t, "DELETE", "/v1/users/210@pbx.example.com", f.admin, nil)
	require.Equal(t, 409, res.StatusCode, "body %s", res.body)
	assert.Equal(t, "confirmation_required", res.errorField(t, "code"))
	dep, ok := res.json(t)["dependents"].(map[string]any)
	require.True(t, ok, "body %s", res.body)
	assert.EqualValues(t, 1, dep["marked_by"])
	subs, ok := res.json(t)["subscriptions"].(map[string]any)
	require.True(t, ok, "body %s", res.body)
	assert.EqualValues(t, 3, subs["watched_by"], "BLF keys watching 210 are reported")
	assert.EqualValues(t, 1, subs["watching"])
	require.Equal(t, 200, f.call(t, "GET", "/v1/users/210@pbx.example.com", f.admin, nil).StatusCode, "nothing deleted")
	res = f.call(t, "DELETE", "/v1/users/210@pbx.example.com?confirm=true", f.admin, nil)
	require.Equal(t, 200, res.StatusCode, "body %s", res.body)
	assert.Equal(t, 404, f.call(t, "GET", "/v1/users/210@pbx.example.com", f.admin, nil).StatusCode)
	_, ok, _ = f.svc.HA1(context.Background(), "210", "pbx.example.com", "MD5")
	assert.False(t, ok)
}

func TestDirectoryAPIRevokedKey(t *testing.T) {
	f := newDirFixture(t)
	key, info, err := f.keys.Mint(context.Background(), accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	require.NoError(t, err)
	require.Equal(t, 200, f.call(t, "GET", "/v1/contacts/"+f.personal.ID, key, nil).StatusCode)
	require.Equal(t, 200, f.call(t, "GET", "/v1/contacts/"+f.personal.ID+"?key="+key, "", nil).StatusCode, "key in the query")
	require.NoError(t, f.keys.Revoke(context.Background(), info.ID))
	assert.Equal(t, 401, f.call(t, "GET", "/v1/contacts/"+f.personal.ID, key, nil).StatusCode)
}

// subCount is a fake of our own subscriptionCounter: 210 is watched by
// three BLF keys and watches one extension.
type subCount struct{}

func (subCount) SubscriptionsOf(aor presence.AOR) (int, int) {
	if aor == presence.NewAOR("210", "pbx.example.com") {
		return 3, 1
	}
	return 0, 0
}
