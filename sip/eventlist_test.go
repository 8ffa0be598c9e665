package sip

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/rlmi"
)

// friendList is the resource-lists body liblinphone 5.1 sends for a friend
// list (coreapi/friendlist.c, create_resource_list_xml), with a friend in
// another domain and one listed twice.
const friendList = `<?xml version="1.0" encoding="UTF-8"?>
<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <list>
  <entry uri="sip:201@pbx.example.com"/>
  <entry uri="sip:202@pbx.example.com"/>
  <entry uri="sip:203@pbx.example.com"/>
  <entry uri="sip:203@pbx.example.com"/>
  <entry uri="sip:900@elsewhere.example.org"/>
 </list>
</resource-lists>
`

// linphoneListHeaders are the headers liblinphone adds to its list
// SUBSCRIBE (_linphone_friend_list_send_list_subscription_with_body).
const linphoneListHeaders = "Event: presence\nExpires: 600\nRequire: recipient-list-subscribe\nSupported: eventlist\nAccept-Encoding: deflate\n" +
	"Accept: multipart/related, application/pidf+xml, application/rlmi+xml\nContent-Disposition: recipient-list\n" +
	"Content-Type: application/resource-lists+xml\n"

// sendRaw sends a request whose body goes out byte for byte.
func sendRaw(t *testing.T, p *rawPhone, method, ruri, callID, fromTag, toTag string, cseq int, headers string, body []byte) {
	t.Helper()
	to := "<" + ruri + ">"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	head := fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\nMax-Forwards: 70\nFrom: <sip:300@pbx.example.com>;tag=%s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nContact: <sip:300@%s>\n%sContent-Length: %d\n\n",
		method, ruri, p.conn.LocalAddr(), sipmsg.GenerateBranchN(8), fromTag, to, callID, cseq, method, p.conn.LocalAddr(), headers, len(body))
	msg := append([]byte(strings.ReplaceAll(head, "\n", "\r\n")), body...)
	_, err := p.conn.WriteTo(msg, p.server)
	require.NoError(t, err)
}

// nextNotify waits for a NOTIFY, answers it 200 and returns it.
func nextNotify(t *testing.T, p *rawPhone) *sipmsg.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if req, ok := p.Recv(time.Until(deadline)).(*sipmsg.Request); ok && req.Method == sipmsg.NOTIFY {
			_, err := p.conn.WriteTo([]byte(sipmsg.NewResponseFromRequest(req, 200, "OK", nil).String()), p.server)
			require.NoError(t, err)
			return req
		}
	}
	t.Fatal("no NOTIFY within 5s")
	return nil
}

type rlmiDoc struct {
	URI       string `xml:"uri,attr"`
	Version   int    `xml:"version,attr"`
	FullState bool   `xml:"fullState,attr"`
	Resources []struct {
		URI      string `xml:"uri,attr"`
		Instance struct {
			State  string `xml:"state,attr"`
			Reason string `xml:"reason,attr"`
			CID    string `xml:"cid,attr"`
		} `xml:"urn:ietf:params:xml:ns:rlmi instance"`
	} `xml:"urn:ietf:params:xml:ns:rlmi resource"`
}

