package integration

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// TestHostileInputAgainstTheBinary drives the built binary the way a
// curious user or a hostile client would, across tenants, and checks that
// each attempt gets a clear refusal while the server keeps serving.
func TestHostileInputAgainstTheBinary(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "hostile", "--redis", redisURL, "--nats", natsURL, "--domain", "a.example,b.example",
		"--sip-auth", "--trusted-cidr", "127.0.0.9/32")
	operator := mintKey(t, redisURL, "--admin", "--scopes", "users:admin,company:write,lookup")
	user := mintKey(t, redisURL, "--user", "201@a.example", "--scopes", "contacts:personal,company:read")

	code, body, _ := in.call("PUT", "/v1/users/201@a.example", operator, `{"first_name":"Ana","sip_password":"s3cret-pass"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, body, _ = in.call("PUT", "/v1/users/201@b.example", operator, `{"first_name":"Bea","sip_password":"other-pass"}`)
	require.Contains(t, []int{200, 201}, code, body)

	t.Run("a user of a.example cannot register b.example's 201", func(t *testing.T) {
		phone := siptest.NewPhone(t, "UDP", in.sipAddr())
		send := func(cseq int, extra string) (int, string) {
			phone.Send("REGISTER sip:a.example SIP/2.0\nVia: SIP/2.0/$TP $ADDR;branch=z9hG4bKx" + time.Now().Format("150405.000000") +
				";rport\nMax-Forwards: 70\nFrom: <sip:201@b.example>;tag=x1\nTo: <sip:201@b.example>\nCall-ID: cross-1\n" +
				"CSeq: " + strconv.Itoa(cseq) + " REGISTER\nContact: <sip:201@$ADDR>\nExpires: 300\n" + extra + "Content-Length: 0\n\n")
			res := phone.Response("REGISTER")
			return res.StatusCode, res.Reason
		}
		code, reason := send(1, "")
		assert.Equal(t, 403, code, "To outside the Request-URI's domain is refused before any challenge: %s", reason)
		_, body, _ := in.call("GET", "/v1/presence/201@b.example", operator, "")
		assert.NotContains(t, body, `"registered":true`, "b.example's 201 has no binding")
	})

	t.Run("control characters are refused naming the field", func(t *testing.T) {
		code, body, _ := in.call("POST", "/v1/contacts", user, `{"kind":"personal","first_name":"Eve\u001b[31m","phones":[{"type":"mobile","number":"+33 6 12 34 56 78"}]}`)
		assert.Equal(t, 400, code)
		assert.Contains(t, body, "first_name")
	})

	t.Run("CSV export neutralizes formulas", func(t *testing.T) {
		code, body, _ := in.call("POST", "/v1/contacts", user, `{"kind":"personal","first_name":"=HYPERLINK(\"http://x\")","phones":[{"type":"mobile","number":"+33 6 12 34 56 79"}]}`)
		require.Equal(t, 201, code, body)
		code, body, _ = in.call("GET", "/v1/contacts/export.csv?kind=personal", user, "")
		require.Equal(t, 200, code, body)
		assert.Contains(t, body, `'=HYPERLINK`)
		assert.NotContains(t, body, "\n=HYPERLINK")
		assert.NotContains(t, body, ",=HYPERLINK")
	})

	t.Run("b.example cannot see a.example's company contacts", func(t *testing.T) {
		code, body, _ := in.call("POST", "/v1/contacts", operator, `{"kind":"company","domain":"a.example","company":"Alpha Secret","phones":[{"type":"work","number":"+33 4 91 55 01 42"}]}`)
		require.Equal(t, 201, code, body)
		bUser := mintKey(t, redisURL, "--user", "201@b.example", "--scopes", "contacts:personal,company:read,lookup")
		_, body, _ = in.call("GET", "/v1/contacts?q=alpha", bUser, "")
		assert.NotContains(t, body, "Alpha Secret")
		_, body, _ = in.call("GET", "/v1/lookup?format=text&number=%2B33491550142&callee=201@b.example", bUser, "")
		assert.NotContains(t, body, "Alpha Secret")
	})

	t.Run("a slow client's headers are cut", func(t *testing.T) {
		c, err := net.Dial("tcp", in.http)
		require.NoError(t, err)
		defer c.Close()
		_, err = c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n"))
		require.NoError(t, err)
		// The header is never finished: the server closes the connection.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(15*time.Second)))
		buf := make([]byte, 512)
		_, err = c.Read(buf)
		require.Error(t, err, "connection still open")
		assert.False(t, isTimeout(err), "the server never closed the connection: %v", err)
	})

	t.Run("garbage SIP is dropped and the server keeps serving", func(t *testing.T) {
		c, err := net.Dial("udp", in.sipAddr())
		require.NoError(t, err)
		defer c.Close()
		for range 50 {
			_, err := c.Write([]byte("INVITE \x00\x01 SIP/9.9\r\n\r\n" + strings.Repeat("\xff", 300)))
			require.NoError(t, err)
		}
		phone := siptest.NewPhone(t, "UDP", in.sipAddr())
		phone.Request("OPTIONS", "sip:a.example", 1, "alive-1", "o1", "", "", "")
		res := phone.Response("OPTIONS")
		assert.Equal(t, 200, res.StatusCode)
		assert.True(t, in.alive())
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
