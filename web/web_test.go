package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServesIndexForAppRoutes(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/board", "/contacts/abc"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		require.Equal(t, http.StatusOK, rec.Code, p)
		assert.Contains(t, rec.Body.String(), "<title>Switchboard</title>", p)
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), p)
	}
}
