package sip

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 3261 §8.2.2.3: an option we do not support in Require gets 420 with
// the options in Unsupported, and nothing else happens.
func TestRequireUnsupportedExtension(t *testing.T) {
	srv := startServer(t, Config{})
	tests := []struct {
		name, method, ruri, headers string
		wantCode                    int
		wantUnsupported             string
	}{
		{name: "unknown option on SUBSCRIBE", method: "SUBSCRIBE", ruri: ext201, headers: "Event: presence\nRequire: foo\n", wantCode: 420, wantUnsupported: "foo"},
		{name: "several, one header each", method: "SUBSCRIBE", ruri: ext201, headers: "Event: dialog\nRequire: foo, bar\nRequire: baz\n", wantCode: 420, wantUnsupported: "foo, bar, baz"},
		{name: "path on REGISTER: Path is not kept", method: "REGISTER", ruri: "sip:pbx.example.com", headers: "Require: path\nExpires: 600\n", wantCode: 420, wantUnsupported: "path"},
		{name: "PUBLISH", method: "PUBLISH", ruri: ext201, headers: "Event: presence\nRequire: 100rel\n", wantCode: 420, wantUnsupported: "100rel"},
		{name: "OPTIONS", method: "OPTIONS", ruri: "sip:pbx.example.com", headers: "Require: timer\n", wantCode: 420, wantUnsupported: "timer"},
		{name: "no Require", method: "OPTIONS", ruri: "sip:pbx.example.com", wantCode: 200},
		{name: "empty Require", method: "OPTIONS", ruri: "sip:pbx.example.com", headers: "Require: \n", wantCode: 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPhone(t, srv, "UDP")
			p.Request(tt.method, tt.ruri, 1, "req-"+string(rune('a'+i)), "r", "", tt.headers, "")
			res := p.Response(tt.method)
			require.Equal(t, tt.wantCode, res.StatusCode, res.Reason)
			assert.Equal(t, tt.wantUnsupported, header(res, "Unsupported"))
		})
	}
	assert.Zero(t, srv.edge.Subscriptions(), "a refused SUBSCRIBE created nothing")
}

// After the subscriber's own un-SUBSCRIBE the final NOTIFY says
// "terminated" and gives no reason: it did not time out (RFC 6665 §4.2.2).
func TestUnsubscribeFinalNotifyGivesNoReason(t *testing.T) {
	srv := startServer(t, Config{})
	for _, event := range []string{"dialog", "presence"} {
		t.Run(event, func(t *testing.T) {
			w := newPhone(t, srv, "UDP")
			w.Request("SUBSCRIBE", ext201, 1, "unsub-"+event, "w1", "", "Event: "+event+"\nExpires: 600\n", "")
			res := w.Response("SUBSCRIBE")
			require.Equal(t, 200, res.StatusCode)
			toTag, _ := res.To().Params.Get("tag")
			w.Notify(200)
			w.Request("SUBSCRIBE", ext201, 2, "unsub-"+event, "w1", toTag, "Event: "+event+"\nExpires: 0\n", "")
			require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
			n := w.Notify(200)
			assert.Equal(t, "terminated", header(n, "Subscription-State"))
			assert.NotEmpty(t, n.Body(), "the final NOTIFY still carries the state")
		})
	}
}
