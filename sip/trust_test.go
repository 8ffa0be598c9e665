package sip

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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/auth"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

const (
	pbxIP    = "127.0.0.2" // the trusted PBX in these tests
	otherIP  = "127.0.0.3" // an untrusted second source
	password = "s3cret"
)

var pbxCIDR = []netip.Prefix{netip.MustParsePrefix(pbxIP + "/32")}

func authServer(t *testing.T, cfg Config, policy Policy) *testServer {
	t.Helper()
	creds := auth.NewMemCredentials()
	for _, u := range []string{"201", "300"} {
		creds.Set(u, "pbx.example.com", password)
	}
	return startServerWith(t, cfg, serverOpts{deps: Deps{Auth: auth.New(auth.Config{Realm: "pbx.example.com"}, creds), Policy: policy}})
}

func TestDigestAuthentication(t *testing.T) {
	srv := authServer(t, Config{TrustedCIDRs: pbxCIDR}, nil)
	const reg = "sip:pbx.example.com"
	tests := []struct {
		name    string
		method  string
		ruri    string
		from    string
		pass    string // "" sends no credentials
		want    int
		wantHdr string
	}{
		{name: "register challenged", method: "REGISTER", ruri: reg, from: siptest201, want: 401, wantHdr: "WWW-Authenticate"},
		{name: "register with password", method: "REGISTER", ruri: reg, from: siptest201, pass: password, want: 200},
		{name: "register wrong password rechallenged", method: "REGISTER", ruri: reg, from: siptest201, pass: "guess", want: 401, wantHdr: "WWW-Authenticate"},
		{name: "subscribe challenged", method: "SUBSCRIBE", ruri: ext201, from: watcher300, want: 401},
		{name: "subscribe with password", method: "SUBSCRIBE", ruri: ext201, from: watcher300, pass: password, want: 200},
		{name: "publish own state", method: "PUBLISH", ruri: watcher300, from: watcher300, pass: password, want: 200},
		{name: "publish another's state", method: "PUBLISH", ruri: ext201, from: watcher300, pass: password, want: 403},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRawPhone(t, otherIP, srv.udp)
			headers := ""
			body := ""
			switch tt.method {
			case "SUBSCRIBE":
				headers = "Event: dialog\n"
			case "PUBLISH":
				headers = "Event: dialog\nContent-Type: application/dialog-info+xml\n"
				body = earlyBody(0, "early")
			}
			callID := "auth-" + sipmsg.GenerateTagN(6)
			p.Request(tt.method, tt.ruri, tt.from, callID, 1, headers, body)
			res := p.Response(tt.method)
			if tt.pass != "" {
				require.Equal(t, 401, res.StatusCode, res.Reason)
				user := strings.TrimPrefix(strings.Split(tt.from, "@")[0], "sip:")
				p.Request(tt.method, tt.ruri, tt.from, callID, 2, headers+siptest.Authorization(t, res, tt.method, tt.ruri, user, tt.pass), body)
				res = p.Response(tt.method)
			}
			assert.Equal(t, tt.want, res.StatusCode, "%d: %s", i, res.Reason)
			if tt.wantHdr != "" {
				assert.NotEmpty(t, header(res, tt.wantHdr))
			}
		})
	}
	assert.NotZero(t, srv.edge.Stats().AuthChallenged)
}

const (
	siptest201 = "sip:201@pbx.example.com"
	watcher300 = "sip:300@pbx.example.com"
)