// listState reads an RFC 4662 NOTIFY the way liblinphone does
// (linphone_friend_list_parse_multipart_related_body): RLMI first, each
// active instance's part found by its Content-Id equal to the cid. It
// returns the RLMI document and what Linphone shows for each resource URI.
func listState(t *testing.T, n *sipmsg.Request) (rlmiDoc, map[string]string) {
	t.Helper()
	assert.Equal(t, "eventlist", header(n, "Require"))
	assert.Equal(t, "Presence", header(n, "Event"), "as liblinphone 5.1 dispatches list NOTIFYs")
	body := n.Body()
	if header(n, "Content-Encoding") == "deflate" {
		zr, err := zlib.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		body, err = io.ReadAll(zr)
		require.NoError(t, err)
	}
	mt, params, err := mime.ParseMediaType(header(n, "Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/related", mt)
	assert.Equal(t, rlmi.ContentType, params["type"])
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	first, err := mr.NextPart()
	require.NoError(t, err)
	assert.Equal(t, "<"+first.Header.Get("Content-Id")+">", params["start"])
	assert.True(t, strings.HasPrefix(first.Header.Get("Content-Type"), rlmi.ContentType))
	var doc rlmiDoc
	b, err := io.ReadAll(first)
	require.NoError(t, err)
	require.NoError(t, xml.Unmarshal(b, &doc), string(b))
	parts := map[string][]byte{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(p)
		require.NoError(t, err)
		parts[p.Header.Get("Content-Id")] = b
	}
	shows := map[string]string{}
	for _, r := range doc.Resources {
		if r.Instance.State != "active" {
			shows[r.URI] = r.Instance.State + ":" + r.Instance.Reason
			continue
		}
		body, ok := parts[r.Instance.CID]
		require.True(t, ok, "no part with Content-Id %s", r.Instance.CID)
		shows[r.URI] = linphoneShows(t, body)
	}
	return doc, shows
}

// A liblinphone friend-list SUBSCRIBE (RFC 5367 over RFC 4662) gets every
// friend's state in one multipart NOTIFY, then each change, RLMI version
// counting up; a resource that is not ours is listed "noresource" and the
// rest of the list still works.
func TestAdHocListSubscription(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		t.Run(fmt.Sprintf("deflate=%v", deflate), func(t *testing.T) {
			srv := startServer(t, Config{})
			desk := newPhone(t, srv, "UDP")
			desk.Request("REGISTER", "sip:pbx.example.com", 1, "reg-201", "r1", "", "Expires: 600\n", "")
			require.Equal(t, 200, desk.Response("REGISTER").StatusCode)
			_, err := srv.core.SetStatus(t.Context(), mustAOR(t, "201@pbx.example.com"),
				presence.UserStatus{Status: presence.StatusDND})
			require.NoError(t, err)

			w := newRawPhone(t, "127.0.0.1", srv.udp)
			body, headers := []byte(friendList), linphoneListHeaders
			if deflate {
				var buf bytes.Buffer
				zw := zlib.NewWriter(&buf)
				_, _ = zw.Write(body)
				require.NoError(t, zw.Close())
				body, headers = buf.Bytes(), headers+"Content-Encoding: deflate\n"
			}
			sendRaw(t, w, "SUBSCRIBE", "sip:rls@pbx.example.com", "list-1", "lf1", "", 1, headers, body)
			res := w.Response("SUBSCRIBE")
			require.Equal(t, 200, res.StatusCode, res.Reason)
			toTag, _ := res.To().Params.Get("tag")
			require.NotEmpty(t, toTag)

			doc, shows := listState(t, nextNotify(t, w))
			assert.Equal(t, "sip:rls@pbx.example.com", doc.URI)
			assert.Equal(t, 0, doc.Version)
			assert.True(t, doc.FullState)
			assert.Equal(t, map[string]string{
				"sip:201@pbx.example.com":       "Do not disturb",
				"sip:202@pbx.example.com":       "Offline",
				"sip:203@pbx.example.com":       "Offline",
				"sip:900@elsewhere.example.org": "terminated:noresource",
			}, shows)

			// 202 registers: the next NOTIFY says so.
			other := newRawPhone(t, "127.0.0.1", srv.udp)
			other.Request("REGISTER", "sip:pbx.example.com", "sip:202@pbx.example.com", "reg-202", 1, "Expires: 600\n", "")
			require.Equal(t, 200, other.Response("REGISTER").StatusCode)
			// 201's own REGISTER and status may still reach the list after
			// its first NOTIFY: read on until 202 shows, versions in order.
			for want := 1; ; want++ {
				n := nextNotify(t, w)
				assert.True(t, strings.HasPrefix(header(n, "Subscription-State"), "active"))
				doc, shows = listState(t, n)
				assert.Equal(t, want, doc.Version)
				if shows["sip:202@pbx.example.com"] == "Online" {
					break
				}
				require.Less(t, want, 3, "202's registration never reached the list")
			}
			assert.Equal(t, "Do not disturb", shows["sip:201@pbx.example.com"])

			// Un-SUBSCRIBE: a final NOTIFY, then the list is gone.
			sendRaw(t, w, "SUBSCRIBE", "sip:rls@pbx.example.com", "list-1", "lf1", toTag, 2,
				"Event: presence\nExpires: 0\nSupported: eventlist\n", nil)
			require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
			n := nextNotify(t, w)
			assert.Equal(t, "terminated", header(n, "Subscription-State"))
			require.Eventually(t, func() bool { return srv.edge.Subscriptions() == 0 }, 5*time.Second, 10*time.Millisecond)
		})
	}
}

// policyFunc is a Policy deciding by a function.
type policyFunc func(watcher, target presence.AOR) Decision

func (f policyFunc) Allowed(_ context.Context, watcher, target presence.AOR) (Decision, error) {
	return f(watcher, target), nil
}

