package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/sip/siptest"
)

// The tests here run deploy/kamailio/kamailio.cfg itself, with test-sized
// timers passed as defines, in front of real Switchboard instances.

// TestKamailioLongCallStaysLit holds an answered call for more than twice
// the publication lifetime Switchboard grants (--publish-max-expires 12s):
// pua refreshes each publication before its grant runs out, so the lamp
// shows the call, unchanged, until the hang-up.
func TestKamailioLongCallStaysLit(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-long", "--publish-max-expires", "12s")
	// pua checks every PUA_UPDATE_PERIOD-5 s and refreshes what runs out
	// within PUA_UPDATE_PERIOD s: 8 keeps the refresh 5-8 s before the end
	// of each 12 s grant.
	kam := startRecipe(t, []*instance{sb}, "PUA_UPDATE_PERIOD=8")
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-long-blf")
	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-long-reg-201", 1)
	p202.register("kam-long-reg-202", 1)

	c := dial(t, p202, p201, "kam-long-call")
	c.ring()
	w.await("early", 5*time.Second)
	c.answer()
	w.await("confirmed", 5*time.Second)
	// Held for 30 s: any expiry would NOTIFY the watcher.
	w.p.NoMessage(30 * time.Second)
	c.hangup()
	w.await("idle", 5*time.Second)
	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 in order")
	refreshed := 0
	for _, r := range kam.replies() {
		if strings.Contains(r, " PUBLISH ") && strings.HasSuffix(r, "-> 200") {
			refreshed++
		}
	}
	// Two entities, four states (trying/early/confirmed/terminated at
	// most), plus refreshes: more than the state changes alone.
	assert.Greater(t, refreshed, 8, "pua refreshed its publications:\n%s", kam.trace())
}

// TestKamailioRefusesPhonePublish: a phone's dialog PUBLISH for another
// extension, sent through Kamailio, is refused there and the lamp does not
// move; pua's own PUBLISHes still light it.
func TestKamailioRefusesPhonePublish(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-spoof")
	kam := startRecipe(t, []*instance{sb})
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-spoof-blf")
	p202 := newPhone(t, "202", kam.addr())
	p202.register("kam-spoof-reg-202", 1)

	body := `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:201@` + kamDomain + `">
 <dialog id="x" direction="recipient"><state>confirmed</state>
  <remote><identity display="Spoofed">sip:666@` + kamDomain + `</identity></remote></dialog>
</dialog-info>`
	body = strings.ReplaceAll(body, "\n", "\r\n")
	p202.Send(fmt.Sprintf("PUBLISH %s SIP/2.0\r\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bKspoof1;rport\r\nMax-Forwards: 70\r\nFrom: <%s>;tag=s1\r\nTo: <%s>\r\nCall-ID: kam-spoof-pub\r\nCSeq: 1 PUBLISH\r\nEvent: dialog\r\nExpires: 600\r\nContent-Type: application/dialog-info+xml\r\nContent-Length: %d\r\n\r\n%s",
		ext201, ext202, ext201, len(body), body))
	res := p202.awaitResponse("PUBLISH", "kam-spoof-pub")
	assert.Equal(t, 403, res.StatusCode, res.Reason)
	w.p.NoMessage(time.Second)
	assert.Equal(t, []string{"idle"}, w.seen, "201's lamp")
	assert.NotContains(t, sb.logs.String(), "kam-spoof-pub", "the PUBLISH reached switchboard")
}

// TestKamailioMessageSummaryStaysWithPBX: a voicemail SUBSCRIBE goes to the
// PBX's voicemail (VOICEMAIL), not to Switchboard; a dialog one does.
func TestKamailioMessageSummaryStaysWithPBX(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-mwi")
	// A stand-in voicemail server; it only receives (its socket's peer is
	// the discard port, so it does not answer).
	vm := newPhone(t, "vm", "127.0.0.1:9")
	kam := startRecipe(t, []*instance{sb}, fmt.Sprintf("VOICEMAIL=\"%s\"", vm.Addr()))
	p := newPhone(t, "202", kam.addr())
	p.request("SUBSCRIBE", ext201, "<"+ext202+">;tag=m1", "<"+ext201+">", "kam-mwi-sub", 1,
		"Contact: "+p.contact()+"\nEvent: message-summary\nExpires: 600\n", "")
	sub := vm.awaitRequest("SUBSCRIBE", "kam-mwi-sub")
	assert.Equal(t, "message-summary", header(sub, "Event"))
	assert.NotContains(t, sb.logs.String(), "kam-mwi-sub", "the message-summary SUBSCRIBE reached switchboard")

	// BLF still goes to Switchboard.
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-mwi-blf")
	assert.Equal(t, []string{"idle"}, w.seen)
}

// TestKamailioRegistrationsAgree: phones asking 30 s and 7200 s get what
// Kamailio grants (60 s and 3600 s), and Switchboard holds the same.
func TestKamailioRegistrationsAgree(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-reg")
	kam := startRecipe(t, []*instance{sb})
	for _, tc := range []struct {
		ext           string
		asked, wanted int
	}{{"201", 30, 60}, {"202", 7200, 3600}} {
		p := newPhone(t, tc.ext, kam.addr())
		granted := p.registerFor("kam-reg-"+tc.ext, 1, tc.asked)
		assert.Equal(t, tc.wanted, granted, "kamailio's grant to %s asking %d", tc.ext, tc.asked)
		require.Eventually(t, func() bool {
			exp := p.bindingAt(sb.sipAddr())
			return exp > 0 && exp <= tc.wanted && exp >= tc.wanted-2
		}, 5*time.Second, 100*time.Millisecond, "switchboard's binding for %s (asked %d)", tc.ext, tc.asked)
		kexp := p.bindingAt(kam.addr())
		assert.InDelta(t, tc.wanted, kexp, 2, "kamailio's binding for %s", tc.ext)
	}
	assert.Empty(t, kam.rejected("REGISTER"), "a REGISTER copy was refused")
}