func TestTrustedSources(t *testing.T) {
	t.Run("auth on: pbx skips the challenge for register and publish only", func(t *testing.T) {
		srv := authServer(t, Config{TrustedCIDRs: pbxCIDR}, nil)
		pbx := newRawPhone(t, pbxIP, srv.udp)
		pbx.Request("REGISTER", "sip:pbx.example.com", siptest201, "t-reg", 1, "Expires: 600\n", "")
		assert.Equal(t, 200, pbx.Response("REGISTER").StatusCode)
		pbx.Request("PUBLISH", ext201, watcher300, "t-pub", 1, "Event: dialog\nContent-Type: application/dialog-info+xml\n", earlyBody(0, "early"))
		assert.Equal(t, 200, pbx.Response("PUBLISH").StatusCode, "the PBX publishes for any extension")
		pbx.Request("SUBSCRIBE", ext201, watcher300, "t-sub", 1, "Event: dialog\n", "")
		assert.Equal(t, 401, pbx.Response("SUBSCRIBE").StatusCode, "a SUBSCRIBE is a watcher's, trusted source or not")
	})
	t.Run("auth off: publish only from the pbx", func(t *testing.T) {
		srv := startServer(t, Config{TrustedCIDRs: pbxCIDR})
		pbx := newRawPhone(t, pbxIP, srv.udp)
		other := newRawPhone(t, otherIP, srv.udp)
		body := earlyBody(0, "early")
		other.Request("PUBLISH", ext201, siptest201, "o-pub", 1, "Event: dialog\nContent-Type: application/dialog-info+xml\n", body)
		assert.Equal(t, 403, other.Response("PUBLISH").StatusCode)
		pbx.Request("PUBLISH", ext201, siptest201, "p-pub", 1, "Event: dialog\nContent-Type: application/dialog-info+xml\n", body)
		assert.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
		other.Request("SUBSCRIBE", ext201, watcher300, "o-sub", 1, "Event: dialog\n", "")
		assert.Equal(t, 200, other.Response("SUBSCRIBE").StatusCode, "no auth: subscribing stays open")
	})
}

// switchPolicy is a Policy whose answer the test changes.
type switchPolicy struct {
	mu  sync.Mutex // guards dec and err
	dec Decision
	err error
}

func (p *switchPolicy) set(d Decision) { p.mu.Lock(); p.dec = d; p.mu.Unlock() }

func (p *switchPolicy) Allowed(context.Context, presence.AOR, presence.AOR) (Decision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dec, p.err
}

func TestPresenceAuthorization(t *testing.T) {
	allow := NewAllowList()
	allow.Allow(mustAOR(t, "201@pbx.example.com"), "400@pbx.example.com", "group:reception")
	allow.SetGroup("reception", mustAOR(t, "310@pbx.example.com"))
	allow.Allow(mustAOR(t, "202@pbx.example.com"), "*@pbx.example.com")
	srv := startServerWith(t, Config{Domains: []string{"pbx.example.com", "other.example.org"}}, serverOpts{deps: Deps{Policy: allow}})
	tests := []struct {
		name   string
		target string
		from   string
		want   int
	}{
		{name: "other domain", target: "sip:203@pbx.example.com", from: "sip:300@other.example.org", want: 403},
		{name: "same domain, no entry", target: "sip:203@pbx.example.com", from: watcher300, want: 200},
		{name: "ip host maps to default domain", target: "sip:203@pbx.example.com", from: "sip:300@127.0.0.1", want: 200},
		{name: "listed watcher", target: ext201, from: "sip:400@pbx.example.com", want: 200},
		{name: "group member", target: ext201, from: "sip:310@pbx.example.com", want: 200},
		{name: "not listed", target: ext201, from: watcher300, want: 403},
		{name: "domain wildcard", target: "sip:202@pbx.example.com", from: watcher300, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newRawPhone(t, otherIP, srv.udp)
			p.Request("SUBSCRIBE", tt.target, tt.from, "az-"+sipmsg.GenerateTagN(6), 1, "Event: dialog\n", "")
			assert.Equal(t, tt.want, p.Response("SUBSCRIBE").StatusCode)
		})
	}
}

func TestPendingSubscription(t *testing.T) {
	for _, tt := range []struct {
		name      string
		then      Decision
		wantState string
		wantBody  bool
	}{
		{name: "allowed later", then: Allow, wantState: "active;expires=", wantBody: true},
		{name: "denied later", then: Deny, wantState: "terminated;reason=rejected", wantBody: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pol := &switchPolicy{dec: Pending}
			srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Policy: pol}})
			w := newPhone(t, srv, "UDP")
			w.Request("SUBSCRIBE", ext201, 1, "pend-1", "w1", "", "Event: dialog\nExpires: 600\n", "")
			res := w.Response("SUBSCRIBE")
			require.Equal(t, 202, res.StatusCode, res.Reason)
			n := w.Notify(200)
			assert.True(t, strings.HasPrefix(header(n, "Subscription-State"), "pending"), header(n, "Subscription-State"))
			assert.Empty(t, n.Body(), "a pending subscription sees no state")
			assert.Empty(t, header(n, "Content-Type"))

			pol.set(tt.then)
			srv.edge.Reauthorize(t.Context())
			n = w.Notify(200)
			assert.True(t, strings.HasPrefix(header(n, "Subscription-State"), tt.wantState), header(n, "Subscription-State"))
			if tt.wantBody {
				dialogDoc(t, n)
			} else {
				assert.Empty(t, n.Body())
			}
		})
	}
}

