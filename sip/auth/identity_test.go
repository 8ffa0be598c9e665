package auth

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckDigestURIMustNameTheRequestURI(t *testing.T) {
	tests := []struct {
		name     string
		ruri     string
		uri      string // digest uri the client hashed
		wantCode int    // 0: OK
	}{
		{name: "same", ruri: "sip:" + testRealm, uri: "sip:" + testRealm},
		{name: "host case and parameters", ruri: "sip:" + testRealm + ";transport=tcp", uri: "sip:PBX.example.com"},
		{name: "another domain", ruri: "sip:" + testRealm, uri: "sip:b.example", wantCode: 400},
		{name: "another user", ruri: "sip:1001@" + testRealm, uri: "sip:1002@" + testRealm, wantCode: 400},
		{name: "another port", ruri: "sip:" + testRealm, uri: "sip:" + testRealm + ":5080", wantCode: 400},
		{name: "not a uri", ruri: "sip:" + testRealm, uri: "*", wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAuth(t, Config{})
			res, err := a.Check(context.Background(), request(t, "REGISTER", tt.ruri, testUser), phoneIP, testUser, testRealm)
			require.NoError(t, err)
			chal := challengeFor(t, res.Challenges, "MD5")
			req := request(t, "REGISTER", tt.ruri, testUser, answer(t, chal, "REGISTER", tt.uri, testUser, testPass, 1))
			res, err = a.Check(context.Background(), req, phoneIP, testUser, testRealm)
			require.NoError(t, err)
			if tt.wantCode == 0 {
				assert.True(t, res.OK, res.Reason)
				return
			}
			assert.False(t, res.OK)
			assert.Equal(t, tt.wantCode, res.Code)
			assert.ErrorIs(t, res.Reason, ErrURIMismatch)
			assert.Empty(t, res.Challenges)
		})
	}
}

// TestCheckRealmIsTheAORDomain: the caller names the realm (the AOR's
// domain); credentials of the same extension in another tenant never
// authenticate there.
func TestCheckRealmIsTheAORDomain(t *testing.T) {
	creds := NewMemCredentials()
	creds.Set("201", "a.example", "password-of-a")
	creds.Set("201", "b.example", "password-of-b")
	a := New(Config{}, creds)

	// Challenged for b.example although the Request-URI names a.example.
	res, err := a.Check(context.Background(), request(t, "REGISTER", "sip:a.example", "201"), phoneIP, "201", "b.example")
	require.NoError(t, err)
	chal := challengeFor(t, res.Challenges, "MD5")
	assert.Equal(t, "b.example", chal.Realm)

	// a.example's password answered for b.example's realm fails.
	hdr := answer(t, chal, "REGISTER", "sip:a.example", "201", "password-of-a", 1)
	res, err = a.Check(context.Background(), request(t, "REGISTER", "sip:a.example", "201", hdr), phoneIP, "201", "b.example")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrBadResponse)
	assert.Equal(t, "201@b.example", res.Account)

	// Credentials for a.example, sent where b.example is asked, are not
	// ours: challenged again, never checked against a.example.
	res, err = a.Check(context.Background(), request(t, "REGISTER", "sip:a.example", "201"), phoneIP, "201", "a.example")
	require.NoError(t, err)
	hdrA := answer(t, challengeFor(t, res.Challenges, "MD5"), "REGISTER", "sip:a.example", "201", "password-of-a", 1)
	res, err = a.Check(context.Background(), request(t, "REGISTER", "sip:a.example", "201", hdrA), phoneIP, "201", "b.example")
	require.NoError(t, err)
	assert.False(t, res.OK)
	assert.ErrorIs(t, res.Reason, ErrNoCredentials)

	// And in its own realm it is fine.
	res, err = a.Check(context.Background(), request(t, "REGISTER", "sip:a.example", "201", hdrA), phoneIP, "201", "a.example")
	require.NoError(t, err)
	assert.True(t, res.OK, res.Reason)
}

// guess sends one REGISTER for testUser with a wrong password from src.
func guess(t *testing.T, a *Authenticator, src netip.Addr, user, pass string) Result {
	t.Helper()
	res, err := a.Check(context.Background(), request(t, "REGISTER", "sip:"+testRealm, user), src, user, testRealm)
	require.NoError(t, err)
	if res.Code == 503 {
		return res
	}
	hdr := answer(t, challengeFor(t, res.Challenges, "MD5"), "REGISTER", "sip:"+testRealm, user, pass, 1)
	res, err = a.Check(context.Background(), request(t, "REGISTER", "sip:"+testRealm, user, hdr), src, user, testRealm)
	require.NoError(t, err)
	return res
}

