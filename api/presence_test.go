package api

import (
	"bufio"
	"context"
	"encoding/json"
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

// keys is a fake of our own keyResolver.
type keys map[string]accounts.Principal

func (k keys) Resolve(_ context.Context, key string) (accounts.Principal, error) {
	p, ok := k[key]
	if !ok {
		return accounts.Principal{}, directory.ErrNotFound
	}
	return p, nil
}

var testKeys = keys{
	"alice": {User: "201@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}},
	"bob":   {User: "202@pbx.example.com", Scopes: []accounts.Scope{accounts.ScopePersonal}},
	"eve":   {User: "300@other.example.org", Scopes: []accounts.Scope{accounts.ScopePersonal}},
	"admin": {Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}},
}

func newPresenceAPI(t *testing.T) (*httptest.Server, *presence.Service) {
	t.Helper()
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	srv := New(Deps{Presence: core, Keys: testKeys}, zerolog.Nop())
	core.Watch(srv.Watch)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts, core
}

func do(t *testing.T, method, url, key, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

func TestPresenceAPIPermissions(t *testing.T) {
	ts, core := newPresenceAPI(t)
	aor := presence.NewAOR("201", "pbx.example.com")
	_, err := core.Register(t.Context(), aor, presence.Registration{CallID: "c", CSeq: 1, Contacts: []presence.ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Hour}}})
	require.NoError(t, err)

	tests := []struct {
		name, method, path, key, body string
		want                          int
		check                         func(t *testing.T, body map[string]any)
	}{
		{name: "no key", method: "GET", path: "/v1/presence/201@pbx.example.com", want: 401},
		{name: "unknown key", method: "GET", path: "/v1/presence/201@pbx.example.com", key: "mallory", want: 401},
		{name: "colleague reads", method: "GET", path: "/v1/presence/201@pbx.example.com", key: "bob", want: 200,
			check: func(t *testing.T, b map[string]any) {
				assert.Equal(t, "idle", b["line"])
				assert.Equal(t, "available", b["status"])
				assert.Equal(t, true, b["registered"])
			}},
		{name: "other tenant refused", method: "GET", path: "/v1/presence/201@pbx.example.com", key: "eve", want: 403,
			check: func(t *testing.T, b map[string]any) {
				assert.Equal(t, "forbidden", b["error"].(map[string]any)["code"])
			}},
		{name: "admin reads any", method: "GET", path: "/v1/presence?aor=201@pbx.example.com&aor=300@other.example.org", key: "admin", want: 200,
			check: func(t *testing.T, b map[string]any) { assert.Len(t, b["items"], 2) }},
		{name: "bad aor", method: "GET", path: "/v1/presence/nobody", key: "bob", want: 400},
		{name: "user sets own status", method: "PUT", path: "/v1/presence/201@pbx.example.com/status", key: "alice", body: `{"status":"lunch","note":"back at 2"}`, want: 200,
			check: func(t *testing.T, b map[string]any) {
				assert.Equal(t, "lunch", b["status"])
				assert.Equal(t, "Lunch break", b["status_label"])
			}},
		{name: "colleague cannot set it", method: "PUT", path: "/v1/presence/201@pbx.example.com/status", key: "bob", body: `{"status":"away"}`, want: 403},
		{name: "unknown status", method: "PUT", path: "/v1/presence/201@pbx.example.com/status", key: "alice", body: `{"status":"sleeping"}`, want: 400,
			check: func(t *testing.T, b map[string]any) {
				assert.Equal(t, "status", b["error"].(map[string]any)["field"])
			}},
		{name: "until in the past", method: "PUT", path: "/v1/presence/201@pbx.example.com/status", key: "alice", body: `{"status":"away","until":"2001-01-01T00:00:00Z"}`, want: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, tt.method, ts.URL+tt.path, tt.key, tt.body)
			assert.Equal(t, tt.want, res.StatusCode, body)
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestPresenceStream(t *testing.T) {
	ts, core := newPresenceAPI(t)
	req, err := http.NewRequestWithContext(t.Context(), "GET", ts.URL+"/v1/presence/stream?aor=201@pbx.example.com", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer bob")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	_, err = core.Register(t.Context(), presence.NewAOR("201", "pbx.example.com"), presence.Registration{CallID: "c", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Hour}}})
	require.NoError(t, err)

	// A change of another extension is filtered out; 201's arrives.
	_, err = core.SetStatus(t.Context(), presence.NewAOR("203", "pbx.example.com"), presence.UserStatus{Status: presence.StatusAway})
	require.NoError(t, err)
	_, err = core.SetStatus(t.Context(), presence.NewAOR("201", "pbx.example.com"), presence.UserStatus{Status: presence.StatusDND})
	require.NoError(t, err)

	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var ev presenceJSON
		require.NoError(t, json.Unmarshal([]byte(data), &ev))
		assert.Equal(t, "201@pbx.example.com", ev.AOR)
		if ev.Status == "available" {
			continue // the registration
		}
		assert.Equal(t, "dnd", ev.Status)
		return
	}
	t.Fatal("stream ended without the event")
}

// TestPresenceOfOfflineAndUnknownExtensions: an offline user shows
// offline to watchers (presence GET and team contacts) and gets the
// chosen status back with the phone; an extension neither provisioned nor
// ever seen answers 404.
func TestPresenceOfOfflineAndUnknownExtensions(t *testing.T) {
	ctx := context.Background()
	dir, err := directory.New(ctx, directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	_, err = dir.ProvisionUser(ctx, accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin}},
		accounts.User{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana"})
	require.NoError(t, err)
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	ts := httptest.NewServer(New(Deps{Presence: core, Keys: testKeys, Directory: dir}, zerolog.Nop()))
	t.Cleanup(ts.Close)

	res, body := do(t, "GET", ts.URL+"/v1/presence/201@pbx.example.com", "bob", "")
	require.Equal(t, 200, res.StatusCode, "provisioned, never seen")
	assert.Equal(t, "offline", body["status"])
	assert.Equal(t, "offline", body["line"])
	assert.Equal(t, false, body["registered"])

	res, body = do(t, "GET", ts.URL+"/v1/presence/299@pbx.example.com", "bob", "")
	assert.Equal(t, 404, res.StatusCode, body)
	res, body = do(t, "GET", ts.URL+"/v1/presence?aor=201@pbx.example.com&aor=299@pbx.example.com", "bob", "")
	assert.Equal(t, 404, res.StatusCode, body)

	// The user chooses lunch while offline: watchers still see offline,
	// in presence and in team contacts.
	res, body = do(t, "PUT", ts.URL+"/v1/presence/201@pbx.example.com/status", "alice", `{"status":"lunch","note":"back at 2"}`)
	require.Equal(t, 200, res.StatusCode, body)
	assert.Equal(t, "offline", body["status"])
	res, body = do(t, "GET", ts.URL+"/v1/presence/201@pbx.example.com", "bob", "")
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "offline", body["status"])
	assert.Nil(t, body["note"])
	assert.Equal(t, "offline", teamStatus(t, ts.URL, "bob", "201@pbx.example.com"))

	// The phone registers: the choice is back.
	_, err = core.Register(ctx, presence.NewAOR("201", "pbx.example.com"), presence.Registration{CallID: "c", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:201@10.0.0.5", Expires: time.Hour}}})
	require.NoError(t, err)
	res, body = do(t, "GET", ts.URL+"/v1/presence/201@pbx.example.com", "bob", "")
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "lunch", body["status"])
	assert.Equal(t, "back at 2", body["note"])
	assert.Equal(t, "lunch", teamStatus(t, ts.URL, "bob", "201@pbx.example.com"))

	// An extension nobody provisioned that the PBX reports is known.
	_, err = core.Register(ctx, presence.NewAOR("299", "pbx.example.com"), presence.Registration{CallID: "c", CSeq: 1,
		Contacts: []presence.ContactUpdate{{URI: "sip:299@10.0.0.9", Expires: time.Hour}}})
	require.NoError(t, err)
	res, body = do(t, "GET", ts.URL+"/v1/presence/299@pbx.example.com", "bob", "")
	assert.Equal(t, 200, res.StatusCode, body)
	assert.Equal(t, "available", body["status"])
}

// teamStatus is the presence status the team contact of aor shows to key.
func teamStatus(t *testing.T, base, key, aor string) string {
	t.Helper()
	res, body := do(t, "GET", base+"/v1/contacts?kind=team", key, "")
	require.Equal(t, 200, res.StatusCode, body)
	items, _ := body["items"].([]any)
	for _, it := range items {
		e, _ := it.(map[string]any)
		c, _ := e["contact"].(map[string]any)
		if c["id"] == directory.TeamContactID(aor) {
			p, _ := e["presence"].(map[string]any)
			require.NotNil(t, p, "team contact %s has presence", aor)
			s, _ := p["status"].(string)
			return s
		}
	}
	t.Fatalf("no team contact %s in %v", aor, body)
	return ""
}
