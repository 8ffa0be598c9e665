package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebPasswordAPI(t *testing.T) {
	f := newDirFixture(t)
	ctx := context.Background()

	// The admin sets it while provisioning; no answer carries it.
	res := f.call(t, "PUT", "/v1/users/201@pbx.example.com", f.admin,
		strings.NewReader(`{"first_name":"Ana","last_name":"Silva","web_password":"admin set this one"}`))
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", res.body)
	body := res.json(t)
	assert.Equal(t, true, body["web_password"])
	assert.NotEmpty(t, body["web_password_updated"])
	assert.Equal(t, false, body["admin"])
	for _, path := range []string{"/v1/users/201@pbx.example.com", "/v1/users"} {
		res := f.call(t, "GET", path, f.admin, nil)
		require.Equal(t, http.StatusOK, res.StatusCode)
		assert.NotContains(t, string(res.body), "argon2")
		assert.NotContains(t, string(res.body), "admin set this one")
	}
	_, err := f.svc.Authenticate(ctx, "201@pbx.example.com", "admin set this one")
	require.NoError(t, err)

	res = f.call(t, "PUT", "/v1/users/201@pbx.example.com", f.admin, strings.NewReader(`{"first_name":"Ana","web_password":"short"}`))
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, "web_password", res.errorField(t, "field"))

	tests := []struct {
		name, key, path, body string
		want                  int
		field                 string
	}{
		{"wrong current", f.owner, "/v1/users/201@pbx.example.com/web-password", `{"current":"nope nope nope","password":"my own password"}`, http.StatusBadRequest, "current"},
		{"too short", f.owner, "/v1/users/201@pbx.example.com/web-password", `{"current":"admin set this one","password":"short"}`, http.StatusBadRequest, "password"},
		{"someone else's", f.other, "/v1/users/201@pbx.example.com/web-password", `{"password":"my own password"}`, http.StatusForbidden, ""},
		{"other tenant", f.foreign, "/v1/users/201@pbx.example.com/web-password", `{"password":"my own password"}`, http.StatusNotFound, ""},
		{"own", f.owner, "/v1/users/201@pbx.example.com/web-password", `{"current":"admin set this one","password":"my own password"}`, http.StatusNoContent, ""},
		{"admin without current", f.admin, "/v1/users/202@pbx.example.com/web-password", `{"password":"bruno's password"}`, http.StatusNoContent, ""},
		{"no such user", f.admin, "/v1/users/299@pbx.example.com/web-password", `{"password":"bruno's password"}`, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.call(t, "PUT", tt.path, tt.key, strings.NewReader(tt.body))
			require.Equal(t, tt.want, res.StatusCode, "%s", res.body)
			if tt.field != "" {
				assert.Equal(t, tt.field, res.errorField(t, "field"))
			}
		})
	}
	_, err = f.svc.Authenticate(ctx, "201@pbx.example.com", "my own password")
	require.NoError(t, err)
	_, err = f.svc.Authenticate(ctx, "202@pbx.example.com", "bruno's password")
	require.NoError(t, err)
}
