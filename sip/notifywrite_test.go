package sip

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// TestWriteNotifyIsNotifyRequest holds the lean fan-out's NOTIFY writer to
// the request sipgo builds and writes, byte for byte, Via spliced after
// the start line as the lean client does: a phone must not see which of
// the two sent it.
func TestWriteNotifyIsNotifyRequest(t *testing.T) {
	uri := func(raw string) sipmsg.Uri {
		var u sipmsg.Uri
		require.NoError(t, sipmsg.ParseUri(raw, &u), raw)
		return u
	}
	const via = "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.test\r\n"
	parties := []*localParty{
		{local: uri("sip:201@pbx.example.com"), aor: presence.NewAOR("201", "pbx.example.com"), event: presence.EventDialog,
			contact: "<sip:switchboard@10.0.0.1:5060>", transport: "UDP"},
		{local: uri("sip:alice@pbx.example.com;user=phone"), aor: presence.NewAOR("alice", "pbx.example.com"), event: presence.EventPresence,
			contact: "<sip:switchboard@[2001:db8::1]:5062;transport=tcp>", transport: "UDP"},
	}
	type variant struct {
		name string
		edit func(sub *subscription, n *notifyContent)
	}
	variants := []variant{
		{"plain", func(*subscription, *notifyContent) {}},
		{"pending, no body", func(_ *subscription, n *notifyContent) {
			n.withState, n.ctype, n.body, n.state = false, "", nil, "pending;expires=600"
		}},
		{"state with a nil body", func(_ *subscription, n *notifyContent) { n.body = nil }},
		{"display name and routes", func(sub *subscription, _ *notifyContent) {
			sub.remoteDsp = "Bob \"the\" Builder"
			sub.routes = []sipmsg.Uri{uri("sip:proxy1.example.com;lr"), uri("sip:10.0.0.9:5070;lr;transport=udp")}
		}},
		{"target with parameters and headers", func(sub *subscription, _ *notifyContent) {
			sub.target = uri("sip:300@192.0.2.7:5062;transport=udp;ob?X-Foo=bar")
		}},
		{"tags needing quotes or empty", func(sub *subscription, _ *notifyContent) {
			sub.id.localTag, sub.id.remoteTag = "a b", ""
		}},
		{"event id", func(sub *subscription, _ *notifyContent) { sub.id.eventID = "42" }},
		{"list", func(sub *subscription, _ *notifyContent) { sub.list = &adHocList{uri: "sip:rls@pbx.example.com"} }},
		{"list deflated", func(sub *subscription, _ *notifyContent) {
			sub.list = &adHocList{uri: "sip:rls@pbx.example.com", deflate: true}
		}},
	}
	s := &Server{cfg: Config{UserAgent: "Switchboard/test"}}
	for pi, lp := range parties {
		for _, v := range variants {
			t.Run(fmt.Sprintf("%d/%s", pi, v.name), func(t *testing.T) {
				sub := &subscription{
					id:         dialogID{callID: "c1@198.51.100.3", localTag: "sb1", remoteTag: "ph1"},
					localParty: lp,
					remote:     uri("sip:300@pbx.example.com"),
					target:     uri("sip:300@198.51.100.3:5062"),
				}
				n := notifyContent{cseq: 4294967295, state: "active;expires=3599", ctype: "application/dialog-info+xml",
					body: []byte("<?xml version=\"1.0\"?>\n<dialog-info/>\n"), withState: true}
				v.edit(sub, &n)

				want, got := bothNotifies(s, sub, n, via)
				require.Equal(t, string(want), string(got))
			})
		}
	}
}

// bothNotifies is n as sipgo writes notifyRequest's request, the Via
// spliced after the start line as the lean client does, and as
// writeNotify writes it.
func bothNotifies(s *Server, sub *subscription, n notifyContent, via string) (want, got []byte) {
	var req, w bytes.Buffer
	s.notifyRequest(sub, n).StringWrite(&req)
	line := bytes.Index(req.Bytes(), crlf) + len(crlf)
	want = append(append(append([]byte{}, req.Bytes()[:line]...), via...), req.Bytes()[line:]...)
	s.writeNotify(&w, sub, n, via)
	return want, w.Bytes()
}

// FuzzWriteNotify holds writeNotify to notifyRequest for any dialog
// identifiers, display name, URIs, state and body a subscription can hold.
func FuzzWriteNotify(f *testing.F) {
	f.Add("c1@198.51.100.3", "sb1", "ph1", "", "Bob", "sip:300@198.51.100.3:5062;transport=udp", "sip:proxy.example.com;lr",
		"active;expires=60", "application/dialog-info+xml", []byte("<dialog-info/>"), true, false)
	f.Add("x", "a b", "", "7", "", "sip:300@[2001:db8::1]:5062?X-A=b", "", "pending", "", []byte(nil), false, true)
	s := &Server{cfg: Config{UserAgent: "Switchboard/fuzz"}}
	const via = "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK.fuzz\r\n"
	f.Fuzz(func(t *testing.T, callID, localTag, remoteTag, eventID, display, target, route, state, ctype string, body []byte, withState, list bool) {
		var tu sipmsg.Uri
		// The target is a Contact header's URI: it cannot hold a line
		// break, and a start line with one would move where the lean
		// client splices its Via.
		if sipmsg.ParseUri(target, &tu) != nil || strings.ContainsAny(tu.String(), "\r\n") {
			return
		}
		sub := &subscription{
			id:         dialogID{callID: callID, localTag: localTag, remoteTag: remoteTag, eventID: eventID},
			localParty: &localParty{local: sipmsg.Uri{Scheme: "sip", User: "201", Host: "pbx.example.com"}, event: presence.EventPresence, contact: "<sip:sb@127.0.0.1>"},
			remote:     sipmsg.Uri{Scheme: "sip", User: "300", Host: "pbx.example.com"},
			remoteDsp:  display,
			target:     tu,
		}
		var ru sipmsg.Uri
		if route != "" && sipmsg.ParseUri(route, &ru) == nil {
			sub.routes = []sipmsg.Uri{ru}
		}
		if list {
			sub.list = &adHocList{deflate: withState}
		}
		n := notifyContent{cseq: uint32(len(body)), state: state, ctype: ctype, body: body, withState: withState}

		if want, got := bothNotifies(s, sub, n, via); !bytes.Equal(want, got) {
			t.Fatalf("writeNotify differs from notifyRequest:\n%q\n%q", want, got)
		}
	})
}
