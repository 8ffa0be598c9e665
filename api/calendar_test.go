package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/calendar"
	"github.com/switchboardhq/switchboard/presence"
)

// denyPolicy refuses the watchers it lists.
type denyPolicy map[presence.AOR]bool

func (d denyPolicy) MayWatch(_ context.Context, watcher, _ presence.AOR) (bool, error) {
	return !d[watcher], nil
}

func TestCalendarAPI(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	start, end := now.Add(time.Hour), now.Add(2*time.Hour)
	const f = "20060102T150405Z"
	feed := strings.ReplaceAll(fmt.Sprintf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:x\nBEGIN:VEVENT\nUID:1\nDTSTAMP:%s\nDTSTART:%s\nDTEND:%s\n"+
		"SUMMARY:Salary review\nLOCATION:Room Calanques\nATTENDEE;CN=Dana:mailto:dana@a.example\nEND:VEVENT\nEND:VCALENDAR\n",
		start.Format(f), start.Format(f), end.Format(f)), "\n", "\r\n")
	feedSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, feed) }))
	t.Cleanup(feedSrv.Close)

	ks := keys{}
	for k, p := range tenantKeys {
		ks[k] = p
	}
	a203 := tenantKeys["a202"]
	a203.User = "203@a.example"
	ks["a203"] = a203

	core := presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop())
	cal := calendar.New(calendar.Config{AllowPrivate: true}, calendar.NewMemStore(), core, zerolog.Nop())
	srv := httptest.NewServer(New(Deps{Presence: core, Keys: ks, Calendar: cal,
		WatchPolicy: denyPolicy{presence.NewAOR("203", "a.example"): true}}, zerolog.Nop()))
	t.Cleanup(srv.Close)
	do := func(method, path, key, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}
	secret := feedSrv.URL + "/private/s3cr3t/basic.ics"
	put := fmt.Sprintf(`{"url":%q}`, secret)

	// Settings: the user and the tenant's administrators only; the
	// address only to the user.
	code, body := do("PUT", "/v1/users/202@a.example/calendar", "a201", put)
	assert.Equal(t, 403, code, body)
	code, body = do("PUT", "/v1/users/201@a.example/calendar", "a201", `{"url":"ftp://x.example/a.ics"}`)
	assert.Equal(t, 400, code, body)
	code, body = do("PUT", "/v1/users/201@a.example/calendar", "a201", `{"url":"https://x.example/a.ics","color":"red"}`)
	assert.Equal(t, 400, code, body)
	code, body = do("PUT", "/v1/users/201@a.example/calendar", "a201", put)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, "s3cr3t")
	code, body = do("GET", "/v1/users/201@a.example/calendar", "adminA", "")
	assert.Equal(t, 200, code, body)
	assert.NotContains(t, body, "s3cr3t", "an administrator sees the host only")
	assert.Contains(t, body, `"url_hint":"http://127.0.0.1/…"`)
	code, _ = do("GET", "/v1/users/201@a.example/calendar", "adminB", "")
	assert.Equal(t, 403, code)
	code, _ = do("GET", "/v1/users/201@a.example/calendar", "a202", "")
	assert.Equal(t, 403, code)

	require.NoError(t, cal.Poll(ctx, presence.NewAOR("201", "a.example")))
	code, body = do("GET", "/v1/users/201@a.example/calendar", "a201", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"last_success"`)
	assert.NotContains(t, body, `"error"`)

	// Availability: blocks only, for colleagues the policy allows.
	q := "?from=" + url.QueryEscape(now.Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Add(24*time.Hour).Format(time.RFC3339))
	path := "/v1/users/201@a.example/availability" + q
	code, body = do("GET", path, "a202", "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, fmt.Sprintf(`"busy":[{"start":%q,"end":%q}]`, start.Format(time.RFC3339), end.Format(time.RFC3339)))
	for _, leak := range []string{"Salary", "Calanques", "dana", "s3cr3t", "127.0.0.1"} {
		assert.NotContains(t, body, leak)
	}
	for _, tt := range []struct {
		key, path string
		want      int
	}{
		{key: "b301", path: path, want: 403},   // another domain
		{key: "pbxB", path: path, want: 403},   // not a user
		{key: "a203", path: path, want: 403},   // the presence policy says no
		{key: "adminA", path: path, want: 200}, // the tenant's administrator
		{key: "a202", path: "/v1/users/202@a.example/availability", want: 404},
		{key: "a202", path: "/v1/users/201@a.example/availability?from=tomorrow", want: 400},
		{key: "a202", path: "/v1/users/201@a.example/availability?from=2026-12-08T00:00:00Z&to=2026-12-07T00:00:00Z", want: 400},
		{key: "a202", path: "/v1/users/201@a.example/availability?from=2026-12-08T00:00:00Z&to=2027-03-08T00:00:00Z", want: 400},
		{key: "a202", path: "/v1/users/201@a.example/availability", want: 200}, // the next 7 days
	} {
		code, body := do("GET", tt.path, tt.key, "")
		assert.Equal(t, tt.want, code, "%s %s: %s", tt.key, tt.path, body)
	}

	// Sharing off: colleagues find nothing; the user and admins still do.
	code, body = do("PUT", "/v1/users/201@a.example/calendar", "a201", `{"share":false}`)
	require.Equal(t, 200, code, body)
	code, _ = do("GET", path, "a202", "")
	assert.Equal(t, 404, code)
	code, _ = do("GET", path, "a201", "")
	assert.Equal(t, 200, code)

	code, _ = do("DELETE", "/v1/users/201@a.example/calendar", "adminB", "")
	assert.Equal(t, 403, code)
	code, _ = do("DELETE", "/v1/users/201@a.example/calendar", "a201", "")
	assert.Equal(t, 204, code)
	code, _ = do("GET", "/v1/users/201@a.example/calendar", "a201", "")
	assert.Equal(t, 404, code)
}
