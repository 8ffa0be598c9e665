package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/presence"
)

// newQuotaFixture is an API over a directory allowing each user two
// personal contacts, serving pbx.example.com only.
func newQuotaFixture(t *testing.T) *dirFixture {
	t.Helper()
	ctx := context.Background()
	svc, err := directory.New(ctx, directory.NewMemStore(),
		directory.Config{Domains: []string{"pbx.example.com"}, MaxContactsPerUser: 2}, zerolog.Nop())
	require.NoError(t, err)
	f := &dirFixture{svc: svc, keys: accounts.NewKeys(accounts.NewMemKeyStore())}
	f.owner, _, err = f.keys.Mint(ctx, accounts.Principal{User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	require.NoError(t, err)
	f.admin, _, err = f.keys.Mint(ctx, accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}})
	require.NoError(t, err)
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	f.ts = httptest.NewServer(New(Deps{Presence: core, Keys: f.keys, Directory: svc}, zerolog.Nop()))
	t.Cleanup(f.ts.Close)
	return f
}

func TestControlCharacterIs400NamingTheField(t *testing.T) {
	f := newQuotaFixture(t)
	for _, tt := range []struct{ name, body, field string }{
		{"ESC in first name", `{"kind":"personal","first_name":"Ada\u001b[2J","phones":[{"type":"work","number":"0491550142"}]}`, "first_name"},
		{"CR in last name", `{"kind":"personal","last_name":"Love\rlace","phones":[{"type":"work","number":"0491550142"}]}`, "last_name"},
		{"NUL in notes", `{"kind":"personal","first_name":"Ada","notes":"a\u0000b","phones":[{"type":"work","number":"0491550142"}]}`, "notes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := f.callJSON(t, http.MethodPost, "/v1/contacts", f.owner, tt.body)
			require.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", res.body)
			assert.Equal(t, tt.field, res.errorField(t, "field"))
			assert.Contains(t, res.errorField(t, "message"), "control character")
		})
	}
	t.Run("user domain", func(t *testing.T) {
		res := f.callJSON(t, http.MethodPut, "/v1/users/201@evil%0D%0A.test", f.admin, `{"first_name":"Eve"}`)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", res.body)
		assert.Equal(t, "domain", res.errorField(t, "field"))
		res = f.callJSON(t, http.MethodPut, "/v1/users/201@other.example", f.admin, `{"first_name":"Eve"}`)
		require.Equal(t, http.StatusBadRequest, res.StatusCode, "%s", res.body)
		assert.Equal(t, "domain", res.errorField(t, "field"))
		assert.Contains(t, res.errorField(t, "message"), "not a served domain")
	})
}

func TestContactQuotaIs409(t *testing.T) {
	f := newQuotaFixture(t)
	body := func(name string) string {
		return `{"kind":"personal","first_name":"` + name + `","phones":[{"type":"work","number":"0491550142"}]}`
	}
	for _, n := range []string{"One", "Two"} {
		res := f.callJSON(t, http.MethodPost, "/v1/contacts", f.owner, body(n))
		require.Equal(t, http.StatusCreated, res.StatusCode, "%s", res.body)
	}
	res := f.callJSON(t, http.MethodPost, "/v1/contacts", f.owner, body("Three"))
	require.Equal(t, http.StatusConflict, res.StatusCode, "%s", res.body)
	assert.Equal(t, "quota_exceeded", res.errorField(t, "code"))
	assert.Equal(t, "create contact: personal contact limit of 2 reached; delete contacts first or ask the administrator to raise --max-contacts-per-user",
		res.errorField(t, "message"))

	// An import beyond the quota answers 200 with the rows left out.
	res = f.call(t, http.MethodPost, "/v1/contacts/import.csv", f.owner,
		strings.NewReader("first_name,phone_work\nThree,0491550143\n"), "Content-Type", "text/csv")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", res.body)
	rep := res.json(t)
	assert.EqualValues(t, 0, rep["imported"])
	errs, _ := rep["errors"].([]any)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].(map[string]any)["reason"], "personal contact limit of 2 reached")
}
