package sip

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/auth"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// Two tenants, each with its own 201: the passwords differ.
const (
	passA201 = "password-a-201"
	passA202 = "password-a-202"
	passB201 = "password-b-201"
	passB300 = "password-b-300"
)

// logBuffer collects the edge's logs; handlers write concurrently.
type logBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tenantServer serves a.example and b.example with digest auth on and the
// PBX at pbxIP trusted.
func tenantServer(t *testing.T, cfg auth.Config) (*testServer, *logBuffer) {
	t.Helper()
	creds := auth.NewMemCredentials()
	creds.Set("201", "a.example", passA201)
	creds.Set("202", "a.example", passA202)
	creds.Set("201", "b.example", passB201)
	creds.Set("300", "b.example", passB300)
	logs := &logBuffer{}
	log := zerolog.New(logs)
	srv := startServerWith(t, Config{Domains: []string{"a.example", "b.example"}, TrustedCIDRs: pbxCIDR},
		serverOpts{deps: Deps{Auth: auth.New(cfg, creds)}, log: &log})
	return srv, logs
}

// send writes a request with explicit From and To (rawPhone.Request derives
// them from the Request-URI).
func send(p *rawPhone, method, ruri, from, to, callID string, cseq int, headers, body string) {
	p.t.Helper()
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n") // as Send will, so Content-Length holds
	p.Send(fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bK%s;rport\nMax-Forwards: 70\nFrom: <%s>;tag=%s\nTo: <%s>\nCall-ID: %s\nCSeq: %d %s\n%sContent-Length: %d\n\n%s",
		method, ruri, sipmsg.GenerateBranchN(8), from, sipmsg.GenerateTagN(6), to, callID, cseq, method, headers, len(body), body))
}

// challenge sends method without credentials and returns the 401.
func challenge(t *testing.T, p *rawPhone, method, ruri, from, to, headers string) *sipmsg.Response {
	t.Helper()
	send(p, method, ruri, from, to, "ch-"+sipmsg.GenerateTagN(6), 1, headers, "")
	res := p.Response(method)
	require.Equal(t, 401, res.StatusCode, res.Reason)
	return res
}

func realmOf(t *testing.T, res *sipmsg.Response) string {
	t.Helper()
	c, err := digest.ParseChallenge(header(res, "WWW-Authenticate"))
	require.NoError(t, err)
	return c.Realm
}

func bindingsOf(t *testing.T, srv *testServer, aor string) []presence.Binding {
	t.Helper()
	a, err := presence.ParseAOR(aor)
	require.NoError(t, err)
	bs, err := srv.core.Bindings(t.Context(), a)
	require.NoError(t, err)
	return bs
}

func TestCrossTenantRegisterForbidden(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	const contact = "Contact: <sip:201@$ADDR>\nExpires: 600\n"

	// b.example's 201 registers its own phone.
	owner := newRawPhone(t, "127.0.0.4", srv.udp)
	res := challenge(t, owner, "REGISTER", "sip:b.example", "sip:201@b.example", "sip:201@b.example", contact)
	assert.Equal(t, "b.example", realmOf(t, res))
	send(owner, "REGISTER", "sip:b.example", "sip:201@b.example", "sip:201@b.example", "own", 2,
		contact+siptest.Authorization(t, res, "REGISTER", "sip:b.example", "201", passB201), "")
	require.Equal(t, 200, owner.Response("REGISTER").StatusCode)
	require.Len(t, bindingsOf(t, srv, "201@b.example"), 1)

	// a.example's 201 gets a challenge for its own AOR and answers it,
	// with b.example's 201 in To: a binding, and the wildcard removal of
	// all of them.
	attacker := newRawPhone(t, otherIP, srv.udp)
	answerA := func() string {
		res := challenge(t, attacker, "REGISTER", "sip:a.example", "sip:201@a.example", "sip:201@a.example", contact)
		require.Equal(t, "a.example", realmOf(t, res))
		return siptest.Authorization(t, res, "REGISTER", "sip:a.example", "201", passA201)
	}
	for _, tt := range []struct{ name, headers string }{
		{name: "binding", headers: "Contact: <sip:evil@$ADDR>\nExpires: 600\n"},
		{name: "contact star", headers: "Contact: *\nExpires: 0\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			send(attacker, "REGISTER", "sip:a.example", "sip:201@b.example", "sip:201@b.example", "x-"+tt.name, 2, tt.headers+answerA(), "")
			res := attacker.Response("REGISTER")
			assert.Equal(t, 403, res.StatusCode, res.Reason)
			assert.Empty(t, header(res, "WWW-Authenticate"))
		})
	}
	bs := bindingsOf(t, srv, "201@b.example")
	require.Len(t, bs, 1, "b.example's binding is kept and no other added")
	assert.NotContains(t, bs[0].Contact, "evil")

	// Sent to b.example, the a.example answer is not for its realm: a new
	// challenge, for b.example.
	creds := answerA()
	send(attacker, "REGISTER", "sip:b.example", "sip:201@b.example", "sip:201@b.example", "x-realm", 2, "Contact: <sip:evil@$ADDR>\nExpires: 600\n"+creds, "")
	res = attacker.Response("REGISTER")
	require.Equal(t, 401, res.StatusCode)
	assert.Equal(t, "b.example", realmOf(t, res))

	// The very same credentials are good for a.example's own 201: the
	// 403s above are for the tenant, not for the password.
	send(attacker, "REGISTER", "sip:a.example", "sip:201@a.example", "sip:201@a.example", "x-own", 3, contact+creds, "")
	assert.Equal(t, 200, attacker.Response("REGISTER").StatusCode)
	assert.Len(t, bindingsOf(t, srv, "201@b.example"), 1)
	assert.Len(t, bindingsOf(t, srv, "201@a.example"), 1)
}

