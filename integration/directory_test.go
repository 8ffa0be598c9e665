package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// call sends an API request with key and returns the status, body and
// ETag.
func (in *instance) call(method, path, key, body string, hdr ...string) (int, string, string) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+in.http+path, strings.NewReader(body))
	require.NoError(in.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(in.t, err)
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return res.StatusCode, b.String(), res.Header.Get("ETag")
}

// within asserts that cond holds within 1 s: the time the directory
// promises for a change to reach every instance.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, time.Second, 20*time.Millisecond, what)
}

func TestDirectoryActsAsOneAcrossInstances(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	args := []string{"--redis", redisURL, "--nats", natsURL, "--region", "FR", "--sip-auth", "--trusted-cidr", "127.0.0.9/32"}
	a := startInstance(t, "dir-a", args...)
	b := startInstance(t, "dir-b", args...)
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin,company:write,lookup")
	user := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal,company:read,lookup")
	const aor = "201@pbx.example.com"

	// A user provisioned on A registers with digest on B.
	code, body, _ := a.call("PUT", "/v1/users/"+aor, admin, `{"first_name":"Ana","last_name":"Silva","sip_password":"s3cret-pass"}`)
	require.Contains(t, []int{200, 201}, code, body)
	phone := siptest.NewPhone(t, "UDP", b.sipAddr())
	within(t, "user known on B", func() bool {
		code, _, _ := b.call("GET", "/v1/users/"+aor, admin, "")
		return code == 200
	})
	phone.Request("REGISTER", "sip:pbx.example.com", 1, "reg-1", "r1", "", "Expires: 300\n", "")
	res := phone.Response("REGISTER")
	require.Equal(t, 401, res.StatusCode, res.Reason)
	phone.Request("REGISTER", "sip:pbx.example.com", 2, "reg-1", "r1", "", "Expires: 300\n"+siptest.Authorization(t, res, "REGISTER", "sip:pbx.example.com", "201", "s3cret-pass"), "")
	res = phone.Response("REGISTER")
	require.Equal(t, 200, res.StatusCode, res.Reason)

	// A personal contact created on A is found on B: search, lookup and
	// the desk-phone phonebook.
	code, body, _ = a.call("POST", "/v1/contacts", user, `{"kind":"personal","first_name":"Zoé","last_name":"Marchand","phones":[{"type":"mobile","number":"+33 6 12 34 56 78"}]}`)
	require.Equal(t, 201, code, body)
	var entry struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &entry))
	created := entry.Contact
	require.NotEmpty(t, created.ID)
	within(t, "search on B finds A's new contact", func() bool {
		_, body, _ := b.call("GET", "/v1/contacts?q=zoe", user, "")
		return strings.Contains(body, created.ID)
	})
	within(t, "lookup on B names the number", func() bool {
		_, body, _ := b.call("GET", "/v1/lookup?format=text&number=0612345678&callee="+aor, user, "")
		return body == "Zoé Marchand"
	})
	within(t, "phonebook on B lists it", func() bool {
		_, body, _ := b.call("GET", "/v1/phonebook/yealink", user, "")
		return strings.Contains(body, "Marchand")
	})

	// Edited on B, seen on A.
	code, body, etag := b.call("GET", "/v1/contacts/"+created.ID, user, "")
	require.Equal(t, 200, code, body)
	code, body, _ = b.call("PUT", "/v1/contacts/"+created.ID, user, `{"first_name":"Zoé","last_name":"Marchand-Roux","phones":[{"type":"mobile","number":"+33 6 12 34 56 78"}]}`, "If-Match", etag)
	require.Equal(t, 200, code, body)
	within(t, "A sees B's edit in lookup", func() bool {
		_, body, _ := a.call("GET", "/v1/lookup?format=text&number=0612345678&callee="+aor, user, "")
		return body == "Zoé Marchand-Roux"
	})

	// Marks and groups made on A hold on B.
	code, body, _ = a.call("PUT", "/v1/contacts/"+created.ID+"/marks/vip", user, "")
	require.Contains(t, []int{200, 204}, code, body)
	code, body, _ = a.call("POST", "/v1/groups", user, `{"name":"Tennis"}`)
	require.Equal(t, 201, code, body)
	within(t, "B shows A's mark and group", func() bool {
		_, c, _ := b.call("GET", "/v1/contacts/"+created.ID, user, "")
		_, g, _ := b.call("GET", "/v1/groups", user, "")
		return strings.Contains(c, `"vip"`) && strings.Contains(g, "Tennis")
	})

	// Deleted on A (with A's current ETag), gone on B.
	code, body, etag = a.call("GET", "/v1/contacts/"+created.ID, user, "")
	require.Equal(t, 200, code, body)
	code, body, _ = a.call("DELETE", "/v1/contacts/"+created.ID, user, "", "If-Match", etag)
	require.Equal(t, 204, code, body)
	within(t, "gone from B's search, lookup and phonebook", func() bool {
		_, s, _ := b.call("GET", "/v1/contacts?q=zoe", user, "")
		_, l, _ := b.call("GET", "/v1/lookup?format=text&number=0612345678&callee="+aor, user, "")
		_, p, _ := b.call("GET", "/v1/phonebook/yealink", user, "")
		return !strings.Contains(s, created.ID) && l != "Zoé Marchand-Roux" && !strings.Contains(p, "Marchand")
	})

	// A company CSV import on B is looked up on A.
	csv := "first_name,last_name,company,phone_work\nLuc,Perrin,Garage Perrin,+33 4 91 55 01 42\nbad,row,,not-a-number\n"
	code, body, _ = b.call("POST", "/v1/contacts/import.csv?kind=company&domain=pbx.example.com", admin, csv, "Content-Type", "text/csv")
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"imported":1`)
	within(t, "A looks up B's import", func() bool {
		_, body, _ := a.call("GET", "/v1/lookup?format=text&number=0491550142&callee="+aor, admin, "")
		return strings.Contains(body, "Perrin")
	})
}

func TestDirectoryConvergesAfterOutagesAndRestarts(t *testing.T) {
	redisURL := harness.Redis(t)
	nats := harness.StartNATS(t)
	args := []string{"--redis", redisURL, "--nats", nats.URL()}
	a := startInstance(t, "conv-a", args...)
	b := startInstance(t, "conv-b", args...)
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin,company:write,lookup")

	count := func(in *instance) string {
		_, body, _ := in.call("GET", "/v1/contacts?kind=company&q=outage", admin, "")
		return body
	}
	// NATS down while contacts change: the directory does not depend on
	// it, and both instances agree when it is back.
	nats.Stop()
	for _, name := range []string{"Outage One", "Outage Two"} {
		code, body, _ := a.call("POST", "/v1/contacts", admin, `{"kind":"company","domain":"pbx.example.com","company":"`+name+`","phones":[{"type":"work","number":"+33 4 91 55 01 43"}]}`)
		require.Equal(t, 201, code, body)
	}
	nats.Start()
	within(t, "B has both contacts", func() bool {
		body := count(b)
		return strings.Contains(body, "Outage One") && strings.Contains(body, "Outage Two")
	})

	// B killed, a change made meanwhile, B restarted: same state as A.
	b.kill()
	code, body, _ := a.call("POST", "/v1/contacts", admin, `{"kind":"company","domain":"pbx.example.com","company":"Outage Three","phones":[{"type":"work","number":"+33 4 91 55 01 44"}]}`)
	require.Equal(t, 201, code, body)
	b.start()
	_, fromA, _ := a.call("GET", "/v1/contacts?kind=company&q=outage", admin, "")
	assert.Contains(t, fromA, "Outage Three")
	assert.JSONEq(t, fromA, count(b), "B after its restart agrees with A")
	// And B follows A again.
	code, body, _ = a.call("POST", "/v1/contacts", admin, `{"kind":"company","domain":"pbx.example.com","company":"Outage Four","phones":[{"type":"work","number":"+33 4 91 55 01 45"}]}`)
	require.Equal(t, 201, code, body)
	within(t, "restarted B follows A", func() bool { return strings.Contains(count(b), "Outage Four") })
}
