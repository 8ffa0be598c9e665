package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/accounts"
	"github.com/switchboardhq/switchboard/presence"
)

// keyFixture is an API over real accounts.Keys with one key per kind of
// caller in two tenants, a.example and b.example.
type keyFixture struct {
	ts    *httptest.Server
	srv   *Server
	store *accounts.MemKeyStore
	keys  *accounts.Keys
	// API keys and their IDs.
	operator, tenantA, user201, user202, user301, pbxA string
	ids                                                map[string]string
}

func newKeyFixture(t *testing.T, deps Deps) *keyFixture {
	t.Helper()
	ctx := context.Background()
	f := &keyFixture{store: accounts.NewMemKeyStore(), ids: map[string]string{}}
	f.keys = accounts.NewKeys(f.store)
	mint := func(p accounts.Principal) string {
		key, info, err := f.keys.Mint(ctx, p)
		require.NoError(t, err)
		f.ids[key] = info.ID
		return key
	}
	f.operator = mint(accounts.BootstrapPrincipal)
	f.tenantA = mint(accounts.Principal{Admin: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeUsersAdmin, accounts.ScopeCompanyRead}})
	f.user201 = mint(accounts.Principal{User: "201@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal, accounts.ScopeCompanyRead}})
	f.user202 = mint(accounts.Principal{User: "202@a.example", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	f.user301 = mint(accounts.Principal{User: "301@b.example", Scopes: []accounts.Scope{accounts.ScopePersonal}})
	f.pbxA = mint(accounts.Principal{PBX: true, Domain: "a.example", Scopes: []accounts.Scope{accounts.ScopeLookup}})

	if deps.Presence == nil {
		deps.Presence = presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	}
	if deps.Keys == nil {
		deps.Keys = f.keys
	}
	deps.Domains = []string{"a.example", "b.example"}
	f.srv = New(deps, zerolog.Nop())
	f.ts = httptest.NewServer(f.srv)
	t.Cleanup(f.ts.Close)
	return f
}

func (f *keyFixture) do(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	res, out := do(t, method, f.ts.URL+path, key, body)
	return res.StatusCode, out
}

// listIDs returns the IDs GET /v1/keys shows to key.
func (f *keyFixture) listIDs(t *testing.T, key string) []string {
	t.Helper()
	code, body := f.do(t, "GET", "/v1/keys", key, "")
	require.Equal(t, 200, code, body)
	var ids []string
	for _, it := range body["items"].([]any) {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	return ids
}

func TestKeysAPIMint(t *testing.T) {
	f := newKeyFixture(t, Deps{})
	tests := []struct {
		name, key, body string
		want            int
		kind, domain    string
		field           string
	}{
		{name: "user mints for themself a subset", key: f.user201, body: `{"scopes":["company:read"]}`, want: 201, kind: "user", domain: "a.example"},
		{name: "user names themself", key: f.user201, body: `{"user":"201@a.example","scopes":["contacts:personal"]}`, want: 201, kind: "user", domain: "a.example"},
		{name: "user asks for a scope not theirs", key: f.user201, body: `{"scopes":["company:write"]}`, want: 403},
		{name: "user mints for a colleague", key: f.user201, body: `{"user":"202@a.example","scopes":["contacts:personal"]}`, want: 403},
		{name: "user mints an admin key", key: f.user201, body: `{"admin":true,"domain":"a.example","scopes":["company:read"]}`, want: 403},
		{name: "user mints a pbx key", key: f.user201, body: `{"pbx":true,"domain":"a.example","scopes":["lookup"]}`, want: 403},
		{name: "pbx key mints nothing", key: f.pbxA, body: `{"pbx":true,"domain":"a.example","scopes":["lookup"]}`, want: 403},
		{name: "tenant admin mints a user key in its domain", key: f.tenantA, body: `{"user":"203@a.example","scopes":["contacts:personal","company:read"]}`, want: 201, kind: "user", domain: "a.example"},
		{name: "tenant admin mints a user key elsewhere", key: f.tenantA, body: `{"user":"302@b.example","scopes":["contacts:personal"]}`, want: 403},
		{name: "tenant admin's admin key stays in its domain", key: f.tenantA, body: `{"admin":true,"scopes":["users:admin"]}`, want: 201, kind: "tenant_admin", domain: "a.example"},
		{name: "tenant admin mints an admin key elsewhere", key: f.tenantA, body: `{"admin":true,"domain":"b.example","scopes":["users:admin"]}`, want: 403},
		{name: "tenant admin mints a pbx key", key: f.tenantA, body: `{"pbx":true,"scopes":["lookup"]}`, want: 403}, // lookup is not its scope
		{name: "tenant admin grants a scope it lacks", key: f.tenantA, body: `{"user":"203@a.example","scopes":["company:write"]}`, want: 403},
		{name: "operator mints a tenant admin", key: f.operator, body: `{"admin":true,"domain":"b.example","scopes":["users:admin","company:write"]}`, want: 201, kind: "tenant_admin", domain: "b.example"},
		{name: "operator mints an operator key", key: f.operator, body: `{"admin":true,"scopes":["lookup"]}`, want: 201, kind: "operator"},
		{name: "operator mints a pbx key", key: f.operator, body: `{"pbx":true,"domain":"b.example","scopes":["lookup"]}`, want: 201, kind: "pbx", domain: "b.example"},
		{name: "domain not served", key: f.operator, body: `{"admin":true,"domain":"c.example","scopes":["lookup"]}`, want: 400, field: "domain"},
		{name: "pbx key without domain", key: f.operator, body: `{"pbx":true,"scopes":["lookup"]}`, want: 400, field: "domain"},
		{name: "unknown scope", key: f.operator, body: `{"user":"201@a.example","scopes":["root"]}`, want: 400, field: "scopes"},
		{name: "no scopes", key: f.user201, body: `{}`, want: 400, field: "scopes"},
		{name: "unknown field", key: f.operator, body: `{"admin":true,"scopes":["lookup"],"root":true}`, want: 400},
		{name: "no key", body: `{"scopes":["lookup"]}`, want: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, "POST", "/v1/keys", tc.key, tc.body)
			require.Equal(t, tc.want, code, body)
			if tc.field != "" {
				assert.Equal(t, tc.field, body["error"].(map[string]any)["field"], body)
			}
			if code != 201 {
				return
			}
			assert.Equal(t, tc.kind, body["kind"])
			if tc.domain == "" {
				assert.NotContains(t, body, "domain")
			} else {
				assert.Equal(t, tc.domain, body["domain"])
			}
			assert.Equal(t, f.ids[tc.key], body["created_by"])
			// The new key works and acts as announced.
			p, err := f.keys.Resolve(context.Background(), body["key"].(string))
			require.NoError(t, err)
			assert.Equal(t, tc.domain, p.Domain)
		})
	}
}

func TestKeysAPIListAndRevoke(t *testing.T) {
	f := newKeyFixture(t, Deps{})
	all := []string{f.operator, f.tenantA, f.user201, f.user202, f.user301, f.pbxA}
	ids := func(keys ...string) []string {
		var out []string
		for _, k := range keys {
			out = append(out, f.ids[k])
		}
		return out
	}
	assert.ElementsMatch(t, ids(all...), f.listIDs(t, f.operator), "an operator sees every key")
	assert.ElementsMatch(t, ids(f.tenantA, f.user201, f.user202, f.pbxA), f.listIDs(t, f.tenantA), "a tenant admin sees its domain's")
	assert.ElementsMatch(t, ids(f.user201), f.listIDs(t, f.user201), "a user sees their own")
	code, _ := f.do(t, "GET", "/v1/keys", f.pbxA, "")
	assert.Equal(t, 403, code)
	code, body := f.do(t, "GET", "/v1/keys", f.operator, "")
	require.Equal(t, 200, code)
	raw, _ := json.Marshal(body)
	for _, k := range all {
		assert.NotContains(t, string(raw), k[len("sbk_0123456789abcdef_"):], "no secret is listed")
	}

	for _, tc := range []struct {
		name, key, target string
		want              int
	}{
		{name: "user revokes a colleague's key", key: f.user201, target: f.user202, want: 404},
		{name: "user revokes an admin key", key: f.user201, target: f.tenantA, want: 404},
		{name: "tenant admin revokes another tenant's key", key: f.tenantA, target: f.user301, want: 404},
		{name: "tenant admin revokes the operator key", key: f.tenantA, target: f.operator, want: 404},
		{name: "pbx key revokes", key: f.pbxA, target: f.user201, want: 404},
		{name: "tenant admin revokes in its domain", key: f.tenantA, target: f.user202, want: 204},
		{name: "operator revokes anywhere", key: f.operator, target: f.user301, want: 204},
		{name: "already revoked", key: f.operator, target: f.user301, want: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.do(t, "DELETE", "/v1/keys/"+f.ids[tc.target], tc.key, "")
			require.Equal(t, tc.want, code, body)
			_, err := f.keys.Resolve(context.Background(), tc.target)
			if tc.want == 204 {
				require.ErrorIs(t, err, accounts.ErrNotFound)
				code, _ := f.do(t, "GET", "/v1/keys", tc.target, "")
				assert.Equal(t, 401, code, "a revoked key stops at once on this instance")
			} else if tc.name != "already revoked" {
				require.NoError(t, err, "still valid")
			}
		})
	}
	code, _ = f.do(t, "DELETE", "/v1/keys/0123456789abcdef", f.operator, "")
	assert.Equal(t, 404, code)

	// A user revokes their own key.
	code, body = f.do(t, "POST", "/v1/keys", f.user201, `{"scopes":["company:read"]}`)
	require.Equal(t, 201, code, body)
	code, _ = f.do(t, "DELETE", "/v1/keys/"+body["id"].(string), f.user201, "")
	assert.Equal(t, 204, code)
}

// openStream opens GET /v1/presence/stream with key and returns the
// response (nil body on non-200 is closed by the caller).
func openStream(t *testing.T, ctx context.Context, base, key, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/presence/stream"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func TestStreamCapPerKey(t *testing.T) {
	f := newKeyFixture(t, Deps{StreamsPerKey: 2})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	first := openStream(t, ctx, f.ts.URL, f.user201, "")
	require.Equal(t, 200, first.StatusCode)
	require.Equal(t, 200, openStream(t, ctx, f.ts.URL, f.user201, "").StatusCode)

	res := openStream(t, t.Context(), f.ts.URL, f.user201, "")
	require.Equal(t, http.StatusTooManyRequests, res.StatusCode)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
	var e apiError
	require.NoError(t, json.NewDecoder(res.Body).Decode(&e))
	assert.Equal(t, "too_many_streams", e.Error.Code)
	assert.Contains(t, e.Error.Message, "2 open event streams")

	// Another key of the same user is counted apart.
	code, body := f.do(t, "POST", "/v1/keys", f.user201, `{"scopes":["contacts:personal"]}`)
	require.Equal(t, 201, code)
	require.Equal(t, 200, openStream(t, ctx, f.ts.URL, body["key"].(string), "").StatusCode)

	// Closing a stream frees its place.
	first.Body.Close()
	require.Eventually(t, func() bool {
		res := openStream(t, ctx, f.ts.URL, f.user201, "")
		return res.StatusCode == 200
	}, 5*time.Second, 20*time.Millisecond)
}

// readStream reads SSE lines until the stream ends and returns them; it
// fails the test if the stream is still open after limit.
func readStream(t *testing.T, body io.Reader, limit time.Duration) []string {
	t.Helper()
	lines := make(chan []string, 1)
	go func() {
		var out []string
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			out = append(out, sc.Text())
		}
		lines <- out
	}()
	select {
	case out := <-lines:
		return out
	case <-time.After(limit):
		t.Fatalf("stream still open after %s", limit)
		return nil
	}
}