// Each listed resource is authorized as a single subscription to it
// would be: one the policy refuses is listed "rejected", and its state is
// never sent.
func TestAdHocListAuthorizesEachResource(t *testing.T) {
	pol := policyFunc(func(watcher, target presence.AOR) Decision {
		if target.User == "202" {
			return Deny
		}
		return Allow
	})
	srv := startServerWith(t, Config{}, serverOpts{deps: Deps{Policy: pol}})
	w := newRawPhone(t, "127.0.0.1", srv.udp)
	sendRaw(t, w, "SUBSCRIBE", "sip:rls@pbx.example.com", "list-2", "lf2", "", 1, linphoneListHeaders, []byte(friendList))
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	_, shows := listState(t, nextNotify(t, w))
	assert.Equal(t, "terminated:rejected", shows["sip:202@pbx.example.com"])
	assert.Equal(t, "Offline", shows["sip:201@pbx.example.com"])
}

func TestAdHocListRefusals(t *testing.T) {
	srv := startServer(t, Config{})
	tests := []struct {
		name     string
		headers  string
		body     string
		wantCode int
		wantHdr  string
	}{
		{name: "no eventlist support", headers: strings.Replace(linphoneListHeaders, "Supported: eventlist\n", "", 1), body: friendList, wantCode: 421, wantHdr: "Require"},
		{name: "not a resource list", headers: strings.Replace(linphoneListHeaders, "resource-lists+xml", "pidf+xml", 1), body: friendList, wantCode: 415, wantHdr: "Accept"},
		{name: "multipart not accepted", headers: strings.Replace(linphoneListHeaders, "multipart/related, ", "", 1), body: friendList, wantCode: 406},
		{name: "unknown encoding", headers: linphoneListHeaders + "Content-Encoding: br\n", body: friendList, wantCode: 415, wantHdr: "Accept-Encoding"},
		{name: "malformed list", headers: linphoneListHeaders, body: "<resource-lists", wantCode: 400},
		{name: "empty list", headers: linphoneListHeaders, body: `<resource-lists xmlns="urn:ietf:params:xml:ns:resource-lists"><list/></resource-lists>`, wantCode: 400},
		{name: "wrong disposition", headers: strings.Replace(linphoneListHeaders, "Content-Disposition: recipient-list", "Content-Disposition: render", 1), body: friendList, wantCode: 400},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newRawPhone(t, "127.0.0.1", srv.udp)
			sendRaw(t, w, "SUBSCRIBE", "sip:rls@pbx.example.com", fmt.Sprintf("bad-list-%d", i), "lf", "", 1, tt.headers, []byte(tt.body))
			res := w.Response("SUBSCRIBE")
			assert.Equal(t, tt.wantCode, res.StatusCode, res.Reason)
			if tt.wantHdr != "" {
				assert.NotEmpty(t, header(res, tt.wantHdr))
			}
		})
	}
	assert.Zero(t, srv.edge.Subscriptions())
}

// A list NOTIFY too large for a UDP datagram, to a subscriber that takes
// no deflate, goes over TCP to its Contact (RFC 3261 §18.1.1) rather than
// failing and ending the subscription.
func TestLargeListNotifyOverTCP(t *testing.T) {
	srv := startServer(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got := make(chan *sipmsg.Request, 1)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		var head strings.Builder
		length := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				length, _ = strconv.Atoi(strings.TrimSpace(v))
			}
			if line == "\r\n" {
				break
			}
		}
		body := make([]byte, length)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		m, err := sipmsg.ParseMessage(append([]byte(head.String()), body...))
		if err != nil {
			return
		}
		req := m.(*sipmsg.Request)
		_, _ = c.Write([]byte(sipmsg.NewResponseFromRequest(req, 200, "OK", nil).String()))
		got <- req
	}()

	w := newRawPhone(t, "127.0.0.1", srv.udp)
	headers := strings.Replace(linphoneListHeaders, "Accept-Encoding: deflate\n", "", 1)
	msg := fmt.Sprintf("SUBSCRIBE sip:rls@pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKbig1;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:300@pbx.example.com>;tag=big\r\nTo: <sip:rls@pbx.example.com>\r\nCall-ID: big-list\r\nCSeq: 1 SUBSCRIBE\r\n"+
		"Contact: <sip:300@%s;transport=tcp>\r\n%sContent-Length: %d\r\n\r\n%s",
		w.conn.LocalAddr(), ln.Addr(), strings.ReplaceAll(headers, "\n", "\r\n"), len(friendList), friendList)
	_, err = w.conn.WriteTo([]byte(msg), w.server)
	require.NoError(t, err)
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	select {
	case n := <-got:
		assert.Empty(t, header(n, "Content-Encoding"))
		_, shows := listState(t, n)
		assert.Len(t, shows, 4)
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY over TCP")
	}
	assert.Equal(t, 1, srv.edge.Subscriptions(), "the subscription lives on")
}
