package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

var apiKey = regexp.MustCompile(`sbk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}`)

// startTogether starts one switchboard per id at the same moment, then
// waits until each is healthy: they race for whatever they share.
func startTogether(t *testing.T, ids []string, extra ...string) []*instance {
	t.Helper()
	bin := binary(t)
	var ins []*instance
	for _, id := range ids {
		in := &instance{t: t, sipPort: freeSIPPort(t), http: "127.0.0.1:" + strconv.Itoa(harness.FreePort(t)), logs: &syncBuffer{}}
		in.args = append([]string{
			"--sip-listen", "127.0.0.1:" + strconv.Itoa(in.sipPort), "--http-listen", in.http,
			"--domain", "pbx.example.com", "--data-dir", t.TempDir(), "--instance-id", id,
			"--log-level", "debug", "--shutdown-grace", "2s",
		}, extra...)
		in.cmd = exec.Command(bin, in.args...)
		in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
		ins = append(ins, in)
	}
	for _, in := range ins {
		require.NoError(t, in.cmd.Start())
		done := make(chan struct{})
		in.done = done
		go func(in *instance) { in.waitErr = in.cmd.Wait(); close(done) }(in)
		t.Cleanup(func() {
			in.kill()
			if t.Failed() {
				t.Logf("logs of %s:\n%s", in.args, tail(in.logs.String(), 6000))
			}
		})
	}
	for _, in := range ins {
		require.Eventually(t, func() bool {
			code, _ := in.get("/healthz")
			return code == 200 || !in.alive()
		}, 15*time.Second, 50*time.Millisecond)
		require.True(t, in.alive(), "exited at start: %v\n%s", in.waitErr, in.logs.String())
	}
	return ins
}

// apiCall sends an API request with key and decodes a JSON answer.
func apiCall(t *testing.T, in *instance, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	code, raw, _ := in.call(method, path, key, body)
	var out map[string]any
	_ = json.Unmarshal([]byte(raw), &out)
	return code, out
}

func TestKeysAcrossInstances(t *testing.T) {
	redis := harness.StartRedis(t) // a fresh store of our own
	natsURL := harness.NATS(t)
	ins := startTogether(t, []string{"keys-a", "keys-b"}, "--redis", redis.URL(), "--nats", natsURL)
	a, b := ins[0], ins[1]

	// Exactly one of two instances starting together prints the one
	// bootstrap key of the store.
	var boot []string
	for _, in := range ins {
		boot = append(boot, apiKey.FindAllString(in.logs.String(), -1)...)
	}
	require.Len(t, boot, 1, "one bootstrap key, printed once")
	operator := boot[0]
	for _, in := range ins {
		code, body := apiCall(t, in, "GET", "/v1/keys", operator, "")
		require.Equal(t, 200, code, body)
		items := body["items"].([]any)
		require.Len(t, items, 1)
		assert.Equal(t, "operator", items[0].(map[string]any)["kind"])
	}

	// Minted on A, used on B.
	code, minted := apiCall(t, a, "POST", "/v1/keys", operator, `{"user":"201@pbx.example.com","scopes":["contacts:personal"]}`)
	require.Equal(t, 201, code, minted)
	userKey, id := minted["key"].(string), minted["id"].(string)
	code, body := apiCall(t, b, "GET", "/v1/keys", userKey, "")
	require.Equal(t, 200, code, body)
	require.Len(t, body["items"], 1)
	code, _ = apiCall(t, b, "GET", "/v1/presence/202@pbx.example.com", userKey, "")
	require.Equal(t, 404, code, "key accepted; 202 is neither provisioned nor seen")

	// A stream open on A with that key ends within 10 s of a revocation
	// on B.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+a.http+"/v1/presence/stream", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+userKey)
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, 200, stream.StatusCode)
	// Use the key on A so that A's cache holds it.
	code, _ = apiCall(t, a, "GET", "/v1/keys", userKey, "")
	require.Equal(t, 200, code)

	code, _ = apiCall(t, b, "DELETE", "/v1/keys/"+id, operator, "")
	require.Equal(t, 204, code)
	revoked := time.Now()
	code, _ = apiCall(t, b, "GET", "/v1/keys", userKey, "")
	assert.Equal(t, 401, code, "at once on the revoking instance")

	ended := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		ended <- lines
	}()
	select {
	case lines := <-ended:
		assert.Contains(t, lines, "event: revoked")
		t.Logf("stream on A ended %s after the revocation on B", time.Since(revoked).Round(10*time.Millisecond))
	case <-time.After(10*time.Second - time.Since(revoked)):
		t.Fatal("the stream on A is still open 10 s after the key was revoked on B")
	}
	require.Eventually(t, func() bool {
		code, _ := apiCall(t, a, "GET", "/v1/keys", userKey, "")
		return code == 401
	}, 11*time.Second, 100*time.Millisecond, "A refuses the key")

	// A restarted instance does not bootstrap again.
	a.kill()
	c := startTogether(t, []string{"keys-c"}, "--redis", redis.URL(), "--nats", natsURL)[0]
	assert.NotRegexp(t, apiKey, c.logs.String())
}

func TestBootstrapKeyFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bootstrap.key")
	in := startTogether(t, []string{"boot-file"}, "--bootstrap-key-file", file)[0]
	assert.NotRegexp(t, apiKey, in.logs.String(), "written, not printed")
	assert.Contains(t, in.logs.String(), "bootstrap admin key written")
	st, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	key := strings.TrimSpace(string(raw))
	require.Regexp(t, apiKey, key)

	// The newcomer provisions a tenant admin and a user without stopping
	// the server.
	code, body := apiCall(t, in, "POST", "/v1/keys", key, `{"admin":true,"domain":"pbx.example.com","scopes":["users:admin"]}`)
	require.Equal(t, 201, code, body)
	assert.Equal(t, "tenant_admin", body["kind"])
	code, body = apiCall(t, in, "PUT", "/v1/users/201@pbx.example.com", body["key"].(string), `{"first_name":"Ana"}`)
	require.Equal(t, 201, code, body)
}

func TestShutdownEndsStreams(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bootstrap.key")
	in := startTogether(t, []string{"drain"}, "--bootstrap-key-file", file)[0]
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	req, err := http.NewRequest("GET", "http://"+in.http+"/v1/presence/stream?domain=pbx.example.com", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(raw)))
	stream, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer stream.Body.Close()
	require.Equal(t, 200, stream.StatusCode)

	in.stop() // clean exit within 15 s, the stream notwithstanding
	_, err = io.Copy(io.Discard, stream.Body)
	assert.NoError(t, err, "the stream ended cleanly")
	assert.Contains(t, in.logs.String(), "stopped")
}
