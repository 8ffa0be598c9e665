package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testRealm = "pbx.example.com"
	testUser  = "1001"
	testPass  = "s3cret-1001"
)

var (
	phoneIP = netip.MustParseAddr("192.0.2.10")
	otherIP = netip.MustParseAddr("198.51.100.7")
	pbxIP   = netip.MustParseAddr("10.0.0.5")
)

// fakeClock is a settable clock for nonce expiry.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestAuth(t *testing.T, cfg Config) (*Authenticator, *fakeClock) {
	t.Helper()
	creds := NewMemCredentials()
	creds.Set(testUser, testRealm, testPass)
	creds.Set("1002", testRealm, "other-pass")
	if cfg.Realm == "" {
		cfg.Realm = testRealm
	}
	a := New(cfg, creds)
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a.now = clk.now
	return a, clk
}

// register parses a REGISTER as it would arrive on the wire, with the given
// extra header lines (e.g. an Authorization header).
func register(t testing.TB, extra ...string) *sipmsg.Request {
	t.Helper()
	return request(t, "REGISTER", "sip:"+testRealm, testUser, extra...)
}

func request(t testing.TB, method, ruri, fromUser string, extra ...string) *sipmsg.Request {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	b.WriteString("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\n")
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "To: <sip:%s@%s>\r\n", fromUser, testRealm)
	fmt.Fprintf(&b, "From: <sip:%s@%s>;tag=1928301774\r\n", fromUser, testRealm)
	b.WriteString("Call-ID: a84b4c76e66710@192.0.2.10\r\n")
	fmt.Fprintf(&b, "CSeq: 1 %s\r\n", method)
	fmt.Fprintf(&b, "Contact: <sip:%s@192.0.2.10:5060>\r\n", fromUser)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	msg, err := sipmsg.ParseMessage([]byte(b.String()))
	require.NoError(t, err)
	req, ok := msg.(*sipmsg.Request)
	require.True(t, ok)
	return req
}

// challengeFor returns the parsed challenge for alg among hdrs.
func challengeFor(t testing.TB, hdrs []sipmsg.Header, alg string) *digest.Challenge {
	t.Helper()
	for _, h := range hdrs {
		c, err := digest.ParseChallenge(h.Value())
		require.NoError(t, err)
		if c.Algorithm == alg {
			return c
		}
	}
	require.FailNow(t, "no challenge", "algorithm %s in %v", alg, hdrs)
	return nil
}

// answer computes the Authorization header a phone would send.
func answer(t testing.TB, chal *digest.Challenge, method, uri, user, pass string, nc int) string {
	t.Helper()
	cred, err := digest.Digest(chal, digest.Options{
		Method: method, URI: uri, Username: user, Password: pass, Count: nc,
	})
	require.NoError(t, err)
	return "Authorization: " + cred.String()
}

// firstChallenge runs an unauthenticated REGISTER and returns the challenge.
func firstChallenge(t testing.TB, a *Authenticator, src netip.Addr, alg string) *digest.Challenge {
	t.Helper()
	res, err := a.Check(context.Background(), register(t), src, testUser, "")
	require.NoError(t, err)
	require.False(t, res.OK)
	return challengeFor(t, res.Challenges, alg)
}

