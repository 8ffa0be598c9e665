package main

import (
	"context"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/sip/auth"
)

func TestSIPAuthSecretConfig(t *testing.T) {
	const secret = "correct horse battery staple"
	c, err := parseConfig(nil, func(k string) string {
		if k == "SWITCHBOARD_SIP_AUTH_SECRET" {
			return secret
		}
		return ""
	}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, secret, c.SIPAuthSecret)

	_, err = parseConfig([]string{"--sip-auth-secret", "tiny-s3cr3t"}, func(string) string { return "" }, io.Discard)
	require.ErrorContains(t, err, "--sip-auth-secret must be at least 16 bytes")
	assert.NotContains(t, err.Error(), "tiny-s3cr3t", "the secret is never echoed")
}

func register(t *testing.T, extra ...string) *sipmsg.Request {
	t.Helper()
	msg := "REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1\r\n" +
		"From: <sip:201@pbx.test>;tag=1\r\nTo: <sip:201@pbx.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\n" +
		strings.Join(extra, "") + "Content-Length: 0\r\n\r\n"
	m, err := sipmsg.ParseMessage([]byte(msg))
	require.NoError(t, err)
	return m.(*sipmsg.Request)
}

// crossInstance challenges on a and answers on b, as a phone behind a
// dispatcher does.
func crossInstance(t *testing.T, a, b *auth.Authenticator) auth.Result {
	t.Helper()
	src := netip.MustParseAddr("192.0.2.10")
	res, err := a.Check(t.Context(), register(t), src, "201", "pbx.test")
	require.NoError(t, err)
	require.NotEmpty(t, res.Challenges)
	chal, err := digest.ParseChallenge(res.Challenges[0].Value())
	require.NoError(t, err)
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:pbx.test", Username: "201", Password: "s3cret-201", Count: 1})
	require.NoError(t, err)
	res, err = b.Check(t.Context(), register(t, "Authorization: "+cred.String()+"\r\n"), src, "201", "pbx.test")
	require.NoError(t, err)
	return res
}

func TestNewSIPAuthSharesNonces(t *testing.T) {
	creds := auth.NewMemCredentials()
	creds.Set("201", "pbx.test", "s3cret-201")
	ctx := t.Context()

	t.Run("flag", func(t *testing.T) {
		cfg := config{SIPAuthSecret: "0123456789abcdef-shared"}
		a, refresh := newSIPAuth(ctx, cfg, creds, nil, zerolog.Nop())
		b, _ := newSIPAuth(ctx, cfg, creds, nil, zerolog.Nop())
		assert.Nil(t, refresh, "nothing to refresh")
		res := crossInstance(t, a, b)
		assert.True(t, res.OK, res.Reason)
	})
	t.Run("neither", func(t *testing.T) {
		a, _ := newSIPAuth(ctx, config{}, creds, nil, zerolog.Nop())
		b, _ := newSIPAuth(ctx, config{}, creds, nil, zerolog.Nop())
		assert.ErrorIs(t, crossInstance(t, a, b).Reason, auth.ErrNonceInvalid, "random per process")
	})
	t.Run("redis", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
		t.Cleanup(func() { rdb.Close() })
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := rdb.Ping(pctx).Err(); err != nil {
			t.Skipf("no redis on 127.0.0.1:6379: %v", err)
		}
		// A prefix of this test's own, not the production one.
		prefix := "sbtest:sipauth:" + sipmsg.GenerateTagN(8) + ":"
		t.Cleanup(func() {
			keys, _ := rdb.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rdb.Del(context.Background(), keys...)
			}
		})
		var inst []*auth.Authenticator
		for range 2 {
			s := auth.NewSharedSecret(redisSecrets{rdb}, prefix, time.Hour, zerolog.Nop())
			require.NoError(t, s.Refresh(ctx))
			inst = append(inst, auth.New(auth.Config{Shared: s}, creds))
		}
		res := crossInstance(t, inst[0], inst[1])
		assert.True(t, res.OK, res.Reason)
		keys, err := rdb.Keys(ctx, prefix+"*").Result()
		require.NoError(t, err)
		assert.Len(t, keys, 3, "previous, current and next period")
		ttl, err := rdb.TTL(ctx, keys[0]).Result()
		require.NoError(t, err)
		assert.Greater(t, ttl, 2*time.Hour, "kept three periods")
	})
}