func TestThrottlePerAccountAcrossSources(t *testing.T) {
	a, clk := newTestAuth(t, Config{AccountFailures: 3, SourceFailures: 100, FailureRefill: 10 * time.Second})
	srcs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3"), netip.MustParseAddr("192.0.2.4")}
	throttling := 0
	for i := range 3 {
		res := guess(t, a, srcs[i], testUser, "guess")
		require.Equal(t, 401, res.Code, "attempt %d is checked", i)
		assert.ErrorIs(t, res.Reason, ErrBadResponse)
		if res.Throttling {
			throttling++
		}
	}
	assert.Equal(t, 1, throttling, "the third failure starts the throttle, once")

	// The fourth source, even with the right password, is refused unchecked.
	res := guess(t, a, srcs[3], testUser, testPass)
	assert.Equal(t, 503, res.Code)
	assert.ErrorIs(t, res.Reason, ErrThrottled)
	assert.Equal(t, 10*time.Second, res.RetryAfter)
	assert.Equal(t, testUser+"@"+testRealm, res.Account)
	assert.Equal(t, uint64(3), a.Failures(), "a throttled attempt is not checked")

	// Another account is unaffected.
	res = guess(t, a, srcs[3], "1002", "other-pass")
	assert.True(t, res.OK, res.Reason)

	// One failure is forgiven per refill.
	clk.advance(10 * time.Second)
	res = guess(t, a, srcs[3], testUser, testPass)
	assert.True(t, res.OK, res.Reason)
}

func TestThrottlePerSourceAcrossAccounts(t *testing.T) {
	a, _ := newTestAuth(t, Config{AccountFailures: 100, SourceFailures: 2})
	for _, user := range []string{"2001", "2002"} {
		res := guess(t, a, otherIP, user, "guess")
		require.Equal(t, 401, res.Code)
		assert.ErrorIs(t, res.Reason, ErrUnknownUser, "unknown users count too")
	}
	res := guess(t, a, otherIP, testUser, testPass)
	assert.Equal(t, 503, res.Code)
	assert.Positive(t, res.RetryAfter)
	res = guess(t, a, phoneIP, testUser, testPass)
	assert.True(t, res.OK, "another source is unaffected")
}