func TestCheckUnauthenticatedChallengesBothAlgorithms(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	res, err := a.Check(context.Background(), register(t), phoneIP, testUser, "")
	require.NoError(t, err)

	assert.False(t, res.OK)
	assert.Equal(t, 401, res.Code)
	assert.False(t, res.Stale)
	assert.ErrorIs(t, res.Reason, ErrNoCredentials)
	require.Len(t, res.Challenges, 2)
	// RFC 8760 §2.4: SHA-256 first.
	for i, alg := range []string{"SHA-256", "MD5"} {
		h := res.Challenges[i]
		assert.Equal(t, "WWW-Authenticate", h.Name())
		c, err := digest.ParseChallenge(h.Value())
		require.NoError(t, err)
		assert.Equal(t, alg, c.Algorithm)
		assert.Equal(t, testRealm, c.Realm)
		assert.Equal(t, []string{"auth"}, c.QOP)
		assert.NotEmpty(t, c.Nonce)
		assert.False(t, c.Stale)
	}
	// The header renders as a phone expects it.
	assert.Contains(t, res.Challenges[0].String(), `WWW-Authenticate: Digest realm="pbx.example.com", nonce="`)
	assert.Contains(t, res.Challenges[0].String(), `algorithm=SHA-256, qop="auth"`)
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		alg      string
		user     string // digest username
		aor      string // user passed to Check
		pass     string
		noQop    bool
		wantOK   bool
		wantCode int
		wantErr  error
		wantFail uint64
	}{
		{name: "md5 accepted", alg: "MD5", user: testUser, aor: testUser, pass: testPass, wantOK: true},
		{name: "sha-256 accepted", alg: "SHA-256", user: testUser, aor: testUser, pass: testPass, wantOK: true},
		{name: "md5 without qop accepted", alg: "MD5", user: testUser, aor: testUser, pass: testPass, noQop: true, wantOK: true},
		{name: "wrong password re-challenged", alg: "MD5", user: testUser, aor: testUser, pass: "guess", wantCode: 401, wantErr: ErrBadResponse, wantFail: 1},
		{name: "wrong password sha-256", alg: "SHA-256", user: testUser, aor: testUser, pass: "guess", wantCode: 401, wantErr: ErrBadResponse, wantFail: 1},
		{name: "another user's password", alg: "MD5", user: testUser, aor: testUser, pass: "other-pass", wantCode: 401, wantErr: ErrBadResponse, wantFail: 1},
		{name: "user mismatch forbidden", alg: "MD5", user: "1002", aor: testUser, pass: "other-pass", wantCode: 403, wantErr: ErrUserMismatch},
		{name: "unknown user re-challenged", alg: "MD5", user: "9999", aor: "9999", pass: "x", wantCode: 401, wantErr: ErrUnknownUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAuth(t, Config{})
			chal := firstChallenge(t, a, phoneIP, tt.alg)
			if tt.noQop {
				chal.QOP = nil
			}
			req := register(t, answer(t, chal, "REGISTER", "sip:"+testRealm, tt.user, tt.pass, 1))

			res, err := a.Check(context.Background(), req, phoneIP, tt.aor, "")
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, res.OK)
			assert.False(t, res.Trusted)
			assert.Equal(t, tt.wantFail, a.Failures())
			if tt.wantOK {
				assert.Empty(t, res.Challenges)
				assert.NoError(t, res.Reason)
				return
			}
			assert.Equal(t, tt.wantCode, res.Code)
			assert.ErrorIs(t, res.Reason, tt.wantErr)
			assert.False(t, res.Stale)
			if tt.wantCode == 403 {
				assert.Empty(t, res.Challenges)
			} else {
				assert.Len(t, res.Challenges, 2)
			}
		})
	}
}

func TestCheckReplayRejected(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	first := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

	res, err := a.Check(context.Background(), register(t, first), phoneIP, testUser, "")
	require.NoError(t, err)
	require.True(t, res.OK)

	// The very same request again (same nonce, nc=1) is a replay.
	res, err = a.Check(context.Background(), register(t, first), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.Equal(t, 401, res.Code)
	assert.ErrorIs(t, res.Reason, ErrReplay)
	assert.NotEmpty(t, res.Challenges)

	// nc=2 on the same nonce is a legitimate reuse.
	second := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 2)
	res, err = a.Check(context.Background(), register(t, second), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)

	// Going back to nc=1 with a new cnonce is still not increasing.
	back := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	res, err = a.Check(context.Background(), register(t, back), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrReplay)
}

func TestCheckNoQopNonceSingleUse(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	chal.QOP = nil
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 0)

	res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	require.True(t, res.OK)

	res, err = a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.True(t, res.Stale)
	assert.ErrorIs(t, res.Reason, ErrReplay)
}

func TestCheckRequireQop(t *testing.T) {
	a, _ := newTestAuth(t, Config{RequireQop: true})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	chal.QOP = nil
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 0)

	res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrUnsupported)
}

