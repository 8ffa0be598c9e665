package api

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden files")

var (
	cidAdmin = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}
	cidAlice = accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead, accounts.ScopeLookup}}
	cidBob   = accounts.Principal{User: "202@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}}
	cidKeys  = keys{
		"pbx": {Domain: "pbx.example.com", PBX: true, Scopes: []accounts.Scope{accounts.ScopeLookup}},
		// A tenant admin's and an operator's lookup keys: no personal names.
		"tenant":   {Admin: true, Domain: "pbx.example.com", Scopes: []accounts.Scope{accounts.ScopeLookup, accounts.ScopeUsersAdmin}},
		"operator": {Admin: true, Scopes: []accounts.Scope{accounts.ScopeLookup, accounts.ScopeUsersAdmin}},
		// Another tenant's PBX.
		"otherPBX": {Domain: "other.example.org", PBX: true, Scopes: []accounts.Scope{accounts.ScopeLookup}},
		"alice":    cidAlice,
		"bob":      cidBob,
		"admin":    cidAdmin,
	}
)

type cidEnv struct {
	srv  *Server
	ts   *httptest.Server
	svc  *directory.Service
	core *presence.Service
	ids  map[string]string
}

// newCallerIDEnv builds a directory with users, personal and company
// contacts and marks, a Lookup over it, and the API. The Lookup is set
// only when withLookup is true.
func newCallerIDEnv(t *testing.T, withLookup bool) *cidEnv {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	env := &cidEnv{svc: svc, ids: map[string]string{}}
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "pbx.example.com", FirstName: "Alice", LastName: "Martin"},
		{Extension: "202", Domain: "pbx.example.com", FirstName: "Bob", LastName: "Durand"},
		{Extension: "203", Domain: "pbx.example.com", FirstName: "Chloé", LastName: "Lévy"},
	} {
		_, err := svc.ProvisionUser(ctx, cidAdmin, u)
		require.NoError(t, err)
	}
	create := func(key string, p accounts.Principal, c directory.Contact, mark string) {
		got, err := svc.Create(ctx, p, c)
		require.NoError(t, err)
		env.ids[key] = got.ID
		if mark != "" {
			require.NoError(t, svc.Mark(ctx, p, got.ID, mark, true))
		}
	}
	phones := func(nums ...string) []directory.Phone {
		types := []directory.PhoneType{directory.PhoneWork, directory.PhoneMobile, directory.PhoneHome}
		var out []directory.Phone
		for i, n := range nums {
			out = append(out, directory.Phone{Type: types[i%len(types)], Number: n})
		}
		return out
	}
	create("acme", cidAdmin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", Company: "ACME", Phones: phones("+33 4 91 55 01 42")}, "")
	create("maman", cidAlice, directory.Contact{Kind: directory.KindPersonal, FirstName: "Maman", Phones: phones("04 91 55 01 42")}, directory.GroupBlocked)
	create("tom", cidAlice, directory.Contact{Kind: directory.KindPersonal, FirstName: `Tom & "Jerry"`, LastName: "<O'Brien>", Company: "Cartoons",
		Phones: phones("+44 20 7183 8750", "07700 900123")}, directory.GroupFavorite)
	create("zoe", cidAdmin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", FirstName: "Zoé", LastName: "Lefèvre", Company: "Plomberie Générale",
		Phones: phones("03 20 00 00 01")}, "")
	create("noPhone", cidAdmin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com", FirstName: "Mail", LastName: "Only", Emails: []string{"m@example.com"}}, "")

	env.core = presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	env.srv = New(Deps{Presence: env.core, Keys: cidKeys, Directory: svc}, zerolog.Nop())
	if withLookup {
		lk, err := callerid.New(ctx, svc, callerid.Config{DefaultRegion: "FR", DefaultDomain: "pbx.example.com"}, zerolog.Nop())
		require.NoError(t, err)
		env.srv.SetCallerID(lk)
	}
	env.ts = httptest.NewServer(env.srv)
	t.Cleanup(env.ts.Close)
	return env
}

func cidGet(t *testing.T, url, bearer string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, body
}

