package api

import (
	"context"
	"encoding/json"
	"io"
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

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	svc, err := directory.New(context.Background(), directory.NewMemStore(), directory.Config{}, zerolog.Nop())
	require.NoError(t, err)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, "<html>app</html>")
	})
	srv := New(Deps{
		Presence: presence.New(presence.Config{}, presence.NewMemStore(), zerolog.Nop()),
		Keys:     accounts.NewKeys(accounts.NewMemKeyStore()), Directory: svc, App: app,
	}, zerolog.Nop())
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	tests := []struct {
		name, method, path string
		want               int
		code, allow        string
	}{
		{"unknown v1 GET", "GET", "/v1/nope", http.StatusNotFound, "not_found", ""},
		{"unknown v1 POST", "POST", "/v1/nope/deeper", http.StatusNotFound, "not_found", ""},
		{"v1 root", "GET", "/v1", http.StatusNotFound, "not_found", ""},
		{"wrong method", "DELETE", "/v1/contacts", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{"wrong method with id", "PATCH", "/v1/contacts/c1", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, PUT, DELETE"},
		{"POST-only path read", "GET", "/v1/shared-groups", http.StatusMethodNotAllowed, "method_not_allowed", "POST"},
		{"OPTIONS", "OPTIONS", "/v1/contacts", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD, POST"},
		{"health by POST", "POST", "/healthz", http.StatusMethodNotAllowed, "method_not_allowed", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			require.NoError(t, err)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			require.Equal(t, tt.want, res.StatusCode, "%s", raw)
			assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
			var body apiError
			require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
			assert.Equal(t, tt.code, body.Error.Code)
			assert.NotEmpty(t, body.Error.Message)
			if tt.allow != "" {
				assert.ElementsMatch(t, splitAllow(res.Header.Get("Allow")), splitAllow(tt.allow))
			}
		})
	}

	// Every other GET is the app's.
	for _, path := range []string{"/", "/contacts", "/app.js"} {
		res, err := http.Get(ts.URL + path)
		require.NoError(t, err)
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		assert.Equal(t, http.StatusOK, res.StatusCode, path)
		assert.Equal(t, "<html>app</html>", string(raw), path)
	}
}

func splitAllow(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}