func TestCheckExpiredNonceIsStale(t *testing.T) {
	a, clk := newTestAuth(t, Config{NonceTTL: time.Minute})
	chal := firstChallenge(t, a, phoneIP, "SHA-256")

	clk.advance(time.Minute + time.Second)
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.Equal(t, 401, res.Code)
	assert.True(t, res.Stale)
	assert.ErrorIs(t, res.Reason, ErrNonceStale)

	fresh := challengeFor(t, res.Challenges, "SHA-256")
	assert.True(t, fresh.Stale)
	assert.NotEqual(t, chal.Nonce, fresh.Nonce)

	// The phone retries with the fresh nonce, without prompting.
	hdr = answer(t, fresh, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	res, err = a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)
}

func TestCheckExpiredNonceWrongPasswordNotStale(t *testing.T) {
	a, clk := newTestAuth(t, Config{NonceTTL: time.Minute})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	clk.advance(2 * time.Minute)
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, "guess", 1)

	res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.False(t, res.Stale, "stale must only be set when the password was right")
	assert.ErrorIs(t, res.Reason, ErrBadResponse)
}

func TestCheckNonceBoundToSource(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

	res, err := a.Check(context.Background(), register(t, hdr), otherIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.Equal(t, 401, res.Code)
	assert.False(t, res.Stale)
	assert.ErrorIs(t, res.Reason, ErrNonceInvalid)

	// An IPv4-mapped IPv6 source is the same address.
	mapped := netip.AddrFrom16(phoneIP.As16())
	res, err = a.Check(context.Background(), register(t, hdr), mapped, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)
}

func TestCheckForgedNonce(t *testing.T) {
	tests := []struct {
		name  string
		nonce func(string) string
	}{
		{name: "flipped mac byte", nonce: func(n string) string {
			b := []byte(n)
			if b[len(b)-2] == 'A' {
				b[len(b)-2] = 'B'
			} else {
				b[len(b)-2] = 'A'
			}
			return string(b)
		}},
		{name: "truncated", nonce: func(n string) string { return n[:len(n)-4] }},
		{name: "garbage", nonce: func(string) string { return "dcd98b7102dd2f0e8b11d0f600bfb0c093" }},
		{name: "other secret", nonce: func(string) string {
			return newNonceFactory(staticKey{newMACKey([]byte("another key"))}).issue(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), phoneIP, testRealm)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAuth(t, Config{})
			chal := firstChallenge(t, a, phoneIP, "MD5")
			chal.Nonce = tt.nonce(chal.Nonce)
			hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

			res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
			require.NoError(t, err)
			assert.False(t, res.OK)
			assert.ErrorIs(t, res.Reason, ErrNonceInvalid)
		})
	}
}