func TestPolicyFailure(t *testing.T) {
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Policy: &switchPolicy{err: errors.New("directory down")}}})
	w := newPhone(t, srv, "UDP")
	w.Request("SUBSCRIBE", ext201, 1, "pf-1", "w1", "", "Event: dialog\n", "")
	assert.Equal(t, 500, w.Response("SUBSCRIBE").StatusCode)
}

func TestSubscriptionCaps(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		targets []string
		want    []int
	}{
		{name: "per watcher", cfg: Config{MaxSubscriptionsPerWatcher: 2},
			targets: []string{"sip:201@pbx.example.com", "sip:202@pbx.example.com", "sip:203@pbx.example.com"}, want: []int{200, 200, 403}},
		{name: "per target", cfg: Config{MaxSubscriptionsPerTarget: 2, MaxSubscriptionsPerWatcher: -1},
			targets: []string{ext201, ext201, ext201, "sip:202@pbx.example.com"}, want: []int{200, 200, 403, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, tt.cfg)
			w := newPhone(t, srv, "UDP")
			for i, target := range tt.targets {
				w.Request("SUBSCRIBE", target, 1, "cap-"+sipmsg.GenerateTagN(6), "w1", "", "Event: dialog\n", "")
				res := w.Response("SUBSCRIBE")
				assert.Equal(t, tt.want[i], res.StatusCode, "subscription %d: %s", i, res.Reason)
			}
			assert.Equal(t, 2, countOK(tt.want[:2]), "sanity")
		})
	}
}

func countOK(codes []int) int {
	n := 0
	for _, c := range codes {
		if c == 200 {
			n++
		}
	}
	return n
}

// TestRateLimit is the overload check: a burst from one source is cut off
// with 503 and Retry-After while another source is still served.
func TestRateLimit(t *testing.T) {
	srv := startServer(t, Config{RateLimit: 50, RateBurst: 100})
	flood := newRawPhone(t, "127.0.0.1", srv.udp)
	const burst = 300
	for i := range burst {
		flood.Request("REGISTER", "sip:pbx.example.com", siptest201, fmt.Sprintf("flood-%d", i), 1, "Expires: 600\n", "")
	}
	codes := map[int]int{}
	retryAfter := ""
	for range burst {
		m := flood.Recv(time.Second)
		if m == nil {
			break
		}
		if res, ok := m.(*sipmsg.Response); ok {
			codes[res.StatusCode]++
			if res.StatusCode == 503 && retryAfter == "" {
				retryAfter = header(res, "Retry-After")
			}
		}
	}
	t.Logf("responses to %d REGISTERs: %v", burst, codes)
	assert.Positive(t, codes[503], "some refused")
	assert.LessOrEqual(t, codes[200], 100+20, "no more than the burst plus refill got through")
	assert.Equal(t, "1", retryAfter, "Retry-After from the limiter")
	assert.GreaterOrEqual(t, srv.edge.Stats().RateLimited, uint64(codes[503]))

	other := newRawPhone(t, otherIP, srv.udp)
	other.Request("REGISTER", "sip:pbx.example.com", "sip:202@pbx.example.com", "calm", 1, "Expires: 600\n", "")
	assert.Equal(t, 200, other.Response("REGISTER").StatusCode, "another source is unaffected")
}

func TestRateLimitExemptsTrusted(t *testing.T) {
	srv := startServer(t, Config{RateLimit: 1, RateBurst: 1, TrustedCIDRs: pbxCIDR})
	pbx := newRawPhone(t, pbxIP, srv.udp)
	for i := range 5 {
		pbx.Request("OPTIONS", "sip:pbx.example.com", siptest201, "ex-"+sipmsg.GenerateTagN(4), i+1, "", "")
		assert.Equal(t, 200, pbx.Response("OPTIONS").StatusCode)
	}
}

func TestAllowListDecisions(t *testing.T) {
	l := NewAllowList()
	target := presence.NewAOR("201", "pbx.example.com")
	l.Allow(target)
	d, err := l.Allowed(t.Context(), presence.NewAOR("300", "pbx.example.com"), target)
	require.NoError(t, err)
	assert.Equal(t, Deny, d, "an empty entry hides the target")
	l.Remove(target)
	d, _ = l.Allowed(t.Context(), presence.NewAOR("300", "pbx.example.com"), target)
	assert.Equal(t, Allow, d, "no entry: the domain rule alone")
	assert.Equal(t, "pending", Pending.String())
}

