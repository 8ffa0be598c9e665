package api

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdminSeesSharedGroupMarkOverHTTP: a tenant admin key that adds a
// contact to a shared group sees the membership in the 200 answer and in
// ?group=.
func TestAdminSeesSharedGroupMarkOverHTTP(t *testing.T) {
	env := newTenantEnv(t)
	code, body := env.do(t, "POST", "/v1/shared-groups", "adminA", `{"name":"Suppliers"}`)
	require.Equal(t, 201, code, body)
	const group = "shared:a.example:suppliers"
	require.Contains(t, body, group)

	code, body = env.do(t, "PUT", "/v1/contacts/"+env.alpha.ID+"/marks/"+group, "adminA", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"marks":["`+group+`"]`)

	code, body = env.do(t, "GET", "/v1/contacts?group="+url.QueryEscape(group), "adminA", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, env.alpha.ID)
	assert.Contains(t, body, `"marks":["`+group+`"]`)
}