func TestRegisterAsAnotherUserForbidden(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	p := newRawPhone(t, otherIP, srv.udp)
	const contact = "Contact: <sip:202@$ADDR>\nExpires: 600\n"
	res := challenge(t, p, "REGISTER", "sip:a.example", "sip:202@a.example", "sip:202@a.example", contact)
	// 201's own password, 202's AOR.
	send(p, "REGISTER", "sip:a.example", "sip:202@a.example", "sip:202@a.example", "as-202", 2,
		contact+siptest.Authorization(t, res, "REGISTER", "sip:a.example", "201", passA201), "")
	assert.Equal(t, 403, p.Response("REGISTER").StatusCode)
	assert.Empty(t, bindingsOf(t, srv, "202@a.example"))
}

func TestDigestURIMustBeTheRequestURI(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	p := newRawPhone(t, otherIP, srv.udp)
	const contact = "Contact: <sip:201@$ADDR>\nExpires: 600\n"
	res := challenge(t, p, "REGISTER", "sip:a.example", "sip:201@a.example", "sip:201@a.example", contact)
	// A response computed over another URI (one captured from a request to
	// b.example, say) is not accepted for this one.
	send(p, "REGISTER", "sip:a.example", "sip:201@a.example", "sip:201@a.example", "uri", 2,
		contact+siptest.Authorization(t, res, "REGISTER", "sip:b.example", "201", passA201), "")
	res = p.Response("REGISTER")
	assert.Equal(t, 400, res.StatusCode)
	assert.Contains(t, res.Reason, "digest uri")
	assert.Empty(t, bindingsOf(t, srv, "201@a.example"))
}

func TestSubscribeAndPublishAsAnotherUserForbidden(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	p := newRawPhone(t, otherIP, srv.udp)
	const sub = "Event: dialog\nContact: <sip:202@$ADDR>\n"
	const pub = "Event: dialog\nContent-Type: application/dialog-info+xml\n"
	body := earlyBody(0, "early")
	tests := []struct {
		name, method, ruri, from, user, pass, headers, body string
		want                                                int
	}{
		{name: "subscribe as 202 with 201's password", method: "SUBSCRIBE", ruri: "sip:201@a.example", from: "sip:202@a.example",
			user: "201", pass: passA201, headers: sub, want: 403},
		{name: "subscribe as 202 with its own", method: "SUBSCRIBE", ruri: "sip:201@a.example", from: "sip:202@a.example",
			user: "202", pass: passA202, headers: sub, want: 200},
		{name: "publish 202's state with 201's password", method: "PUBLISH", ruri: "sip:202@a.example", from: "sip:202@a.example",
			user: "201", pass: passA201, headers: pub, body: body, want: 403},
		{name: "publish 202's state as 202", method: "PUBLISH", ruri: "sip:202@a.example", from: "sip:202@a.example",
			user: "202", pass: passA202, headers: pub, body: body, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			callID := "as-" + sipmsg.GenerateTagN(6)
			send(p, tt.method, tt.ruri, tt.from, tt.ruri, callID, 1, tt.headers, tt.body)
			res := p.Response(tt.method)
			require.Equal(t, 401, res.StatusCode)
			send(p, tt.method, tt.ruri, tt.from, tt.ruri, callID, 2, tt.headers+siptest.Authorization(t, res, tt.method, tt.ruri, tt.user, tt.pass), tt.body)
			res = p.Response(tt.method)
			assert.Equal(t, tt.want, res.StatusCode, res.Reason)
		})
	}
}

