package sip

import (
	"strings"
	"testing"
	"unsafe"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

// A compacted URI renders and compares as the parsed one, and adding a
// parameter to it leaves the original alone.
func TestCompactURI(t *testing.T) {
	for _, raw := range []string{
		"sip:300@10.0.0.5:5062;transport=tcp;lr?subject=x",
		"sips:alice:secret@pbx.example.com",
		"sip:[2001:db8::5]:5080",
		"tel:+33491550142",
	} {
		var u sipmsg.Uri
		require.NoError(t, sipmsg.ParseUri(raw, &u))
		c := compactURI(u)
		assert.Equal(t, u.String(), c.String(), raw)
		c.UriParams.Add("x", "1")
		_, has := u.UriParams.Get("x")
		assert.False(t, has, "the original keeps its parameters: %s", raw)
	}
}

// newSubscription keeps copies of the request's strings, all in one
// allocation, and of its URIs' parameters, which render as before and
// take an added parameter without touching another subscription's.
func TestNewSubscriptionCopies(t *testing.T) {
	text := "SUBSCRIBE sip:201@pbx.example.com SIP/2.0\r\nCall-ID: call-1\r\nFrom: \"Bob\" <sip:300@PBX.example.com;user=phone>;tag=f1\r\n" +
		"Contact: <sip:300@10.0.0.5:5062;transport=tcp>\r\nRR: <sip:proxy.example.com;lr;ftag=x>\r\n"
	var remote, target, route, local sipmsg.Uri
	require.NoError(t, sipmsg.ParseUri(text[strings.Index(text, "sip:300@PBX"):strings.Index(text, ">;tag")], &remote))
	require.NoError(t, sipmsg.ParseUri(text[strings.Index(text, "sip:300@10"):strings.Index(text, ">\r\nRR")], &target))
	require.NoError(t, sipmsg.ParseUri(text[strings.Index(text, "sip:proxy"):strings.LastIndex(text, ">")], &route))
	require.NoError(t, sipmsg.ParseUri(text[10:33], &local))
	d := dialogParts{
		id: dialogID{callID: text[strings.Index(text, "call-1"):][:6], localTag: "l1", remoteTag: "f1",
			eventID: text[strings.Index(text, "tag=f1"):][4:6]},
		localParty: localParty{local: local, aor: presence.AOR{User: local.User, Domain: local.Host}, event: presence.EventDialog,
			contact: "<sip:switchboard@10.0.0.1>", transport: "TCP"},
		remote: remote, remoteDsp: text[strings.Index(text, "Bob"):][:3], target: target, routes: []sipmsg.Uri{route},
		source: "10.0.0.5:40000",
	}
	sub := newSubscription(d)
	assert.Equal(t, d.id, sub.id)
	assert.Equal(t, "sip:300@PBX.example.com;user=phone", sub.remote.String())
	assert.Equal(t, "sip:300@10.0.0.5:5062;transport=tcp", sub.target.String())
	assert.Equal(t, "sip:proxy.example.com;lr;ftag=x", sub.routes[0].String())
	assert.Equal(t, "sip:201@pbx.example.com", sub.local.String())
	assert.Equal(t, "Bob", sub.remoteDsp)
	assert.Equal(t, watcherID{user: "300", host: "pbx.example.com"}, sub.watcher())

	// Nothing points into the request any more.
	inReq := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		b := uintptr(unsafe.Pointer(unsafe.StringData(text)))
		return s != "" && p >= b && p < b+uintptr(len(text))
	}
	require.True(t, inReq(d.id.callID), "the test cuts from the request")
	for _, s := range []string{sub.id.callID, sub.id.eventID, sub.remoteDsp, sub.remote.User, sub.target.User, sub.local.User,
		sub.remote.UriParams[0].V, sub.target.UriParams[0].V, sub.routes[0].UriParams[1].V, sub.aor.User} {
		assert.False(t, inReq(s), "%q is cut from the request", s)
	}

	// A parameter added to one URI's list leaves the others' alone.
	sub.target.UriParams.Add("ob", "")
	sub.remote.UriParams.Add("x", "1")
	assert.Equal(t, "sip:proxy.example.com;lr;ftag=x", sub.routes[0].String())
	assert.Equal(t, "sip:300@10.0.0.5:5062;transport=tcp;ob", sub.target.String())
}
