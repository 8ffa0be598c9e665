package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/directory"
	"github.com/switchboardhq/switchboard/internal/redistest"
	"github.com/switchboardhq/switchboard/presence"
)

var testAdmin = accounts.Principal{Admin: true, Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyWrite}}

// webClient is a browser: it keeps the session cookie and the CSRF token.
type webClient struct {
	base   string
	client *http.Client
	cookie *http.Cookie
	csrf   string
}

type webResponse struct {
	*http.Response
	body []byte
}

func (r webResponse) json(t *testing.T) map[string]any {
	t.Helper()
	var out map[string]any
	require.NoError(t, json.Unmarshal(r.body, &out), "body %s", r.body)
	return out
}

func (r webResponse) code(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// do sends a request with the cookie (if any); csrf adds the token.
func (c *webClient) do(t *testing.T, method, path, body string, csrf bool, header ...string) webResponse {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if csrf {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return webResponse{Response: res, body: raw}
}

func sessionCookieOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "sb_session" {
			return c
		}
	}
	return nil
}

// signIn signs in and keeps the cookie and token.
func (c *webClient) signIn(t *testing.T, user, password string) webResponse {
	t.Helper()
	res := c.do(t, "POST", "/v1/session", `{"user":"`+user+`","password":"`+password+`"}`, false)
	if res.StatusCode == http.StatusOK {
		c.cookie = sessionCookieOf(res.Response)
		require.NotNil(t, c.cookie)
		c.csrf, _ = res.json(t)["csrf_token"].(string)
	}
	return res
}

func provisionWebUsers(t *testing.T, svc *directory.Service) {
	t.Helper()
	for _, u := range []accounts.User{
		{Extension: "201", Domain: "pbx.example.com", FirstName: "Ana", LastName: "Silva", WebPassword: "ana's web password"},
		{Extension: "209", Domain: "pbx.example.com", FirstName: "Ada", LastName: "Admin", WebPassword: "ada's web password", Admin: true},
	} {
		_, err := svc.ProvisionUser(context.Background(), testAdmin, u)
		require.NoError(t, err)
	}
}

func newSessionAPI(t *testing.T, tls bool) (*webClient, *Server) {
	t.Helper()
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	provisionWebUsers(t, svc)
	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	srv := New(Deps{Presence: core, Keys: accounts.NewKeys(accounts.NewMemKeyStore()), Directory: svc}, zerolog.Nop())
	var ts *httptest.Server
	if tls {
		ts = httptest.NewTLSServer(srv)
	} else {
		ts = httptest.NewServer(srv)
	}
	t.Cleanup(ts.Close)
	return &webClient{base: ts.URL, client: ts.Client()}, srv
}

func TestSessionSignInUseSignOut(t *testing.T) {
	c, _ := newSessionAPI(t, false)

	res := c.do(t, "POST", "/v1/session", `{"user":"201@pbx.example.com","password":"ana's web password"}`, false, "Content-Type", "text/plain")
	require.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode, "a cross-site form cannot sign in")
	res = c.signIn(t, "201@pbx.example.com", "not the password")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "unauthorized", res.code(t))
	res = c.signIn(t, "299@pbx.example.com", "ana's web password")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "unauthorized", res.code(t))
	assert.Nil(t, c.cookie)
	assert.Equal(t, http.StatusUnauthorized, c.do(t, "GET", "/v1/session", "", false).StatusCode)

	res = c.signIn(t, "201@PBX.example.com", "ana's web password")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", res.body)
	assert.True(t, c.cookie.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.cookie.SameSite)
	assert.Equal(t, "/", c.cookie.Path)
	assert.False(t, c.cookie.Secure, "plain HTTP")
	assert.InDelta(t, DefaultSessionTTL.Seconds(), c.cookie.MaxAge, 5)
	body := res.json(t)
	assert.Equal(t, "201@pbx.example.com", body["user"])
	assert.Equal(t, "201", body["extension"])
	assert.Equal(t, "pbx.example.com", body["domain"])
	assert.Equal(t, "Ana Silva", body["display_name"])
	assert.Equal(t, false, body["admin"])
	assert.ElementsMatch(t, []any{"contacts:personal", "company:read"}, body["scopes"])
	assert.NotEmpty(t, body["csrf_token"])
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(DefaultSessionTTL), exp, time.Minute)

	got := c.do(t, "GET", "/v1/session", "", false)
	require.Equal(t, http.StatusOK, got.StatusCode)
	assert.Equal(t, body, got.json(t), "GET answers what sign-in did")

	// The cookie authenticates; unsafe methods need the CSRF token.
	assert.Equal(t, http.StatusOK, c.do(t, "GET", "/v1/contacts", "", false).StatusCode)
	res = c.do(t, "PUT", "/v1/presence/201@pbx.example.com/status", `{"status":"lunch"}`, false)
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, "csrf", res.code(t))
	res = c.do(t, "PUT", "/v1/presence/201@pbx.example.com/status", `{"status":"lunch"}`, false, "X-CSRF-Token", "forged")
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, http.StatusOK, c.do(t, "PUT", "/v1/presence/201@pbx.example.com/status", `{"status":"lunch"}`, true).StatusCode)
	assert.Equal(t, http.StatusForbidden, c.do(t, "GET", "/v1/users", "", false).StatusCode, "a plain user is no admin")

	// The user changes their own web password from the app.
	res = c.do(t, "PUT", "/v1/users/201@pbx.example.com/web-password", `{"current":"ana's web password","password":"ana's new password"}`, true)
	require.Equal(t, http.StatusNoContent, res.StatusCode, "%s", res.body)

	res = c.do(t, "DELETE", "/v1/session", "", false)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "sign-out needs the token too")
	res = c.do(t, "DELETE", "/v1/session", "", true)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	cleared := sessionCookieOf(res.Response)
	require.NotNil(t, cleared)
	assert.Less(t, cleared.MaxAge, 0, "the cookie is cleared")
	assert.Equal(t, http.StatusUnauthorized, c.do(t, "GET", "/v1/session", "", false).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, c.do(t, "GET", "/v1/contacts", "", false).StatusCode)
	assert.Equal(t, http.StatusNoContent, c.do(t, "DELETE", "/v1/session", "", false).StatusCode, "signing out twice is fine")

	res = c.signIn(t, "201@pbx.example.com", "ana's new password")
	require.Equal(t, http.StatusOK, res.StatusCode)
}