func TestThrottleCountsUserMismatch(t *testing.T) {
	a, _ := newTestAuth(t, Config{AccountFailures: 1})
	// 1002's credentials for 1001's AOR: 403, and a failure for 1001.
	res, err := a.Check(context.Background(), register(t), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	hdr := answer(t, challengeFor(t, res.Challenges, "MD5"), "REGISTER", "sip:"+testRealm, "1002", "other-pass", 1)
	res, err = a.Check(context.Background(), register(t, hdr), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	require.Equal(t, 403, res.Code)
	assert.ErrorIs(t, res.Reason, ErrUserMismatch)
	assert.True(t, res.Throttling)

	assert.Equal(t, 503, guess(t, a, phoneIP, testUser, testPass).Code)
	// Without credentials a throttled account is still just challenged:
	// a challenge tests nothing.
	res, err = a.Check(context.Background(), register(t), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	assert.Equal(t, 401, res.Code)
}

func TestStaticSecretSharedBetweenInstances(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	creds := NewMemCredentials()
	creds.Set(testUser, testRealm, testPass)
	instA := New(Config{Secret: secret}, creds)
	instB := New(Config{Secret: secret}, creds)
	other := New(Config{Secret: []byte("another secret of 32 bytes......")}, creds)
	for _, tt := range []struct {
		name   string
		answer *Authenticator
		wantOK bool
	}{
		{name: "same secret", answer: instB, wantOK: true},
		{name: "other secret", answer: other, wantOK: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := instA.Check(context.Background(), register(t), phoneIP, testUser, testRealm)
			require.NoError(t, err)
			hdr := answer(t, challengeFor(t, res.Challenges, "SHA-256"), "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
			res, err = tt.answer.Check(context.Background(), register(t, hdr), phoneIP, testUser, testRealm)
			require.NoError(t, err)
			assert.Equal(t, tt.wantOK, res.OK, res.Reason)
			if !tt.wantOK {
				assert.ErrorIs(t, res.Reason, ErrNonceInvalid)
			}
		})
	}
	assert.ErrorIs(t, Config{Secret: []byte("short")}.Validate(), ErrShortSecret)
}

// memStore is a SecretStore in memory that can be made to fail.
type memStore struct {
	mu   sync.Mutex // guards m, down and sets
	m    map[string][]byte
	down bool
	sets int
}

func (s *memStore) GetOrSet(_ context.Context, key string, value []byte, _ time.Duration) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return nil, errors.New("store down")
	}
	if v, ok := s.m[key]; ok {
		return v, nil
	}
	s.m[key] = append([]byte(nil), value...)
	s.sets++
	return value, nil
}

func (s *memStore) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

// sharedPair returns two Authenticators sharing secrets through one store,
// on one clock.
func sharedPair(t *testing.T, store *memStore, clk *fakeClock) (*Authenticator, *Authenticator, []*SharedSecret) {
	t.Helper()
	creds := NewMemCredentials()
	creds.Set(testUser, testRealm, testPass)
	var auths []*Authenticator
	var secrets []*SharedSecret
	for range 2 {
		s := NewSharedSecret(store, "sb:test:nonce:", time.Hour, zerolog.Nop())
		s.now = clk.now
		a := New(Config{Shared: s}, creds)
		a.now = clk.now
		auths, secrets = append(auths, a), append(secrets, s)
	}
	return auths[0], auths[1], secrets
}

// crossCheck challenges on from and answers on to.
func crossCheck(t *testing.T, from, to *Authenticator, between func()) Result {
	t.Helper()
	res, err := from.Check(context.Background(), register(t), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	hdr := answer(t, challengeFor(t, res.Challenges, "MD5"), "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	if between != nil {
		between()
	}
	res, err = to.Check(context.Background(), register(t, hdr), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	return res
}

func TestSharedSecretAcrossInstancesAndRotation(t *testing.T) {
	store := &memStore{m: map[string][]byte{}}
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	instA, instB, secrets := sharedPair(t, store, clk)

	assert.False(t, crossCheck(t, instA, instB, nil).OK, "before sharing, each instance has its own secret")
	for _, s := range secrets {
		require.NoError(t, s.Refresh(t.Context()))
	}
	assert.Equal(t, 3, store.sets, "previous, current and next period: created once, read by the other")
	res := crossCheck(t, instA, instB, nil)
	assert.True(t, res.OK, res.Reason)

	// A nonce issued a minute before the rotation is answered a minute
	// after it, on the other instance, both having refreshed meanwhile.
	clk.advance(58 * time.Minute)
	res = crossCheck(t, instA, instB, func() {
		clk.advance(2 * time.Minute)
		for _, s := range secrets {
			require.NoError(t, s.Refresh(t.Context()))
		}
	})
	assert.True(t, res.OK, "the previous period's secret is still accepted: %v", res.Reason)
	assert.Equal(t, 4, store.sets, "one new period fetched ahead")

	// A nonce of two periods ago is no longer verifiable.
	old := func() string {
		res, err := instA.Check(context.Background(), register(t), phoneIP, testUser, testRealm)
		require.NoError(t, err)
		return answer(t, challengeFor(t, res.Challenges, "MD5"), "REGISTER", "sip:"+testRealm, testUser, testPass, 1)
	}()
	clk.advance(2 * time.Hour)
	for _, s := range secrets {
		require.NoError(t, s.Refresh(t.Context()))
	}
	res, err := instB.Check(context.Background(), register(t, old), phoneIP, testUser, testRealm)
	require.NoError(t, err)
	assert.ErrorIs(t, res.Reason, ErrNonceInvalid)
}

func TestSharedSecretStoreDown(t *testing.T) {
	store := &memStore{m: map[string][]byte{}}
	clk := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	instA, instB, secrets := sharedPair(t, store, clk)
	store.setDown(true)
	err := secrets[0].Refresh(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "store down")
	res := crossCheck(t, instA, instA, nil)
	assert.True(t, res.OK, "a local secret keeps the instance itself working: %v", res.Reason)

	store.setDown(false)
	for _, s := range secrets {
		require.NoError(t, s.Refresh(t.Context()))
	}
	res = crossCheck(t, instA, instB, nil)
	assert.True(t, res.OK, "recovered: %v", res.Reason)

	// A short value in the store is refused, not used as a key.
	store2 := &memStore{m: map[string][]byte{}}
	s := NewSharedSecret(store2, "p:", time.Hour, zerolog.Nop())
	s.now = clk.now
	e := s.periodOf(clk.now())
	store2.m["p:"+itoa(e)] = []byte("x")
	assert.ErrorIs(t, s.Refresh(t.Context()), ErrShortSecret)

	assert.Error(t, Config{Shared: NewSharedSecret(store, "p:", time.Minute, zerolog.Nop())}.Validate(), "rotation shorter than the nonce lifetime")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
