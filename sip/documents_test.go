package sip

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/pidf"
)

// heldBody is a confirmed call whose local target does not render media,
// with the value in attribute attr.
func heldBody(attr string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:201@pbx.example.com">
 <dialog id="d1" call-id="c1" local-tag="l1" remote-tag="r1" direction="initiator">
  <state>confirmed</state>
  <local><identity>sip:201@pbx.example.com</identity>
   <target uri="sip:201@10.0.0.7"><param pname="+sip.rendering" %s="no"/></target></local>
  <remote><identity>sip:202@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`, attr)
}

func TestPublishedHoldInEitherForm(t *testing.T) {
	tests := []struct {
		name string
		attr string
	}{
		{name: "rfc 4235 pval", attr: "pval"},
		{name: "asterisk pvalue", attr: "pvalue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, Config{})
			pbx := newPhone(t, srv, "UDP")
			pbx.Request("PUBLISH", ext201, 1, "pub-hold-"+tt.attr, "p", "", "Event: dialog\nExpires: 120\n", heldBody(tt.attr))
			res := pbx.Response("PUBLISH")
			require.Equal(t, 200, res.StatusCode, res.Reason)

			v, err := srv.core.Get(context.Background(), mustAOR(t, "201@pbx.example.com"))
			require.NoError(t, err)
			assert.Equal(t, presence.LineOnHold, v.Line)
			require.Len(t, v.Dialogs, 1)
			assert.True(t, v.Dialogs[0].Held)
		})
	}
}

// TestPIDFPublishInventsNoBinding: a softphone that never registered
// publishes "open": watchers see it online, but it is not registered.
func TestPIDFPublishInventsNoBinding(t *testing.T) {
	srv := startServer(t, Config{})
	watcher := newPhone(t, srv, "UDP")
	watcher.Request("SUBSCRIBE", ext201, 1, "sub-unreg", "s1", "", "Event: presence\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	doc, err := pidf.Parse(watcher.Notify(200).Body())
	require.NoError(t, err)
	assert.Equal(t, pidf.Closed, doc.Tuples[0].Basic, "never seen: offline")
	assert.Empty(t, doc.Activities)

	softphone := newPhone(t, srv, "UDP")
	body := `<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:201@pbx.example.com">
 <tuple id="t1"><status><basic>open</basic></status></tuple>
</presence>`
	softphone.Request("PUBLISH", ext201, 1, "pub-unreg", "ps", "", "Event: presence\nContent-Type: application/pidf+xml\nExpires: 600\n", body)
	res := softphone.Response("PUBLISH")
	require.Equal(t, 200, res.StatusCode, res.Reason)

	doc, err = pidf.Parse(watcher.Notify(200).Body())
	require.NoError(t, err)
	assert.Equal(t, pidf.Open, doc.Tuples[0].Basic, "an open publication is online")
	v, err := srv.core.Get(context.Background(), mustAOR(t, "201@pbx.example.com"))
	require.NoError(t, err)
	assert.False(t, v.Registered, "no REGISTER, no binding")
	assert.Equal(t, presence.LineIdle, v.Line)
}

// TestSharedBodiesAreEachNotifysOwn: a fan-out's shared bodies give every
// watcher the bytes rendering its NOTIFY alone would, in either event
// package and with either dialog setting, and a watcher whose newest view
// is another one gets that view rendered, not the shared one.
func TestSharedBodiesAreEachNotifysOwn(t *testing.T) {
	aor := presence.NewAOR("201", "pbx.example.com")
	idle := presence.View{AOR: aor, Registered: true, Line: presence.LineIdle, Status: presence.StatusAvailable, Version: 7}
	busy := presence.View{AOR: aor, Registered: true, Line: presence.LineInCall, Status: presence.StatusDND, Version: 8, Note: `<"&>`,
		Dialogs: []presence.Dialog{
			{ID: "d1", CallID: "c1", LocalTag: "l1", RemoteTag: "r1", Direction: presence.DirectionRecipient, State: presence.DialogConfirmed,
				Remote: presence.Party{URI: "sip:+33491550142@pbx.example.com", Display: "Pharmacie \"du\" Port"}},
			{CallID: "c2", Direction: presence.DirectionInitiator, State: presence.DialogEarly, Held: true,
				Local: presence.Party{URI: "sip:201@pbx.example.com", Display: "Reception"}},
		}}
	for _, single := range []bool{false, true} {
		s := &Server{cfg: Config{SingleDialog: single}}
		for _, event := range []presence.Event{presence.EventDialog, presence.EventPresence} {
			sub := &subscription{localParty: &localParty{event: event, aor: aor}}
			for _, v := range []presence.View{idle, busy} {
				shared := newViewBodies(v, single)
				for _, version := range []uint64{0, 1, 99, 1 << 40} {
					wantType, want := s.render(sub, v, version, nil)
					gotType, got := s.render(sub, v, version, shared)
					require.Equal(t, wantType, gotType)
					require.Equal(t, string(want), string(got), "single %v, %s, view %d, version %d", single, event, v.Version, version)
				}
			}
			// A newer view than the fan-out's is rendered for itself.
			shared := newViewBodies(idle, single)
			_, want := s.render(sub, busy, 3, nil)
			_, got := s.render(sub, busy, 3, shared)
			require.Equal(t, string(want), string(got))
		}
	}
}
