package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// webSessionClient is a web app client: the session cookie and its CSRF token.
type webSessionClient struct {
	t      *testing.T
	cookie *http.Cookie
	csrf   string
}

func (b *webSessionClient) do(in *instance, method, path, body string) (*http.Response, map[string]any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+in.http+path, strings.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/json")
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	if b.csrf != "" {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

// presenceEvents reads presence events (id, data) of a stream.
func webStreamEvents(body *bufio.Scanner, out chan<- [2]string) {
	defer close(out)
	var id, data string
	for body.Scan() {
		line := body.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			out <- [2]string{id, data}
			id, data = "", ""
		}
	}
}

// TestWebSessionAndStreamAcrossInstances: a web app session made on A
// works on B; its event stream, dropped on A, resumes on B with
// Last-Event-ID and gets the change it missed once; signing out on B ends
// it on A.
func TestWebSessionAndStreamAcrossInstances(t *testing.T) {
	redis := harness.StartRedis(t)
	ins := startTogether(t, []string{"web-a", "web-b"}, "--redis", redis.URL(), "--nats", harness.NATS(t))
	a, b := ins[0], ins[1]
	var boot []string
	for _, in := range ins {
		boot = append(boot, apiKey.FindAllString(in.logs.String(), -1)...)
	}
	require.Len(t, boot, 1)
	code, body := apiCall(t, a, "PUT", "/v1/users/201@pbx.example.com", boot[0], `{"first_name":"Ana","web_password":"ana's web password"}`)
	require.Equal(t, 201, code, body)

	phone := siptest.NewPhone(t, "UDP", a.sipAddr())
	phone.Request("REGISTER", "sip:pbx.example.com", 1, "web-reg", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, phone.Response("REGISTER").StatusCode)

	br := &webSessionClient{t: t}
	res, session := br.do(a, "POST", "/v1/session", `{"user":"201@pbx.example.com","password":"ana's web password"}`)
	require.Equal(t, 200, res.StatusCode, session)
	for _, c := range res.Cookies() {
		if c.Name == "sb_session" {
			br.cookie = c
		}
	}
	require.NotNil(t, br.cookie)
	br.csrf = session["csrf_token"].(string)
	require.Eventually(t, func() bool {
		res, _ := br.do(b, "GET", "/v1/session", "")
		return res.StatusCode == 200
	}, 10*time.Second, 50*time.Millisecond, "the session works on B once B has the user")

	open := func(in *instance, lastID string) (chan [2]string, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+"/v1/presence/stream?aor=201@pbx.example.com", nil)
		require.NoError(t, err)
		req.AddCookie(br.cookie)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		events := make(chan [2]string, 64)
		go webStreamEvents(bufio.NewScanner(res.Body), events)
		t.Cleanup(func() { cancel(); res.Body.Close() })
		return events, cancel
	}
	next := func(events chan [2]string, wantStatus string) (id string, version float64) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				require.True(t, ok, "stream ended")
				var v map[string]any
				require.NoError(t, json.Unmarshal([]byte(ev[1]), &v))
				if v["status"] == wantStatus {
					return ev[0], v["version"].(float64)
				}
			case <-deadline:
				t.Fatalf("no %s event within 10 s", wantStatus)
			}
		}
	}

	onA, drop := open(a, "")
	res, _ = br.do(b, "PUT", "/v1/presence/201@pbx.example.com/status", `{"status":"lunch"}`)
	require.Equal(t, 200, res.StatusCode)
	lastID, lunch := next(onA, "lunch")
	drop()

	res, _ = br.do(a, "PUT", "/v1/presence/201@pbx.example.com/status", `{"status":"dnd"}`)
	require.Equal(t, 200, res.StatusCode)
	onB, _ := open(b, lastID)
	_, dnd := next(onB, "dnd")
	assert.Greater(t, dnd, lunch)
	select {
	case ev := <-onB:
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(ev[1]), &v))
		assert.Greater(t, v["version"].(float64), dnd, "no view comes twice: %s", ev[1])
	case <-time.After(500 * time.Millisecond):
	}

	res, _ = br.do(b, "DELETE", "/v1/session", "")
	require.Equal(t, 204, res.StatusCode)
	require.Eventually(t, func() bool {
		res, _ := br.do(a, "GET", "/v1/session", "")
		return res.StatusCode == 401
	}, 10*time.Second, 50*time.Millisecond, "A refuses the session within 10 s")
}

// TestReadmeWebSignIn runs the README's "Sign in to the web app" example
// as written, then signs in with the password it sets.
func TestReadmeWebSignIn(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatal("curl is required to run the README's examples")
		}
		t.Skip("curl not installed")
	}
	in, key := bootstrapped(t, "readme-web")
	section := readmeSection(t, "Sign in to the web app")
	blocks := shellBlocks(section)
	require.Len(t, blocks, 1)
	script := `curl() { command curl -sS --fail-with-body "$@"; echo; }` + "\n" + strings.ReplaceAll(blocks[0], "localhost:8080", in.http)
	cmd := exec.Command("bash", "-euc", script)
	cmd.Env = append(os.Environ(), "BOOTSTRAP_KEY="+key)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README example failed:\n%s\n%s", blocks[0], out)

	pw := regexp.MustCompile(`"web_password":"([^"]+)"`).FindStringSubmatch(blocks[0])
	require.NotNil(t, pw)
	c := &webSessionClient{t: t}
	res, session := c.do(in, "POST", "/v1/session", `{"user":"201@pbx.example.com","password":"`+pw[1]+`"}`)
	require.Equal(t, 200, res.StatusCode, session)
	assert.Equal(t, true, session["admin"], "the example makes an administrator")
}