func TestSessionAdminAndKeys(t *testing.T) {
	c, srv := newSessionAPI(t, true)
	res := c.signIn(t, "209@pbx.example.com", "ada's web password")
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", res.body)
	assert.True(t, c.cookie.Secure, "over TLS")
	body := res.json(t)
	assert.Equal(t, true, body["admin"])
	assert.ElementsMatch(t, []any{"contacts:personal", "company:write", "users:admin"}, body["scopes"])

	// The admin's session administers its own domain only.
	res = c.do(t, "GET", "/v1/users", "", false)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, string(res.body), "201@pbx.example.com")
	res = c.do(t, "PUT", "/v1/users/301@other.example.org", `{"first_name":"Eve"}`, true)
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "%s", res.body)
	res = c.do(t, "PUT", "/v1/users/202@pbx.example.com", `{"first_name":"Bruno","web_password":"bruno's web password"}`, true)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", res.body)

	// A key minted from the session is listed; sessions are not.
	res = c.do(t, "POST", "/v1/keys", `{"user":"209@pbx.example.com","scopes":["contacts:personal"]}`, true)
	require.Equal(t, http.StatusCreated, res.StatusCode, "%s", res.body)
	res = c.do(t, "GET", "/v1/keys", "", false)
	require.Equal(t, http.StatusOK, res.StatusCode)
	items := res.json(t)["items"].([]any)
	require.Len(t, items, 1)
	assert.Equal(t, "user", items[0].(map[string]any)["kind"])

	// Taking the admin flag away takes the session's admin scopes at once.
	ctx := context.Background()
	_, err := srv.deps.Directory.ProvisionUser(ctx, testAdmin, accounts.User{Extension: "209", Domain: "pbx.example.com", FirstName: "Ada"})
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, c.do(t, "GET", "/v1/users", "", false).StatusCode)
	res = c.do(t, "GET", "/v1/session", "", false)
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, false, res.json(t)["admin"])
	assert.Equal(t, []any{"company:read", "contacts:personal"}, res.json(t)["scopes"])
	assert.Equal(t, http.StatusOK, c.do(t, "GET", "/v1/contacts", "", false).StatusCode)

	// Deleting the user ends the session.
	_, err = srv.deps.Directory.DeleteUser(ctx, testAdmin, "209@pbx.example.com", true)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, c.do(t, "GET", "/v1/contacts", "", false).StatusCode)
}

func TestSignInThrottled(t *testing.T) {
	c, srv := newSessionAPI(t, false)
	now := time.Now()
	srv.now = func() time.Time { return now }

	for i := range signinAccountBurst {
		res := c.signIn(t, "201@pbx.example.com", "guess number "+string(rune('a'+i)))
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i)
	}
	res := c.signIn(t, "201@pbx.example.com", "ana's web password")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode, "even the right password waits")
	assert.Equal(t, "throttled", res.code(t))
	assert.Equal(t, "20", res.Header.Get("Retry-After"))
	// Another account from the same address is not locked out yet.
	require.Equal(t, http.StatusOK, c.signIn(t, "209@pbx.example.com", "ada's web password").StatusCode)

	now = now.Add(signinAccountEvery)
	require.Equal(t, http.StatusOK, c.signIn(t, "201@pbx.example.com", "ana's web password").StatusCode)

	// Per address: unknown users count too.
	for i := range signinIPBurst {
		res := c.signIn(t, "3"+string(rune('0'+i%10))+string(rune('0'+i/10))+"@pbx.example.com", "whatever password")
		require.Equal(t, http.StatusUnauthorized, res.StatusCode, "attempt %d", i)
	}
	res = c.signIn(t, "209@pbx.example.com", "ada's web password")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.Equal(t, "2", res.Header.Get("Retry-After"))
}