func TestWatcherStaysInItsDomainWithAuth(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	p := newRawPhone(t, otherIP, srv.udp)
	const sub = "Event: dialog\nContact: <sip:300@$ADDR>\n"
	for _, tt := range []struct {
		name, target string
		want         int
	}{
		{name: "another tenant's extension", target: "sip:201@a.example", want: 403},
		{name: "its own tenant's", target: "sip:201@b.example", want: 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			callID := "w-" + sipmsg.GenerateTagN(6)
			send(p, "SUBSCRIBE", tt.target, "sip:300@b.example", tt.target, callID, 1, sub, "")
			res := p.Response("SUBSCRIBE")
			require.Equal(t, 401, res.StatusCode)
			assert.Equal(t, "b.example", realmOf(t, res), "the watcher authenticates in its own domain")
			send(p, "SUBSCRIBE", tt.target, "sip:300@b.example", tt.target, callID, 2, sub+siptest.Authorization(t, res, "SUBSCRIBE", tt.target, "300", passB300), "")
			res = p.Response("SUBSCRIBE")
			assert.Equal(t, tt.want, res.StatusCode, res.Reason)
		})
	}
}

func TestFailedAttemptsThrottledPerAccount(t *testing.T) {
	srv, logs := tenantServer(t, auth.Config{AccountFailures: 3, SourceFailures: 100})
	const contact = "Contact: <sip:201@$ADDR>\nExpires: 600\n"
	attempt := func(ip, user, pass string) *sipmsg.Response {
		p := newRawPhone(t, ip, srv.udp)
		aor := "sip:" + user + "@a.example"
		send(p, "REGISTER", "sip:a.example", aor, aor, "g-"+ip, 1, contact, "")
		res := p.Response("REGISTER")
		if res.StatusCode != 401 {
			return res
		}
		send(p, "REGISTER", "sip:a.example", aor, aor, "g-"+ip, 2, contact+siptest.Authorization(t, res, "REGISTER", "sip:a.example", user, pass), "")
		return p.Response("REGISTER")
	}
	// Three guesses from three sources, each under the per-source limits.
	for _, ip := range []string{"127.0.0.5", "127.0.0.6", "127.0.0.7"} {
		assert.Equal(t, 401, attempt(ip, "201", "guess").StatusCode, ip)
	}
	// The account is now throttled, from any source, right password or not.
	res := attempt("127.0.0.8", "201", passA201)
	assert.Equal(t, 503, res.StatusCode)
	assert.Equal(t, "10", header(res, "Retry-After"))
	assert.Empty(t, bindingsOf(t, srv, "201@a.example"))
	// Other accounts are served.
	assert.Equal(t, 200, attempt("127.0.0.8", "202", passA202).StatusCode)

	var warned bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "throttled") {
			warned = true
			assert.Contains(t, line, `"account":"201@a.example"`)
			assert.Contains(t, line, `"source":"127.0.0.7:`)
		}
	}
	assert.True(t, warned, "throttling logged at warn:\n%s", logs.String())
}

func TestTrustedPBXForwardsWithoutChallenge(t *testing.T) {
	srv, _ := tenantServer(t, auth.Config{})
	pbx := newRawPhone(t, pbxIP, srv.udp)
	send(pbx, "REGISTER", "sip:b.example", "sip:201@b.example", "sip:201@b.example", "pbx-reg", 1, "Contact: <sip:201@$ADDR>\nExpires: 600\n", "")
	assert.Equal(t, 200, pbx.Response("REGISTER").StatusCode)
	send(pbx, "PUBLISH", "sip:201@a.example", "sip:pbx@a.example", "sip:201@a.example", "pbx-pub", 1,
		"Event: dialog\nContent-Type: application/dialog-info+xml\n", earlyBody(0, "early"))
	assert.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
}