func TestCheckTrustedCIDRSkips(t *testing.T) {
	a, _ := newTestAuth(t, Config{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})

	res, err := a.Check(context.Background(), register(t), pbxIP, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)
	assert.True(t, res.Trusted)
	assert.Empty(t, res.Challenges)

	res, err = a.Check(context.Background(), register(t), netip.MustParseAddr("10.0.1.5"), testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.False(t, res.Trusted)
}

func TestCheckProxyMode(t *testing.T) {
	a, _ := newTestAuth(t, Config{Proxy: true, Algorithms: []string{"md5"}})
	req := request(t, "SUBSCRIBE", "sip:1002@"+testRealm, testUser, "Event: presence")
	res, err := a.Check(context.Background(), req, phoneIP, testUser, "")
	require.NoError(t, err)
	require.False(t, res.OK)
	assert.Equal(t, 407, res.Code)
	require.Len(t, res.Challenges, 1)
	assert.Equal(t, "Proxy-Authenticate", res.Challenges[0].Name())

	chal, err := digest.ParseChallenge(res.Challenges[0].Value())
	require.NoError(t, err)
	assert.Equal(t, "MD5", chal.Algorithm)
	cred, err := digest.Digest(chal, digest.Options{
		Method: "SUBSCRIBE", URI: "sip:1002@" + testRealm, Username: testUser, Password: testPass,
	})
	require.NoError(t, err)

	// A WWW-style Authorization header does not satisfy a proxy challenge.
	req = request(t, "SUBSCRIBE", "sip:1002@"+testRealm, testUser, "Authorization: "+cred.String())
	res, err = a.Check(context.Background(), req, phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrNoCredentials)

	req = request(t, "SUBSCRIBE", "sip:1002@"+testRealm, testUser, "Proxy-Authorization: "+cred.String())
	res, err = a.Check(context.Background(), req, phoneIP, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)
}

func TestCheckMethodBound(t *testing.T) {
	// A response computed for REGISTER must not authenticate a PUBLISH.
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	req := request(t, "PUBLISH", "sip:"+testRealm, testUser, hdr)

	res, err := a.Check(context.Background(), req, phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrBadResponse)
}

func TestCheckPicksOwnRealm(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	other := *chal
	other.Realm = "other.example.net"
	foreign := answer(t, &other, "REGISTER", "sip:"+testRealm, testUser, "x", 1)
	ours := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

	res, err := a.Check(context.Background(), register(t, foreign, ours), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.True(t, res.OK)

	res, err = a.Check(context.Background(), register(t, foreign), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrNoCredentials)
}

func TestCheckRealmFromRequestURI(t *testing.T) {
	creds := NewMemCredentials()
	creds.Set(testUser, testRealm, testPass)
	a := New(Config{}, creds)
	res, err := a.Check(context.Background(), register(t), phoneIP, testUser, "")
	require.NoError(t, err)
	assert.Equal(t, testRealm, challengeFor(t, res.Challenges, "MD5").Realm)
}

type failingCreds struct{}

var errStoreDown = errors.New("store down")

func (failingCreds) HA1(context.Context, string, string, string) (string, bool, error) {
	return "", false, errStoreDown
}

func TestCheckCredentialStoreError(t *testing.T) {
	a := New(Config{Realm: testRealm}, failingCreds{})
	chal := challengeFor(t, mustChallenge(t, a), "MD5")
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

	_, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.ErrorIs(t, err, errStoreDown)
	assert.NotContains(t, err.Error(), testPass)
}

func mustChallenge(t *testing.T, a *Authenticator) []sipmsg.Header {
	t.Helper()
	res, err := a.Check(context.Background(), register(t), phoneIP, testUser, "")
	require.NoError(t, err)
	return res.Challenges
}

func TestResultNeverCarriesSecrets(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, "guess", 1)
	res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
	require.NoError(t, err)

	dump := fmt.Sprintf("%+v %v", res, res.Challenges)
	for _, secret := range []string{testPass, HA1("MD5", testUser, testRealm, testPass), HA1("SHA-256", testUser, testRealm, testPass)} {
		assert.NotContains(t, dump, secret)
	}
}

func TestHA1(t *testing.T) {
	tests := []struct {
		name string
		alg  string
		want string
	}{
		// RFC 2617 §3.5 example: Mufasa / testrealm@host.com / Circle Of Life.
		{name: "md5 rfc 2617", alg: "MD5", want: "939e7578ed9e3c518a452acee763bce9"},
		{name: "md5 default", alg: "", want: "939e7578ed9e3c518a452acee763bce9"},
		// Same input through coreutils sha256sum.
		{name: "sha-256", alg: "sha-256", want: "3ba6cd94661c5ef34598040c868f13b8775df29109986be50ad35ae537dd3aa4"},
		{name: "unsupported", alg: "MD5-sess", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, HA1(tt.alg, "Mufasa", "testrealm@host.com", "Circle Of Life"))
		})
	}
}

