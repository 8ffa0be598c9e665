package sip

import (
	"bytes"
	"fmt"
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

				var want bytes.Buffer
				s.notifyRequest(sub, n).StringWrite(&want)
				line := bytes.Index(want.Bytes(), crlf) + len(crlf)
				wantBytes := append(append(append([]byte{}, want.Bytes()[:line]...), via...), want.Bytes()[line:]...)

				var got bytes.Buffer
				s.writeNotify(&got, sub, n, via)
				require.Equal(t, string(wantBytes), got.String())
			})
		}
	}
}