func TestLookupAPI(t *testing.T) {
	env := newCallerIDEnv(t, true)
	// Online, so watchers see the status chosen.
	_, err := env.core.Register(context.Background(), presence.NewAOR("202", "pbx.example.com"), presence.Registration{CallID: "c", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:202@10.0.0.6", Expires: time.Hour}}})
	require.NoError(t, err)
	_, err = env.core.SetStatus(context.Background(), presence.NewAOR("202", "pbx.example.com"), presence.UserStatus{Status: "away"})
	require.NoError(t, err)

	tests := []struct {
		name, query, bearer string
		want                int
		wantType            string
		check               func(t *testing.T, body []byte)
	}{
		{name: "json personal blocked", query: "number=%2B33491550142&callee=201@pbx.example.com", bearer: "pbx", want: 200, wantType: "application/json",
			check: func(t *testing.T, body []byte) {
				var got lookupJSON
				require.NoError(t, json.Unmarshal(body, &got))
				assert.Equal(t, "Maman", got.Display)
				assert.Equal(t, env.ids["maman"], got.ContactID)
				assert.Equal(t, directory.KindPersonal, got.Kind)
				assert.True(t, got.Blocked)
				assert.True(t, got.Marks.Blocked)
				assert.Equal(t, "exact", got.Rank)
				assert.Equal(t, "+33491550142", got.NumberE164)
				assert.Nil(t, got.Presence)
			}},
		{name: "json company for another callee", query: "number=0491550142&callee=202@pbx.example.com", bearer: "pbx", want: 200, wantType: "application/json",
			check: func(t *testing.T, body []byte) {
				var got lookupJSON
				require.NoError(t, json.Unmarshal(body, &got))
				assert.Equal(t, "ACME", got.Display)
				assert.False(t, got.Blocked)
			}},
		{name: "json team with presence", query: "number=202&callee=201", bearer: "pbx", want: 200, wantType: "application/json",
			check: func(t *testing.T, body []byte) {
				var got lookupJSON
				require.NoError(t, json.Unmarshal(body, &got))
				assert.Equal(t, "Bob Durand", got.Display)
				require.NotNil(t, got.Presence)
				assert.Equal(t, "away", got.Presence.Status)
			}},
		{name: "text display", query: "number=03.20.00.00.01&callee=201@pbx.example.com&format=text", bearer: "pbx", want: 200, wantType: "text/plain; charset=utf-8",
			check: func(t *testing.T, body []byte) { assert.Equal(t, "Zoé Lefèvre (Plomberie.", string(body)) }},
		{name: "text with key parameter", query: "number=0320000001&format=text&key=pbx", want: 200, wantType: "text/plain; charset=utf-8"},
		{name: "text miss is an empty 404", query: "number=0999999999&callee=201&format=text", bearer: "pbx", want: 404, wantType: "text/plain; charset=utf-8",
			check: func(t *testing.T, body []byte) { assert.Empty(t, body) }},
		{name: "json miss", query: "number=0999999999&callee=201", bearer: "pbx", want: 404, wantType: "application/json",
			check: func(t *testing.T, body []byte) { assert.Contains(t, string(body), `"not_found"`) }},
		{name: "user key defaults to itself", query: "number=0491550142", bearer: "alice", want: 200,
			check: func(t *testing.T, body []byte) { assert.Contains(t, string(body), `"Maman"`) }},
		{name: "user key cannot look up as another user", query: "number=0491550142&callee=202@pbx.example.com", bearer: "alice", want: 403},
		{name: "no lookup scope", query: "number=0491550142&callee=201", bearer: "bob", want: 403},
		{name: "no key", query: "number=0491550142&callee=201", want: 401},
		{name: "bad key", query: "number=0491550142&callee=201", bearer: "mallory", want: 401},
		{name: "no number", query: "callee=201", bearer: "pbx", want: 400},
		{name: "bad format", query: "number=1&format=xml", bearer: "pbx", want: 400},

		// Who may look up whom: only the owner and the domain's PBX see a
		// personal name or mark.
		{name: "tenant admin gets no personal name", query: "number=0491550142&callee=201@pbx.example.com", bearer: "tenant", want: 200,
			check: func(t *testing.T, body []byte) {
				var got lookupJSON
				require.NoError(t, json.Unmarshal(body, &got))
				assert.Equal(t, "ACME", got.Display)
				assert.Equal(t, directory.KindCompany, got.Kind)
				assert.False(t, got.Blocked, "the callee's block is personal")
				assert.NotContains(t, string(body), env.ids["maman"])
			}},
		{name: "operator gets no personal name", query: "number=0491550142&callee=201@pbx.example.com&format=text", bearer: "operator", want: 200,
			check: func(t *testing.T, body []byte) { assert.Equal(t, "ACME", string(body)) }},
		{name: "PBX bare extension is in its domain", query: "number=0491550142&callee=201&format=text", bearer: "pbx", want: 200,
			check: func(t *testing.T, body []byte) { assert.Equal(t, "Maman", string(body)) }},
		{name: "PBX of another domain", query: "number=0491550142&callee=201@pbx.example.com", bearer: "otherPBX", want: 403},
		{name: "PBX of another domain, bare extension", query: "number=0491550142&callee=201&format=text", bearer: "otherPBX", want: 404},
		{name: "tenant admin for another domain", query: "number=0491550142&callee=301@other.example.org", bearer: "tenant", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := cidGet(t, env.ts.URL+"/v1/lookup?"+tt.query, tt.bearer)
			assert.Equal(t, tt.want, res.StatusCode, string(body))
			if tt.wantType != "" {
				assert.Equal(t, tt.wantType, res.Header.Get("Content-Type"))
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestLookupAPIUnavailableUntilSet(t *testing.T) {
	env := newCallerIDEnv(t, false)
	res, _ := cidGet(t, env.ts.URL+"/v1/lookup?number=0491550142&callee=201", "pbx")
	assert.Equal(t, http.StatusServiceUnavailable, res.StatusCode)
	lk, err := callerid.New(context.Background(), env.svc, callerid.Config{DefaultRegion: "FR"}, zerolog.Nop())
	require.NoError(t, err)
	env.srv.SetCallerID(lk)
	res, _ = cidGet(t, env.ts.URL+"/v1/lookup?number=0491550142&callee=201@pbx.example.com", "pbx")
	assert.Equal(t, http.StatusOK, res.StatusCode)
}

// phonebookRequest runs the handler on a recorder with a fixed host, so
// absolute URLs in the output are stable.
func phonebookRequest(t *testing.T, env *cidEnv, target string, auth func(*http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://phones.example:8080"+target, nil)
	if auth != nil {
		auth(req)
	}
	rec := httptest.NewRecorder()
	env.srv.ServeHTTP(rec, req)
	return rec
}

func basicAlice(r *http.Request) { r.SetBasicAuth("201@pbx.example.com", "alice") }

// wellFormed fails t unless body is well-formed XML.
func wellFormed(t *testing.T, body []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(body))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		require.NoError(t, err, "not well-formed XML:\n%s", body)
	}
}

func TestPhonebookGolden(t *testing.T) {
	env := newCallerIDEnv(t, true)
	for _, format := range []string{"yealink", "grandstream", "cisco", "snom", "polycom"} {
		t.Run(format, func(t *testing.T) {
			rec := phonebookRequest(t, env, "/v1/phonebook/"+format, basicAlice)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.Equal(t, "text/xml; charset=utf-8", rec.Header().Get("Content-Type"))
			body := rec.Body.Bytes()
			wellFormed(t, body)
			golden := filepath.Join("testdata", "golden", format+".xml")
			if *updateGolden {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, body, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./api -run TestPhonebookGolden -update")
			assert.Equal(t, string(want), string(body))
			// Escaping: the raw name never appears unescaped.
			assert.NotContains(t, string(body), `Tom & "Jerry"`)
			assert.Contains(t, string(body), "Tom &amp;")
		})
	}
}

func TestPhonebookAuth(t *testing.T) {
	env := newCallerIDEnv(t, true)
	tests := []struct {
		name string
		auth func(*http.Request)
		url  string
		want int
	}{
		{name: "basic with aor", auth: basicAlice, want: 200},
		{name: "basic with extension", auth: func(r *http.Request) { r.SetBasicAuth("201", "alice") }, want: 200},
		{name: "basic with the key only", auth: func(r *http.Request) { r.SetBasicAuth("", "alice") }, want: 200},
		{name: "basic naming another user", auth: func(r *http.Request) { r.SetBasicAuth("202", "alice") }, want: 401},
		{name: "basic with a bad key", auth: func(r *http.Request) { r.SetBasicAuth("201", "nope") }, want: 401},
		{name: "key parameter", url: "?key=alice", want: 200},
		{name: "bearer", auth: func(r *http.Request) { r.Header.Set("Authorization", "Bearer alice") }, want: 200},
		{name: "no credentials is a basic challenge", want: 401},
		{name: "key without directory scope", url: "?key=pbx", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := phonebookRequest(t, env, "/v1/phonebook/yealink"+tt.url, tt.auth)
			assert.Equal(t, tt.want, rec.Code, rec.Body.String())
			if tt.name == "no credentials is a basic challenge" {
				assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Basic")
			}
		})
	}
	rec := phonebookRequest(t, env, "/v1/phonebook/aastra", basicAlice)
	assert.Equal(t, http.StatusNotFound, rec.Code)
}

func TestPhonebookVisibilityAndSearch(t *testing.T) {
	env := newCallerIDEnv(t, true)
	rec := phonebookRequest(t, env, "/v1/phonebook/snom", func(r *http.Request) { r.SetBasicAuth("202", "bob") })
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	assert.NotContains(t, body, "Maman", "Alice's personal contacts never reach Bob's phone")
	assert.Contains(t, body, "ACME")
	assert.Contains(t, body, "Alice Martin")
	assert.NotContains(t, body, "Mail Only", "contacts without a number are left out")

	rec = phonebookRequest(t, env, "/v1/phonebook/snom?q=lefe", basicAlice)
	require.Equal(t, http.StatusOK, rec.Code)
	var d snomDir
	require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
	require.Len(t, d.Entries, 1)
	assert.Equal(t, "Zoé Lefèvre", d.Entries[0].Name)

	// Favorites first.
	rec = phonebookRequest(t, env, "/v1/phonebook/yealink", basicAlice)
	var y yealinkDir
	require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &y))
	require.NotEmpty(t, y.Entries)
	assert.Equal(t, `Tom & "Jerry" <O'Brien>`, y.Entries[0].Name)
}

func TestPhonebookCiscoPaging(t *testing.T) {
	env := newCallerIDEnv(t, true)
	for i := range 40 {
		_, err := env.svc.Create(context.Background(), cidAdmin, directory.Contact{Kind: directory.KindCompany, Domain: "pbx.example.com",
			Company: fmt.Sprintf("Zz Supplier %02d", i), Phones: []directory.Phone{{Type: directory.PhoneWork, Number: fmt.Sprintf("01 42 00 00 %02d", i)}}})
		require.NoError(t, err)
	}
	var d ciscoDir
	rec := phonebookRequest(t, env, "/v1/phonebook/cisco?key=alice", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	wellFormed(t, rec.Body.Bytes())
	require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
	assert.Len(t, d.Entries, ciscoPageSize)
	next := softKey(d, "Next")
	require.NotEmpty(t, next)
	assert.True(t, strings.HasPrefix(next, "http://phones.example:8080/v1/phonebook/cisco?"), next)
	assert.Contains(t, next, "key=alice")
	assert.Contains(t, next, "page=2")
	assert.Empty(t, softKey(d, "Prev"))

	rec = phonebookRequest(t, env, "/v1/phonebook/cisco?key=alice&page=2", nil)
	d = ciscoDir{}
	require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &d))
	// 40 suppliers + ACME + Maman + 2 numbers of Tom + Zoé + 3 team = 48 rows.
	assert.Len(t, d.Entries, 48-ciscoPageSize)
	assert.Empty(t, softKey(d, "Next"))
	assert.NotEmpty(t, softKey(d, "Prev"))
	for _, e := range d.Entries {
		assert.LessOrEqual(t, len([]rune(e.Name)), ciscoTextMax)
	}
	rec = phonebookRequest(t, env, "/v1/phonebook/cisco?key=alice&page=0", nil)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
}

func softKey(d ciscoDir, name string) string {
	for _, k := range d.SoftKeys {
		if k.Name == name {
			return k.URL
		}
	}
	return ""
}
