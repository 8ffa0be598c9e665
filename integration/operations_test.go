package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/sip/siptest"
)

// bootstrapped starts one instance writing its bootstrap key to a file,
// and returns it with the key.
func bootstrapped(t *testing.T, id string, extra ...string) (*instance, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "bootstrap.key")
	in := startTogether(t, []string{id}, append([]string{"--bootstrap-key-file", file}, extra...)...)[0]
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	return in, strings.TrimSpace(string(raw))
}

func TestDeleteUserReportsSIPSubscriptions(t *testing.T) {
	in, key := bootstrapped(t, "delete-report")
	code, body := apiCall(t, in, "PUT", "/v1/users/201@pbx.example.com", key, `{"first_name":"Ana"}`)
	require.Equal(t, 201, code, body)

	// A BLF key watches 201 and holds its subscription.
	watcher := siptest.NewPhone(t, "UDP", in.sipAddr())
	subscribe(t, watcher, "delete-report-1")

	code, body = apiCall(t, in, "DELETE", "/v1/users/201@pbx.example.com", key, "")
	require.Equal(t, 409, code, body)
	subs, ok := body["subscriptions"].(map[string]any)
	require.True(t, ok, "the report lists SIP subscriptions: %v", body)
	assert.Equal(t, float64(1), subs["watched_by"])
	assert.Equal(t, float64(0), subs["watching"])
}