func TestStreamEndsWhenKeyRevokedElsewhere(t *testing.T) {
	f := newKeyFixture(t, Deps{StreamRecheck: 50 * time.Millisecond})
	res := openStream(t, t.Context(), f.ts.URL, f.user201, "")
	require.Equal(t, 200, res.StatusCode)
	// Another instance (its own Keys on the same store) revokes the key;
	// this server's cache still holds it.
	require.NoError(t, accounts.NewKeys(f.store).Revoke(context.Background(), f.ids[f.user201]))
	_, err := f.keys.Resolve(context.Background(), f.user201)
	require.NoError(t, err, "still cached here")

	lines := readStream(t, res.Body, 10*time.Second)
	assert.Contains(t, lines, "event: revoked")
}

func TestStreamOutlivesStoreOutage(t *testing.T) {
	store := &failingKeys{Keys: nil}
	f := newKeyFixture(t, Deps{StreamRecheck: 20 * time.Millisecond, Keys: store})
	store.Keys = f.keys
	f.srv.deps.Presence.(*presence.Service).Watch(f.srv.Watch)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res := openStream(t, ctx, f.ts.URL, f.user201, "")
	require.Equal(t, 200, res.StatusCode)
	store.fail.Store(true)
	// Rechecks fail for a while; a presence change still arrives.
	require.Eventually(t, func() bool { return store.calls.Load() >= 5 }, 5*time.Second, 10*time.Millisecond)
	_, err := f.srv.deps.Presence.SetStatus(t.Context(), presence.NewAOR("201", "a.example"), presence.UserStatus{Status: presence.StatusDND})
	require.NoError(t, err)
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if sc.Text() == "event: presence" {
			return
		}
	}
	t.Fatal("stream ended during the store outage")
}

