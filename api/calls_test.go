package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/calls"
)

func callsDo(t *testing.T, env *cidEnv, method, path, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, env.ts.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestCallsBadInput: every malformed or unauthorised request is a clear
// 4xx, and the server keeps serving.
func TestCallsBadInput(t *testing.T) {
	env := newCallerIDEnv(t, true)
	code, _ := callsDo(t, env, "GET", "/v1/calls", "alice", "")
	assert.Equal(t, http.StatusServiceUnavailable, code, "before SetCalls")

	h, err := calls.New(calls.Config{DefaultRegion: "FR"}, calls.NewMemStore(), nil, zerolog.Nop())
	require.NoError(t, err)
	env.srv.SetCalls(h)
	tests := []struct {
		name, method, path, key, body string
		want                          int
	}{
		{"no key", "GET", "/v1/calls", "", "", 401},
		{"admin has no calls", "GET", "/v1/calls", "admin", "", 403},
		{"pbx has no calls", "GET", "/v1/calls", "pbx", "", 403},
		{"limit zero", "GET", "/v1/calls?limit=0", "alice", "", 400},
		{"limit too big", "GET", "/v1/calls?limit=201", "alice", "", 400},
		{"limit text", "GET", "/v1/calls?limit=ten", "alice", "", 400},
		{"missed maybe", "GET", "/v1/calls?missed=maybe", "alice", "", 400},
		{"garbage cursor", "GET", "/v1/calls?cursor=%00%01", "alice", "", 400},
		{"unknown call", "GET", "/v1/calls/nope", "alice", "", 404},
		{"delete unknown call", "DELETE", "/v1/calls/nope", "alice", "", 404},
		{"contact from unknown call", "POST", "/v1/calls/nope/contact", "alice", `{}`, 404},
		{"block unknown call", "POST", "/v1/calls/nope/block", "alice", "", 404},
		{"block list bad json", "POST", "/v1/blocklist", "alice", `{`, 400},
		{"block list unknown field", "POST", "/v1/blocklist", "alice", `{"number":"0612345678","x":1}`, 400},
		{"block list empty number", "POST", "/v1/blocklist", "alice", `{"number":" "}`, 400},
		{"block list not a number", "POST", "/v1/blocklist", "alice", `{"number":"call me"}`, 400},
		{"unblock not a number", "DELETE", "/v1/blocklist/abc", "alice", "", 400},
		{"unblock not blocked", "DELETE", "/v1/blocklist/0612345678", "alice", "", 404},
		{"last caller, other tenant's pbx", "POST", "/v1/blocklist/last-caller?callee=201@pbx.example.com", "otherPBX", "", 403},
		{"last caller, tenant admin", "POST", "/v1/blocklist/last-caller?callee=201", "tenant", "", 403},
		{"last caller, user for another", "POST", "/v1/blocklist/last-caller?callee=202", "alice", "", 403},
		{"last caller, none yet", "POST", "/v1/blocklist/last-caller?callee=201", "pbx", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := callsDo(t, env, tt.method, tt.path, tt.key, tt.body)
			assert.Equal(t, tt.want, code, body)
		})
	}
	code, body := callsDo(t, env, "GET", "/v1/calls", "alice", "")
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"items":[],"missed_unread":0}`, body)
}

// TestLookupAnswersBlockList: a number on the callee's block list is
// blocked for the callee's key and the domain's PBX, not shown to keys
// that never see personal data, and not blocked for another callee.
func TestLookupAnswersBlockList(t *testing.T) {
	env := newCallerIDEnv(t, true)
	h, err := calls.New(calls.Config{DefaultRegion: "FR"}, calls.NewMemStore(), nil, zerolog.Nop())
	require.NoError(t, err)
	env.srv.SetCalls(h)
	_, err = h.Block(context.Background(), "201@pbx.example.com", "+33 6 12 34 56 78")
	require.NoError(t, err)

	for _, tt := range []struct {
		name, query, key string
		want             int
		blocked          bool
	}{
		{"the callee", "number=0612345678", "alice", 200, true},
		{"the pbx for the callee", "number=0612345678&callee=201", "pbx", 200, true},
		{"another callee", "number=0612345678&callee=202", "pbx", 404, false},
		{"a tenant admin", "number=0612345678&callee=201", "tenant", 404, false},
		{"a contact with the Blocked mark, as before", "number=0491550142&callee=201", "pbx", 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := callsDo(t, env, "GET", "/v1/lookup?"+tt.query, tt.key, "")
			assert.Equal(t, tt.want, code, body)
			assert.Equal(t, tt.blocked, strings.Contains(body, `"blocked":true`), body)
		})
	}
	res, _ := cidGet(t, env.ts.URL+"/v1/lookup?format=text&number=0612345678&callee=201", "pbx")
	assert.Equal(t, 404, res.StatusCode)
	assert.Equal(t, "1", res.Header.Get("X-Switchboard-Blocked"))
}
