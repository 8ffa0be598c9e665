package sip

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

const ext201 = "sip:201@pbx.example.com"

func header(m interface{ GetHeader(string) sipmsg.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

func dialogDoc(t *testing.T, n *sipmsg.Request) *dialoginfo.Document {
	t.Helper()
	require.Equal(t, typeDialogInfo, header(n, "Content-Type"))
	doc, err := dialoginfo.Parse(n.Body())
	require.NoError(t, err, string(n.Body()))
	return doc
}

func earlyBody(version int, state string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:201@pbx.example.com">
 <dialog id="call-77" call-id="call-77@pbx" local-tag="lt77" remote-tag="rt77" direction="recipient">
  <state>%s</state>
  <local><identity>sip:201@pbx.example.com</identity></local>
  <remote><identity display="Marseille Office">sip:+33491550142@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`, version, state)
}

func TestBLFEndToEnd(t *testing.T) {
	for _, tp := range []string{"UDP", "TCP"} {
		t.Run(tp, func(t *testing.T) {
			srv := startServer(t, Config{})
			deskPhone := newPhone(t, srv, tp)
			watcher := newPhone(t, srv, tp)
			pbx := newPhone(t, srv, tp)

			// The extension registers.
			deskPhone.Request("REGISTER", "sip:pbx.example.com", 1, "reg-1", "r1", "", "Expires: 600\n", "")
			res := deskPhone.Response("REGISTER")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			assert.Contains(t, header(res, "Contact"), "expires=600")

			// A BLF key subscribes: 200 with a To tag, then the idle NOTIFY.
			watcher.Request("SUBSCRIBE", ext201, 1, "sub-1", "w1", "", "Event: dialog\nAccept: application/dialog-info+xml\nExpires: 300\n", "")
			res = watcher.Response("SUBSCRIBE")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			toTag, _ := res.To().Params.Get("tag")
			require.NotEmpty(t, toTag)
			assert.Equal(t, "300", header(res, "Expires"))
			n := watcher.Notify(200)
			assert.Equal(t, "active;expires=300", header(n, "Subscription-State"))
			assert.Equal(t, "dialog", header(n, "Event"))
			ft, _ := n.From().Params.Get("tag")
			assert.Equal(t, toTag, ft, "NOTIFY is in the subscription's dialog")
			doc := dialogDoc(t, n)
			assert.Equal(t, uint64(0), doc.Version)
			assert.Equal(t, "full", doc.State)
			assert.Empty(t, doc.Dialogs, "idle")
			firstCSeq := n.CSeq().SeqNo

			// The PBX publishes a ringing call: the lamp blinks, showing who calls.
			pbx.Request("PUBLISH", ext201, 1, "pub-1", "p1", "", "Event: dialog\nExpires: 120\n", earlyBody(0, "early"))
			res = pbx.Response("PUBLISH")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			etag := header(res, "SIP-ETag")
			require.NotEmpty(t, etag)
			n = watcher.Notify(200)
			doc = dialogDoc(t, n)
			assert.Equal(t, uint64(1), doc.Version)
			assert.Greater(t, n.CSeq().SeqNo, firstCSeq)
			require.Len(t, doc.Dialogs, 1)
			d := doc.Dialogs[0]
			assert.Equal(t, "early", d.State)
			assert.Equal(t, "recipient", d.Direction)
			assert.Equal(t, "call-77@pbx", d.CallID)
			assert.Equal(t, "lt77", d.LocalTag)
			assert.Equal(t, "rt77", d.RemoteTag)
			assert.Equal(t, "Marseille Office", d.Remote.Display)
			assert.Equal(t, "sip:+33491550142@pbx.example.com", d.Remote.Identity)

			// Answered.
			pbx.Request("PUBLISH", ext201, 2, "pub-1", "p1", "", "Event: dialog\nExpires: 120\nSIP-If-Match: "+etag+"\n", earlyBody(1, "confirmed"))
			res = pbx.Response("PUBLISH")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			etag2 := header(res, "SIP-ETag")
			require.NotEqual(t, etag, etag2)
			n = watcher.Notify(200)
			doc = dialogDoc(t, n)
			assert.Equal(t, uint64(2), doc.Version)
			require.Len(t, doc.Dialogs, 1)
			assert.Equal(t, "confirmed", doc.Dialogs[0].State)
			assert.Equal(t, "Marseille Office", doc.Dialogs[0].Remote.Display, "remote identity kept while the call is up")

			// An entity-tag the compositor never issued is refused with 412
			// (RFC 3903 §6 step 5).
			pbx.Request("PUBLISH", ext201, 3, "pub-1", "p1", "", "Event: dialog\nExpires: 120\nSIP-If-Match: x"+etag+"\n", earlyBody(2, "terminated"))
			res = pbx.Response("PUBLISH")
			assert.Equal(t, 412, res.StatusCode)

			// Hung up: the lamp goes off.
			pbx.Request("PUBLISH", ext201, 4, "pub-1", "p1", "", "Event: dialog\nExpires: 120\nSIP-If-Match: "+etag2+"\n", earlyBody(3, "terminated"))
			res = pbx.Response("PUBLISH")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			n = watcher.Notify(200)
			doc = dialogDoc(t, n)
			assert.Equal(t, uint64(3), doc.Version)
			assert.Empty(t, doc.Dialogs)

			// Un-SUBSCRIBE: 200, then the final NOTIFY.
			watcher.Request("SUBSCRIBE", ext201, 2, "sub-1", "w1", toTag, "Event: dialog\nExpires: 0\n", "")
			res = watcher.Response("SUBSCRIBE")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			n = watcher.Notify(200)
			assert.True(t, strings.HasPrefix(header(n, "Subscription-State"), "terminated"), header(n, "Subscription-State"))

			// The dialog is gone: a refresh gets 481.
			watcher.Request("SUBSCRIBE", ext201, 3, "sub-1", "w1", toTag, "Event: dialog\nExpires: 300\n", "")
			res = watcher.Response("SUBSCRIBE")
			assert.Equal(t, 481, res.StatusCode)
			assert.Equal(t, 0, srv.edge.Subscriptions())
		})
	}
}

func mustAOR(t *testing.T, s string) presence.AOR {
	t.Helper()
	a, err := presence.ParseAOR(s)
	require.NoError(t, err)
	return a
}

func TestPresenceFollowsRegistration(t *testing.T) {
	srv := startServer(t, Config{RegisterMinExpires: time.Second})
	deskPhone := newPhone(t, srv, "UDP")
	softphone := newPhone(t, srv, "TCP")

	deskPhone.Request("REGISTER", "sip:pbx.example.com", 1, "reg-1", "r1", "", "Expires: 2\n", "")
	require.Equal(t, 200, deskPhone.Response("REGISTER").StatusCode)

	softphone.Request("SUBSCRIBE", ext201, 1, "sub-p", "s1", "", "Event: presence\nAccept: application/pidf+xml\n", "")
	res := softphone.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "3600", header(res, "Expires"), "RFC 3856 default")
	n := softphone.Notify(200)
	require.Equal(t, typePIDF, header(n, "Content-Type"))
	doc, err := pidf.Parse(n.Body())
	require.NoError(t, err)
	require.NotEmpty(t, doc.Tuples)
	assert.Equal(t, pidf.Open, doc.Tuples[0].Basic)

	// The binding lapses: the extension is offline, PIDF closed. The
	// REGISTER's own change may reach the subscription after its first
	// NOTIFY and repeat "open" once before that.
	for i := 0; ; i++ {
		n = softphone.Notify(200)
		doc, err = pidf.Parse(n.Body())
		require.NoError(t, err)
		if doc.Tuples[0].Basic == pidf.Closed {
			break
		}
		require.Less(t, i, 1, "a second open NOTIFY before the binding lapsed")
	}
}

func TestStatusPublishedBySoftphone(t *testing.T) {
	srv := startServer(t, Config{})
	softphone := newPhone(t, srv, "UDP")
	watcher := newPhone(t, srv, "UDP")

	watcher.Request("SUBSCRIBE", ext201, 1, "sub-p", "s1", "", "Event: presence\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(200)

	body := `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:201@pbx.example.com">
 <tuple id="l1"><status><basic>open</basic></status></tuple>
 <dm:person id="p1"><rpid:activities><rpid:busy/></rpid:activities><dm:note>In a meeting</dm:note></dm:person>
</presence>`
	softphone.Request("PUBLISH", ext201, 1, "pub-s", "ps", "", "Event: presence\nContent-Type: application/pidf+xml\nExpires: 600\n", body)
	res := softphone.Response("PUBLISH")
	require.Equal(t, 200, res.StatusCode, res.Reason)

	n := watcher.Notify(200)
	doc, err := pidf.Parse(n.Body())
	require.NoError(t, err)
	assert.Equal(t, pidf.Open, doc.Tuples[0].Basic)
	assert.Contains(t, doc.Activities, "busy", "DND shows as RPID busy")
}

func TestSubscriptionExpires(t *testing.T) {
	srv := startServer(t, Config{SubscribeMinExpires: time.Second})
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-x", "w1", "", "Event: dialog\nExpires: 1\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	n := watcher.Notify(200)
	assert.Equal(t, "active;expires=1", header(n, "Subscription-State"))
	n = watcher.Notify(200)
	assert.Equal(t, "terminated;reason=timeout", header(n, "Subscription-State"))
	require.Eventually(t, func() bool { return srv.edge.Subscriptions() == 0 }, 2*time.Second, 20*time.Millisecond)
}

func TestFailedNotifyEndsSubscription(t *testing.T) {
	srv := startServer(t, Config{})
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-y", "w1", "", "Event: dialog\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(481) // the phone forgot the subscription (RFC 6665 §4.2.2)
	require.Eventually(t, func() bool { return srv.edge.Subscriptions() == 0 }, 2*time.Second, 20*time.Millisecond)
}

func TestRefusals(t *testing.T) {
	srv := startServer(t, Config{})
	tests := []struct {
		name     string
		method   string
		ruri     string
		headers  string
		body     string
		wantCode int
		wantHdr  string
	}{
		{name: "unknown event package", method: "SUBSCRIBE", ruri: ext201, headers: "Event: message-summary\n", wantCode: 489, wantHdr: "Allow-Events"},
		{name: "missing event", method: "SUBSCRIBE", ruri: ext201, wantCode: 400},
		{name: "subscription too brief", method: "SUBSCRIBE", ruri: ext201, headers: "Event: dialog\nExpires: 5\n", wantCode: 423, wantHdr: "Min-Expires"},
		{name: "expires not a number", method: "SUBSCRIBE", ruri: ext201, headers: "Event: dialog\nExpires: soon\n", wantCode: 400},
		{name: "unacceptable body type", method: "SUBSCRIBE", ruri: ext201, headers: "Event: dialog\nAccept: text/plain\n", wantCode: 406},
		{name: "domain not served", method: "SUBSCRIBE", ruri: "sip:201@other.example.org", headers: "Event: dialog\n", wantCode: 404},
		{name: "registration too brief", method: "REGISTER", ruri: "sip:pbx.example.com", headers: "Expires: 10\n", wantCode: 423, wantHdr: "Min-Expires"},
		{name: "publish malformed dialog-info", method: "PUBLISH", ruri: ext201, headers: "Event: dialog\n", body: "<dialog-info><oops", wantCode: 400},
		{name: "publish wrong content type", method: "PUBLISH", ruri: ext201, headers: "Event: dialog\nContent-Type: text/plain\n", body: "hello", wantCode: 415},
		{name: "publish without body or etag", method: "PUBLISH", ruri: ext201, headers: "Event: dialog\n", wantCode: 400},
		{name: "publish entity tag unknown", method: "PUBLISH", ruri: ext201, headers: "Event: dialog\nSIP-If-Match: nope\n", wantCode: 412},
		{name: "publish unknown event", method: "PUBLISH", ruri: ext201, headers: "Event: reg\n", body: "x", wantCode: 489},
		{name: "billion laughs", method: "PUBLISH", ruri: ext201, headers: "Event: dialog\n", body: `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="1" state="full" entity="&b;"/>`, wantCode: 400},
		{name: "unsupported method", method: "MESSAGE", ruri: ext201, wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPhone(t, srv, "UDP")
			p.Request(tt.method, tt.ruri, 1, "bad-"+sipmsg.GenerateTagN(6), "b1", "", tt.headers, tt.body)
			res := p.Response(tt.method)
			assert.Equal(t, tt.wantCode, res.StatusCode, res.Reason)
			if tt.wantHdr != "" {
				assert.NotEmpty(t, header(res, tt.wantHdr))
			}
		})
	}

	// Garbage, truncated and oversized datagrams: no answer is owed, and the
	// server keeps serving.
	c, err := net.Dial("udp", srv.udp)
	require.NoError(t, err)
	defer c.Close()
	for _, junk := range []string{"\x00\x01\x02garbage", "REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP", strings.Repeat("A", 60000)} {
		_, err := c.Write([]byte(junk))
		require.NoError(t, err)
	}
	p := newPhone(t, srv, "UDP")
	p.Request("OPTIONS", "sip:pbx.example.com", 1, "opt-1", "o1", "", "", "")
	res := p.Response("OPTIONS")
	assert.Equal(t, 200, res.StatusCode)
	assert.Contains(t, header(res, "Allow-Events"), "dialog")
}

func TestRegistrarRules(t *testing.T) {
	srv := startServer(t, Config{})
	p := newPhone(t, srv, "UDP")

	// Two devices, a refresh, an out-of-order CSeq, then Contact: *.
	p.Request("REGISTER", "sip:pbx.example.com", 1, "reg-a", "ra", "", "Expires: 300\n", "")
	require.Equal(t, 200, p.Response("REGISTER").StatusCode)
	p.Send("REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bKdev2;rport\nFrom: <sip:201@pbx.example.com>;tag=rb\nTo: <sip:201@pbx.example.com>\nCall-ID: reg-b\nCSeq: 7 REGISTER\nContact: <sip:201@10.1.1.2:5062>;expires=120\nContent-Length: 0\n\n")
	res := p.Response("REGISTER")
	require.Equal(t, 200, res.StatusCode)
	assert.Len(t, res.GetHeaders("Contact"), 2, "the 200 lists every binding")

	p.Send("REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bKdev2b;rport\nFrom: <sip:201@pbx.example.com>;tag=rb\nTo: <sip:201@pbx.example.com>\nCall-ID: reg-b\nCSeq: 6 REGISTER\nContact: <sip:201@10.1.1.2:5062>;expires=120\nContent-Length: 0\n\n")
	assert.Equal(t, 500, p.Response("REGISTER").StatusCode, "CSeq went backwards")

	p.Send("REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bKstar1;rport\nFrom: <sip:201@pbx.example.com>;tag=rb\nTo: <sip:201@pbx.example.com>\nCall-ID: reg-b\nCSeq: 8 REGISTER\nContact: *\nContent-Length: 0\n\n")
	assert.Equal(t, 400, p.Response("REGISTER").StatusCode, "Contact * needs Expires: 0")

	p.Send("REGISTER sip:pbx.example.com SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bKstar2;rport\nFrom: <sip:201@pbx.example.com>;tag=rb\nTo: <sip:201@pbx.example.com>\nCall-ID: reg-b\nCSeq: 9 REGISTER\nContact: *\nExpires: 0\nContent-Length: 0\n\n")
	res = p.Response("REGISTER")
	require.Equal(t, 200, res.StatusCode)
	assert.Empty(t, res.GetHeaders("Contact"))
	v, err := srv.core.Get(t.Context(), mustAOR(t, "201@pbx.example.com"))
	require.NoError(t, err)
	assert.Equal(t, "offline", string(v.Line))
}

func TestShortPublicationFromPBX(t *testing.T) {
	tests := []struct {
		name    string
		trusted bool
		want    int
	}{
		{name: "the PBX may publish a hang-up for 11 s", trusted: true, want: 200},
		{name: "others get 423 with Min-Expires", trusted: false, want: 423},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.trusted {
				cfg.TrustedCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			}
			srv := startServer(t, cfg)
			pbx := newPhone(t, srv, "UDP")
			pbx.Request("PUBLISH", ext201, 1, "pub-short", "p", "", "Event: dialog\nExpires: 11\n", earlyBody(0, "terminated"))
			res := pbx.Response("PUBLISH")
			assert.Equal(t, tt.want, res.StatusCode, res.Reason)
		})
	}
}

func TestSubscriptionsOf(t *testing.T) {
	srv := startServer(t, Config{})
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "count-1", "w1", "", "Event: dialog\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(200)

	by, watching := srv.edge.SubscriptionsOf(mustAOR(t, "201@pbx.example.com"))
	assert.Equal(t, [2]int{1, 0}, [2]int{by, watching}, "201 is watched")
	by, watching = srv.edge.SubscriptionsOf(mustAOR(t, "300@pbx.example.com"))
	assert.Equal(t, [2]int{0, 1}, [2]int{by, watching}, "300's phone watches")
}

// TestSubscribeRecordRouteOnce: the 200 to a SUBSCRIBE relayed by two
// proxies lists their Record-Routes once each, in order, and the NOTIFYs
// carry that route set as Route headers (RFC 3261 §12.1.1, §12.2.1.1).
func TestSubscribeRecordRouteOnce(t *testing.T) {
	srv := startServer(t, Config{})
	watcher := newPhone(t, srv, "UDP")
	// The first route is the watcher itself, so the NOTIFYs reach it.
	first := "<sip:" + watcher.Addr() + ";lr>"
	second := "<sip:proxy2.pbx.example.com;lr>"
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-rr", "wrr", "",
		"Event: dialog\nExpires: 300\nRecord-Route: "+first+"\nRecord-Route: "+second+"\n", "")
	res := watcher.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode, res.Reason)
	var rr []string
	for _, h := range res.GetHeaders("Record-Route") {
		rr = append(rr, h.Value())
	}
	assert.Equal(t, []string{first, second}, rr, "Record-Route of the 200")
	n := watcher.Notify(200)
	var routes []string
	for _, h := range n.GetHeaders("Route") {
		routes = append(routes, h.Value())
	}
	assert.Equal(t, []string{first, second}, routes, "Route of the NOTIFY")
}

// TestLateChangeSendsNoRepeatNotify: a change event carrying a view the
// subscription already has (a REGISTER that raced the SUBSCRIBE) sends no
// second, identical NOTIFY; a newer view does.
func TestLateChangeSendsNoRepeatNotify(t *testing.T) {
	srv := startServer(t, Config{})
	desk := newPhone(t, srv, "UDP")
	desk.Request("REGISTER", "sip:pbx.example.com", 1, "reg-late", "r1", "", "Expires: 600\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-late", "s1", "", "Event: dialog\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	watcher.Notify(200)

	v, err := srv.core.Get(context.Background(), mustAOR(t, "201@pbx.example.com"))
	require.NoError(t, err)
	srv.edge.Changed(presence.Change{View: v})
	watcher.NoMessage(300 * time.Millisecond)

	v.Version++
	srv.edge.Changed(presence.Change{View: v})
	watcher.Notify(200)
}