func TestDrainEndsStreamsAndShutdownReturns(t *testing.T) {
	f := newKeyFixture(t, Deps{})
	core := f.srv.deps.Presence.(*presence.Service)
	core.Watch(f.srv.Watch)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := f.srv.HTTPServer(f.srv)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	base := "http://" + ln.Addr().String()

	res := openStream(t, t.Context(), base, f.user201, "")
	require.Equal(t, 200, res.StatusCode)
	code, body := getJSON(t, base+"/readyz")
	require.Equal(t, 200, code, body)

	f.srv.Drain()
	code, body = getJSON(t, base+"/readyz")
	assert.Equal(t, 503, code)
	assert.Equal(t, "draining", body["status"])
	readStream(t, res.Body, 5*time.Second)
	again := openStream(t, t.Context(), base, f.user201, "")
	assert.Equal(t, 503, again.StatusCode, "no new streams while draining")

	// A stream opened on a server that is shut down without an explicit
	// Drain ends too: HTTPServer registers it.
	f2 := newKeyFixture(t, Deps{})
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs2 := f2.srv.HTTPServer(f2.srv)
	served2 := make(chan error, 1)
	go func() { served2 <- hs2.Serve(ln2) }()
	res2 := openStream(t, t.Context(), "http://"+ln2.Addr().String(), f2.user201, "")
	require.Equal(t, 200, res2.StatusCode)
	for _, h := range []*http.Server{hs, hs2} {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, h.Shutdown(sctx), "shutdown is not held up by streams")
		cancel()
	}
	readStream(t, res2.Body, 5*time.Second)
	require.ErrorIs(t, <-served, http.ErrServerClosed)
	require.ErrorIs(t, <-served2, http.ErrServerClosed)
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	res, body := do(t, "GET", url, "", "")
	return res.StatusCode, body
}