func TestSessionStreamsWithCookie(t *testing.T) {
	c, srv := newSessionAPI(t, false)
	require.Equal(t, http.StatusOK, c.signIn(t, "201@pbx.example.com", "ana's web password").StatusCode)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/presence/stream", nil)
	require.NoError(t, err)
	req.AddCookie(c.cookie)
	res, err := c.client.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "text/event-stream", res.Header.Get("Content-Type"))
	srv.Watch(presence.Change{View: presence.View{AOR: presence.NewAOR("202", "pbx.example.com"), Version: 3, Line: presence.LineRinging}})
	events := newSSEReader(res.Body)
	ev := events.next(t, 5*time.Second)
	assert.Equal(t, "presence", ev.name)
	assert.Contains(t, ev.data, `"aor":"202@pbx.example.com"`)
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, name, data string }

// sseReader parses a stream in a goroutine, until it ends.
type sseReader struct{ events chan sseEvent }

func newSSEReader(body io.Reader) *sseReader {
	r := &sseReader{events: make(chan sseEvent, 1024)}
	go func() {
		defer close(r.events)
		sc := bufio.NewScanner(body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					r.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return r
}

// next returns the next event, failing after limit.
func (r *sseReader) next(t *testing.T, limit time.Duration) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-r.events:
		require.True(t, ok, "the stream ended")
		return ev
	case <-time.After(limit):
		t.Fatalf("no event within %s", limit)
		return sseEvent{}
	}
}

// none asserts that no event comes within wait.
func (r *sseReader) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-r.events:
		if ok {
			t.Fatalf("unexpected event %+v", ev)
		}
	case <-time.After(wait):
	}
}

// TestSessionAcrossInstances: two API servers share one Redis (directory
// and keys), as two instances do. A session made on A works on B; signed
// out on B, A refuses it within the documented 10 s (at once when the
// revocation is announced through the change log, as here).
func TestSessionAcrossInstances(t *testing.T) {
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb, "session")
	ctx := context.Background()
	instance := func() *webClient {
		store := directory.NewRedisStore(rdb, prefix)
		svc, err := directory.New(ctx, store, directory.Config{}, zerolog.Nop())
		require.NoError(t, err)
		keys := accounts.NewKeys(store.KeyStore())
		keys.AnnounceChanges(svc.KeyChanged)
		svc.OnKeyChange(keys.Forget)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- svc.Run(runCtx) }()
		t.Cleanup(func() { stop(); <-done })
		core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
		ts := httptest.NewServer(New(Deps{Presence: core, Keys: keys, Directory: svc}, zerolog.Nop()))
		t.Cleanup(ts.Close)
		return &webClient{base: ts.URL, client: ts.Client()}
	}
	a, b := instance(), instance()
	// A third instance provisions the users.
	adminSvc, err := directory.New(ctx, directory.NewRedisStore(rdb, prefix), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	provisionWebUsers(t, adminSvc)

	require.Eventually(t, func() bool {
		return a.signIn(t, "201@pbx.example.com", "ana's web password").StatusCode == http.StatusOK
	}, 10*time.Second, 50*time.Millisecond)
	b.cookie, b.csrf = a.cookie, a.csrf
	require.Equal(t, http.StatusOK, b.do(t, "GET", "/v1/session", "", false).StatusCode)
	require.Equal(t, http.StatusOK, a.do(t, "GET", "/v1/contacts", "", false).StatusCode, "A has it cached now")
	require.Equal(t, http.StatusNoContent, b.do(t, "DELETE", "/v1/session", "", true).StatusCode)
	require.Eventually(t, func() bool {
		return a.do(t, "GET", "/v1/contacts", "", false).StatusCode == http.StatusUnauthorized
	}, accounts.KeyCacheTTL, 20*time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, a.do(t, "GET", "/v1/session", "", false).StatusCode)
}

func TestSignInFailureLoggedWithoutPassword(t *testing.T) {
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	provisionWebUsers(t, svc)
	var logs syncBuffer
	srv := New(Deps{Presence: presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop()),
		Keys: accounts.NewKeys(accounts.NewMemKeyStore()), Directory: svc}, zerolog.New(&logs))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	c := &webClient{base: ts.URL, client: ts.Client()}
	require.Equal(t, http.StatusUnauthorized, c.signIn(t, "201@pbx.example.com", "a wrong secret guess").StatusCode)
	require.Equal(t, http.StatusOK, c.signIn(t, "201@pbx.example.com", "ana's web password").StatusCode)
	out := logs.String()
	assert.Contains(t, out, `"message":"sign-in failed"`)
	assert.Contains(t, out, `"user":"201@pbx.example.com"`)
	assert.NotContains(t, out, "a wrong secret guess")
	assert.NotContains(t, out, "ana's web password")
	assert.NotContains(t, out, c.cookie.Value, "nor the session key")
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