// TestTrustedRelayedPublish: the PBX's own PUBLISHes (one Via) pass for any
// extension; a phone's PUBLISH the PBX relays (two Vias) passes only for
// presence, with a P-Asserted-Identity naming the entity.
func TestTrustedRelayedPublish(t *testing.T) {
	const phoneVia = "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKphone1;rport=5060;received=10.0.0.9\n"
	const pidfDoc = `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:201@pbx.example.com">
 <tuple id="l1"><status><basic>open</basic></status></tuple>
</presence>`
	dialog := "Event: dialog\nContent-Type: application/dialog-info+xml\n"
	pres := "Event: presence\nContent-Type: application/pidf+xml\n"
	tests := []struct {
		name    string
		headers string
		body    string
		want    int
	}{
		{name: "the pbx's own dialog state", headers: dialog, body: earlyBody(0, "early"), want: 200},
		{name: "the pbx's own presence", headers: pres, body: pidfDoc, want: 200},
		{name: "the pbx's own dialog state through itself", headers: "Via: SIP/2.0/UDP " + pbxIP + ":5060;branch=z9hG4bKpua1\n" + dialog, body: earlyBody(0, "early"), want: 200},
		{name: "a phone's dialog state with a forged pbx via", headers: "Via: SIP/2.0/UDP " + pbxIP + ":5060;branch=z9hG4bKpua1;received=10.0.0.9\n" + dialog, body: earlyBody(0, "early"), want: 403},
		{name: "a phone's dialog state relayed", headers: phoneVia + dialog, body: earlyBody(0, "early"), want: 403},
		{name: "a phone's dialog state relayed with an identity", headers: phoneVia + "P-Asserted-Identity: <sip:201@pbx.example.com>\n" + dialog, body: earlyBody(0, "early"), want: 403},
		{name: "a phone's presence relayed without an identity", headers: phoneVia + pres, body: pidfDoc, want: 403},
		{name: "a phone's presence relayed as another", headers: phoneVia + "P-Asserted-Identity: <sip:202@pbx.example.com>\n" + pres, body: pidfDoc, want: 403},
		{name: "a phone's presence relayed as itself", headers: phoneVia + "P-Asserted-Identity: \"Ann\" <sip:201@pbx.example.com>\n" + pres, body: pidfDoc, want: 200},
	}
	for _, auth := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("auth=%v/%s", auth, tt.name), func(t *testing.T) {
				var srv *testServer
				if auth {
					srv = authServer(t, Config{TrustedCIDRs: pbxCIDR}, nil)
				} else {
					srv = startServer(t, Config{TrustedCIDRs: pbxCIDR})
				}
				pbx := newRawPhone(t, pbxIP, srv.udp)
				pbx.Request("PUBLISH", ext201, siptest201, "rp-pub", 1, tt.headers, tt.body)
				res := pbx.Response("PUBLISH")
				assert.Equal(t, tt.want, res.StatusCode, res.Reason)
			})
		}
	}
}

// TestTrustedRegisterExpiry: a REGISTER the PBX forwards keeps the lifetime
// the PBX granted, below the minimum or above the maximum; a phone's own
// below the minimum gets 423.
func TestTrustedRegisterExpiry(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		expires string
		code    int
		granted string
	}{
		{name: "pbx, below the minimum", from: pbxIP, expires: "30", code: 200, granted: "expires=30"},
		{name: "pbx, above the maximum", from: pbxIP, expires: "10800", code: 200, granted: "expires=10800"},
		{name: "phone, below the minimum", from: otherIP, expires: "30", code: 423},
		{name: "phone, above the maximum", from: otherIP, expires: "10800", code: 200, granted: "expires=7200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, Config{TrustedCIDRs: pbxCIDR})
			p := newRawPhone(t, tt.from, srv.udp)
			p.Request("REGISTER", "sip:pbx.example.com", siptest201, "te-reg", 1, "Expires: "+tt.expires+"\n", "")
			res := p.Response("REGISTER")
			require.Equal(t, tt.code, res.StatusCode, res.Reason)
			if tt.granted != "" {
				assert.Contains(t, header(res, "Contact"), tt.granted)
			}
		})
	}
}