// serveWith serves h through an http.Server made by a Server with
// timeouts tm, on loopback; it returns the address.
func serveWith(t *testing.T, tm Timeouts, h func(*Server) http.Handler) string {
	t.Helper()
	srv := New(Deps{Presence: presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop()),
		Keys: accounts.NewKeys(accounts.NewMemKeyStore()), Timeouts: tm}, zerolog.Nop())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := srv.HTTPServer(h(srv))
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); <-done })
	return ln.Addr().String()
}

// readUntilClosed reads conn until the server closes it and returns what
// it sent; it fails if the connection is still open after limit.
func readUntilClosed(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	got, err := io.ReadAll(conn)
	var ne net.Error
	if errorsAs(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s (read %q)", limit, got)
	}
	return string(got)
}

func TestSlowHeaderClientIsCut(t *testing.T) {
	addr := serveWith(t, Timeouts{ReadHeader: 200 * time.Millisecond}, func(s *Server) http.Handler { return s })
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	// Half a request, then nothing: a slowloris.
	_, err = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	require.NoError(t, err)
	readUntilClosed(t, conn, 10*time.Second)
}

func TestSlowBodyIsCut(t *testing.T) {
	addr := serveWith(t, Timeouts{BodyGrace: 200 * time.Millisecond, BodyMinRate: 1000}, func(s *Server) http.Handler { return s })
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sbk_0123456789abcdef_x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"scopes\":")
	require.NoError(t, err)
	// Trickle a byte now and then until the server gives up.
	stop := make(chan struct{})
	trickled := make(chan struct{})
	go func() {
		defer close(trickled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := io.WriteString(conn, " "); err != nil {
					return
				}
			}
		}
	}()
	got := readUntilClosed(t, conn, 10*time.Second)
	close(stop)
	<-trickled
	// The key is checked before the body is read: 401, then the
	// connection closes with the body unread. Either way it is cut.
	assert.True(t, got == "" || strings.HasPrefix(got, "HTTP/1.1 "), got)
}