func TestMemCredentials(t *testing.T) {
	m := NewMemCredentials()
	m.Set(testUser, testRealm, testPass)

	for _, alg := range []string{"MD5", "SHA-256", "", "md5"} {
		ha1, ok, err := m.HA1(context.Background(), testUser, testRealm, alg)
		require.NoError(t, err)
		require.True(t, ok, alg)
		assert.Equal(t, HA1(alg, testUser, testRealm, testPass), ha1)
		assert.NotContains(t, ha1, testPass)
	}
	_, ok, err := m.HA1(context.Background(), testUser, "other", "MD5")
	require.NoError(t, err)
	assert.False(t, ok)

	m.Delete(testUser, testRealm)
	_, ok, _ = m.HA1(context.Background(), testUser, testRealm, "MD5")
	assert.False(t, ok)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "zero is valid", cfg: Config{}},
		{name: "bad algorithm", cfg: Config{Algorithms: []string{"SHA-1"}}, wantErr: `digest algorithm "SHA-1" is not supported`},
		{name: "negative ttl", cfg: Config{NonceTTL: -time.Second}, wantErr: "nonce ttl -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestNCTableBounded(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tab := newNCTable(4)
	exp := now.Add(time.Minute)
	for i := range 10 {
		issued := now.Add(time.Duration(i) * time.Millisecond)
		require.True(t, tab.advance(fmt.Sprintf("n%d", i), 1, issued, exp, now))
		assert.LessOrEqual(t, tab.len(), 4)
	}
	// n0 was evicted before expiry: it must not become replayable.
	assert.False(t, tab.advance("n0", 1, now, exp, now))
	// n9 is still tracked.
	assert.False(t, tab.advance("n9", 1, now.Add(9*time.Millisecond), exp, now))
	assert.True(t, tab.advance("n9", 2, now.Add(9*time.Millisecond), exp, now))
	// A nonce issued after the watermark is accepted.
	assert.True(t, tab.advance("n10", 1, now.Add(time.Second), exp, now))
}

func TestNCTableExpiredEntriesSwept(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tab := newNCTable(100)
	for i := range 5 {
		require.True(t, tab.advance(fmt.Sprintf("n%d", i), 1, now, now.Add(time.Minute), now))
	}
	later := now.Add(2 * time.Minute)
	require.True(t, tab.advance("fresh", 1, later, later.Add(time.Minute), later))
	assert.Equal(t, 1, tab.len())
	tab.mu.Lock()
	assert.True(t, tab.watermark.IsZero(), "expired entries must not raise the watermark")
	tab.mu.Unlock()
}

func TestCheckConcurrentReplayOnlyOneWins(t *testing.T) {
	a, _ := newTestAuth(t, Config{})
	chal := firstChallenge(t, a, phoneIP, "MD5")
	hdr := answer(t, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, 1)

	var (
		wg sync.WaitGroup
		mu sync.Mutex // guards ok
		ok int
	)
	for range 16 {
		wg.Go(func() {
			res, err := a.Check(context.Background(), register(t, hdr), phoneIP, testUser, "")
			if err == nil && res.OK {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, ok)
}

func BenchmarkCheck(b *testing.B) {
	creds := NewMemCredentials()
	creds.Set(testUser, testRealm, testPass)
	a := New(Config{Realm: testRealm}, creds)
	res, err := a.Check(context.Background(), register(b), phoneIP, testUser, "")
	require.NoError(b, err)
	chal := challengeFor(b, res.Challenges, "MD5")
	// A distinct nc per request keeps each one valid (not a replay); the
	// replay table is reset, untimed, whenever the set is used up.
	reqs := make([]*sipmsg.Request, 1024)
	for i := range reqs {
		reqs[i] = register(b, answer(b, chal, "REGISTER", "sip:"+testRealm, testUser, testPass, i+1))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(reqs)
		if j == 0 && i > 0 {
			b.StopTimer()
			a.nc = newNCTable(DefaultMaxNonces)
			b.StartTimer()
		}
		res, err := a.Check(ctx, reqs[j], phoneIP, testUser, "")
		if err != nil || !res.OK {
			b.Fatalf("check failed: %v %v", err, res.Reason)
		}
	}
}
func TestCheckInvalidSourceChallenges(t *testing.T) {
	a, _ := newTestAuth(t, Config{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}})
	res, err := a.Check(context.Background(), register(t), netip.Addr{}, testUser, "")
	require.NoError(t, err)
	assert.False(t, res.OK, "an unknown source is never trusted")
	assert.Equal(t, 401, res.Code)
}
