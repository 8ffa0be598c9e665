package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/icholy/digest"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// TestDigestChallengeAnsweredOnAnotherInstance is a phone behind a
// dispatcher: its REGISTER is challenged by instance A, and the answer,
// with A's nonce, lands on instance B, which must accept it. Neither
// instance is given --sip-auth-secret: they share the nonce secret
// through Redis.
func TestDigestChallengeAnsweredOnAnotherInstance(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	// The harness trusts 127.0.0.1 (the test PBX); here the phone on
	// 127.0.0.1 must be challenged, so the trusted PBX is elsewhere.
	flags := []string{"--redis", redisURL, "--nats", natsURL, "--sip-auth", "--trusted-cidr", "192.0.2.1/32"}
	a := startInstance(t, "auth-a", flags...)

	// Provision 201 with a SIP password, then start B, which loads it from
	// the shared store (following users made later is issue 10's
	// directory work, not this test's).
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin")
	req, err := http.NewRequest("PUT", "http://"+a.http+"/v1/users/201@pbx.example.com",
		strings.NewReader(`{"first_name":"Ann","sip_password":"s3cret-201-pw"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Contains(t, []int{200, 201}, res.StatusCode)
	b := startInstance(t, "auth-b", flags...)

	toA := siptest.NewPhone(t, "UDP", a.sipAddr())
	toA.Request("REGISTER", "sip:pbx.example.com", 1, "disp-1", "r", "", "Expires: 600\n", "")
	chalRes := toA.Response("REGISTER")
	require.Equal(t, 401, chalRes.StatusCode, chalRes.Reason)
	chal, err := digest.ParseChallenge(header(chalRes, "WWW-Authenticate"))
	require.NoError(t, err)
	assert.Equal(t, "pbx.example.com", chal.Realm)
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:pbx.example.com", Username: "201", Password: "s3cret-201-pw", Count: 1})
	require.NoError(t, err)

	// The dispatcher sends the retry to B, from the same address.
	toB := siptest.NewPhone(t, "UDP", b.sipAddr())
	toB.Request("REGISTER", "sip:pbx.example.com", 2, "disp-1", "r", "", "Expires: 600\nAuthorization: "+cred.String()+"\n", "")
	ok := toB.Response("REGISTER")
	require.Equal(t, 200, ok.StatusCode, "B must accept A's nonce: %s", ok.Reason)
	assert.Contains(t, header(ok, "Contact"), toB.Addr())

	// The secret lives in Redis, under the sb: prefix, and in no log.
	opt, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "sb:sipauth:nonce-secret:*").Result()
	require.NoError(t, err)
	require.NotEmpty(t, keys)
	secret, err := rdb.Get(context.Background(), keys[0]).Result()
	require.NoError(t, err)
	for _, in := range []*instance{a, b} {
		assert.NotContains(t, in.logs.String(), secret)
	}
}