func TestBodyDeadline(t *testing.T) {
	grace := 100 * time.Millisecond
	addr := serveWith(t, Timeouts{BodyGrace: grace, BodyMinRate: 1000}, func(*Server) http.Handler {
		return withBodyDeadline(Timeouts{BodyGrace: grace, BodyMinRate: 1000}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			// Work after the body longer than its deadline: the
			// request's context must stay alive.
			time.Sleep(3 * grace)
			if r.Context().Err() != nil {
				http.Error(w, "context canceled after the body", http.StatusInternalServerError)
				return
			}
			w.Write([]byte(strings.Repeat("x", int(n%10))))
		}))
	})
	t.Run("large body at full speed", func(t *testing.T) {
		// 1 MiB would need 17 minutes at the minimum rate: its deadline
		// follows its size.
		res, err := http.Post("http://"+addr+"/", "text/csv", strings.NewReader(strings.Repeat("a,b\n", 1<<18)))
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		assert.Equal(t, 200, res.StatusCode, string(b))
	})
	t.Run("trickled body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
		require.NoError(t, err)
		got := readUntilClosed(t, conn, 10*time.Second)
		assert.True(t, strings.HasPrefix(got, "HTTP/1.1 400"), got)
		assert.Contains(t, got, "timeout")
	})
}

// failingKeys is accounts.Keys whose rechecks fail, as during a store
// outage, while fail is set.
type failingKeys struct {
	*accounts.Keys
	fail  atomic.Bool
	calls atomic.Int32
}

func (k *failingKeys) Recheck(ctx context.Context, key string) (accounts.Principal, error) {
	if k.fail.Load() {
		k.calls.Add(1)
		return accounts.Principal{}, errors.New("redis: connection refused")
	}
	return k.Keys.Recheck(ctx, key)
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }
