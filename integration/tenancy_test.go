package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// sseUntil opens the presence stream of aor with key and returns a channel
// delivering the first data line containing want (or closed on timeout).
func (in *instance) sseUntil(t *testing.T, key, aor, want string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+"/v1/presence/stream?aor="+aor, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	out := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "data: ") && strings.Contains(line, want) {
				out <- line
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); res.Body.Close(); <-done })
	return out
}

const ringingSecret = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:202@pbx.example.com">
 <dialog id="secret-1" call-id="secret-1@pbx" local-tag="lt" remote-tag="rt" direction="recipient">
  <state>early</state>
  <remote><identity display="0699887766">sip:0699887766@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`

// TestPersonalContactNeverReachesColleagues rings 202 from the number 202
// keeps as the personal contact "Secret Lover": colleague 201's presence
// GET, SSE stream and BLF NOTIFY, and the NATS presence event, show the
// ringing call without that name or the contact's id; 202's own GET
// names the caller. And the other tenant, b.example, neither finds nor
// looks up pbx.example.com's company contact.
func TestPersonalContactNeverReachesColleagues(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "tenancy", "--redis", redisURL, "--nats", natsURL, "--region", "FR",
		"--domain", "pbx.example.com,b.example")
	operator := mintKey(t, redisURL, "--admin", "--scopes", "company:write,lookup")
	colleague := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal,company:read")
	owner := mintKey(t, redisURL, "--user", "202@pbx.example.com", "--scopes", "contacts:personal,company:read,lookup")
	other := mintKey(t, redisURL, "--user", "301@b.example", "--scopes", "contacts:personal,company:read,lookup")

	code, body, _ := in.call("POST", "/v1/contacts", owner,
		`{"kind":"personal","first_name":"Secret","last_name":"Lover","phones":[{"type":"mobile","number":"06 99 88 77 66"}]}`)
	require.Equal(t, 201, code, body)
	var secret struct {
		Contact struct{ ID string } `json:"contact"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &secret))
	require.NotEmpty(t, secret.Contact.ID)
	code, body, _ = in.call("POST", "/v1/contacts", operator,
		`{"kind":"company","domain":"pbx.example.com","company":"ACME Marseille","phones":[{"type":"work","number":"+33 4 91 55 01 42"}]}`)
	require.Equal(t, 201, code, body)
	// The caller-ID index follows the directory asynchronously.
	require.Eventually(t, func() bool {
		code, body, _ := in.call("GET", "/v1/lookup?format=text&number=0699887766", owner, "")
		return code == 200 && body == "Secret Lover"
	}, 5*time.Second, 50*time.Millisecond, "the owner's own lookup names its contact")

	// Watchers of 202: a BLF key, NATS, both streams.
	blf := siptest.NewPhone(t, "UDP", in.sipAddr())
	blf.Request("SUBSCRIBE", "sip:202@pbx.example.com", 1, "blf-202", "w", "", "Event: dialog\nExpires: 600\n", "")
	require.Equal(t, 200, blf.Response("SUBSCRIBE").StatusCode)
	blf.Notify(200)
	nc, err := nats.Connect(natsURL)
	require.NoError(t, err)
	defer nc.Close()
	sub, err := nc.SubscribeSync("switchboard.presence.pbx_example_com.202")
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	colleagueSSE := in.sseUntil(t, colleague, "202@pbx.example.com", "ringing")
	ownerSSE := in.sseUntil(t, owner, "202@pbx.example.com", "ringing")

	// The PBX (a trusted source) reports the call ringing 202.
	pbx := siptest.NewPhone(t, "UDP", in.sipAddr())
	pbx.Request("PUBLISH", "sip:202@pbx.example.com", 1, "pub-secret", "pb", "", "Event: dialog\nExpires: 120\n", ringingSecret)
	res := pbx.Response("PUBLISH")
	require.Equal(t, 200, res.StatusCode, res.Reason)

	leaks := []string{"Secret", "Lover", secret.Contact.ID}
	noLeak := func(what, s string) {
		t.Helper()
		for _, l := range leaks {
			assert.NotContains(t, s, l, "%s: %s", what, s)
		}
	}

	n := blf.Notify(200)
	d := doc(t, n)
	require.Len(t, d.Dialogs, 1, string(n.Body()))
	assert.Equal(t, "early", d.Dialogs[0].State)
	assert.Equal(t, "sip:0699887766@pbx.example.com", d.Dialogs[0].Remote.Identity, "the colleague's lamp shows the number")
	noLeak("BLF NOTIFY", string(n.Body()))

	code, body, _ = in.call("GET", "/v1/presence/202@pbx.example.com", colleague, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"line":"ringing"`)
	noLeak("colleague's GET", body)
	code, body, _ = in.call("GET", "/v1/presence?aor=202@pbx.example.com", colleague, "")
	require.Equal(t, 200, code, body)
	noLeak("colleague's list GET", body)

	select {
	case ev, ok := <-colleagueSSE:
		require.True(t, ok, "the colleague's stream showed no ringing call")
		noLeak("colleague's SSE", ev)
	case <-time.After(10 * time.Second):
		t.Fatal("no ringing event on the colleague's stream")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg, err := sub.NextMsg(time.Until(deadline))
		require.NoError(t, err, "no ringing presence event on NATS")
		if strings.Contains(string(msg.Data), `"ringing"`) {
			noLeak("NATS presence event", string(msg.Data))
			break
		}
	}

	// The owner's own views may name the caller from its personal book.
	code, body, _ = in.call("GET", "/v1/presence/202@pbx.example.com", owner, "")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, "Secret Lover")
	select {
	case ev, ok := <-ownerSSE:
		require.True(t, ok, "the owner's stream showed no ringing call")
		assert.Contains(t, ev, "Secret Lover")
	case <-time.After(10 * time.Second):
		t.Fatal("no ringing event on the owner's stream")
	}

	// The other tenant neither finds nor looks up pbx.example.com's
	// company contact, which pbx.example.com's users do find.
	code, body, _ = in.call("GET", "/v1/lookup?format=text&number=0491550142", owner, "")
	require.Equal(t, 200, code, body)
	assert.Equal(t, "ACME Marseille", body)
	code, body, _ = in.call("GET", "/v1/lookup?number=0491550142", other, "")
	assert.Equal(t, 404, code, body)
	assert.NotContains(t, body, "ACME")
	code, body, _ = in.call("GET", "/v1/contacts?q=acme", other, "")
	require.Equal(t, 200, code, body)
	assert.NotContains(t, body, "ACME")
	code, body, _ = in.call("GET", "/v1/contacts?q=0491550142", other, "")
	require.Equal(t, 200, code, body)
	assert.NotContains(t, body, "ACME")
	code, _, _ = in.call("GET", "/v1/presence/202@pbx.example.com", other, "")
	assert.Equal(t, 403, code, "another tenant's user does not see presence")
}
