package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
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

// TestKamailioResyncAfterRestart restarts Switchboard (embedded store, no
// Redis): the recipe sends it every binding again (when its probe comes
// back, and every RESYNC_INTERVAL s), so the registered phones are known
// within 5 s, long before their next REGISTER.
func TestKamailioResyncAfterRestart(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-resync")
	kam := startRecipe(t, []*instance{sb}, "RESYNC_INTERVAL=3")
	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-resync-reg-201", 1)
	p202.register("kam-resync-reg-202", 1)
	require.Eventually(t, func() bool { return p201.bindingAt(sb.sipAddr()) > 0 && p202.bindingAt(sb.sipAddr()) > 0 },
		5*time.Second, 100*time.Millisecond, "registrations copied to switchboard")

	sb.kill()
	sb.start()
	restarted := time.Now()
	require.Eventually(t, func() bool { return p201.bindingAt(sb.sipAddr()) > 0 && p202.bindingAt(sb.sipAddr()) > 0 },
		5*time.Second, 100*time.Millisecond, "registered phones known again after the restart")
	t.Logf("phones known again %s after the restart", time.Since(restarted).Round(10*time.Millisecond))
	// With the lifetime they have left at Kamailio, not a fresh one.
	assert.InDelta(t, p201.bindingAt(kam.addr()), p201.bindingAt(sb.sipAddr()), 3)
}

// TestKamailioFailover runs two Switchboard instances sharing Redis and
// NATS behind the recipe's dispatcher and kills one: REGISTER copies, BLF
// subscriptions and call state reach the other.
func TestKamailioFailover(t *testing.T) {
	requireKamailio(t)
	redisURL, natsURL := harness.Redis(t), harness.NATS(t)
	a := startInstance(t, "kam-fo-a", "--redis", redisURL, "--nats", natsURL)
	b := startInstance(t, "kam-fo-b", "--redis", redisURL, "--nats", natsURL)
	kam := startRecipe(t, []*instance{a, b})
	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-fo-reg-201", 1)
	require.Eventually(t, func() bool { return p201.bindingAt(b.sipAddr()) > 0 },
		5*time.Second, 100*time.Millisecond, "201's registration in the shared state")

	a.kill()
	// Until Kamailio's probe (every second, 5 s timeout) marks A down, a
	// copy may still go there and be lost; the phone's next REGISTER
	// (here: the next attempt) reaches B.
	cseq := 1
	require.Eventually(t, func() bool {
		cseq++
		p202.register("kam-fo-reg-202", cseq)
		return p202.bindingAt(b.sipAddr()) > 0
	}, 20*time.Second, time.Second, "202's REGISTER copied to the live instance")

	// BLF through Kamailio, served by B; a call lights the lamp.
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-fo-blf")
	ringAnswerHangup(t, w, p201, p202, "kam-fo-call", 5*time.Second)
	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 through B")
}

// TestKamailioCallerID runs the recipe WITH_CALLERID: before the callee's
// phone rings, Kamailio asks Switchboard's /v1/lookup with a pbx key; the
// INVITE reaching 201 names the caller from the directory, and a caller
// 201 blocked gets 603 without 201's phone ringing.
func TestKamailioCallerID(t *testing.T) {
	requireKamailio(t)
	redisURL, natsURL := harness.Redis(t), harness.NATS(t)
	sb := startInstance(t, "kam-cid", "--redis", redisURL, "--nats", natsURL, "--region", "FR")
	admin := mintKey(t, redisURL, "--admin", "--scopes", "users:admin,company:write,lookup")
	pbxKey := mintKey(t, redisURL, "--pbx", "--domain", kamDomain)
	user := mintKey(t, redisURL, "--user", "201@"+kamDomain, "--scopes", "contacts:personal")

	code, body, _ := sb.call("PUT", "/v1/users/201@"+kamDomain, admin, `{"first_name":"Ana","last_name":"Silva"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, body, _ = sb.call("POST", "/v1/contacts", admin,
		`{"kind":"company","domain":"`+kamDomain+`","company":"ACME Marseille","phones":[{"type":"work","number":"+33 4 91 55 01 42"}]}`)
	require.Equal(t, 201, code, body)
	code, body, _ = sb.call("POST", "/v1/contacts", user,
		`{"kind":"personal","first_name":"Pushy","last_name":"Seller","phones":[{"type":"mobile","number":"+33 6 12 34 56 78"}]}`)
	require.Equal(t, 201, code, body)
	var created struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &created))
	code, body, _ = sb.call("PUT", "/v1/contacts/"+created.Contact.ID+"/marks/blocked", user, "")
	require.Contains(t, []int{200, 204}, code, body)
	require.Eventually(t, func() bool {
		_, b1, _ := sb.call("GET", "/v1/lookup?number=0491550142&callee=201", pbxKey, "")
		_, b2, _ := sb.call("GET", "/v1/lookup?number=0612345678&callee=201", pbxKey, "")
		return strings.Contains(b1, "ACME Marseille") && strings.Contains(b2, `"blocked":true`)
	}, 5*time.Second, 50*time.Millisecond, "the directory answers both numbers")

	kam := startRecipe(t, []*instance{sb}, "WITH_CALLERID",
		fmt.Sprintf("SWITCHBOARD_API=\"http://%s\"", sb.http), fmt.Sprintf("SWITCHBOARD_KEY=\"%s\"", pbxKey))
	p201 := newPhone(t, "201", kam.addr())
	p201.register("kam-cid-reg-201", 1)

	// A known caller: 201's phone shows the directory's name.
	acme := newPhone(t, "0491550142", kam.addr())
	c := dial(t, acme, p201, "kam-cid-call-1")
	assert.Equal(t, "ACME Marseille", c.invite.From().DisplayName, "caller name on 201's INVITE")
	c.callee.reply(c.invite, 486, "Busy Here", c.toTag)
	assert.Equal(t, 486, acme.awaitResponse("INVITE", "kam-cid-call-1").StatusCode)
	p201.awaitRequest("ACK", "kam-cid-call-1") // Kamailio's ACK to the 486

	// A blocked caller: 603 from Kamailio, 201's phone never rings.
	seller := newPhone(t, "0612345678", kam.addr())
	seller.request("INVITE", p201.uri(), "<"+seller.uri()+">;tag=fb", "<"+p201.uri()+">", "kam-cid-call-2", 1,
		"Contact: "+seller.contact()+"\n", sdp)
	assert.Equal(t, 603, seller.awaitResponse("INVITE", "kam-cid-call-2").StatusCode)
	p201.NoMessage(500 * time.Millisecond)

	// Fail open: with the lookup unanswerable (nothing listens there), the
	// call rings with the caller's own name.
	kam2 := startRecipe(t, []*instance{sb}, "WITH_CALLERID",
		fmt.Sprintf("SWITCHBOARD_API=\"http://127.0.0.1:%d\"", harness.FreePort(t)), fmt.Sprintf("SWITCHBOARD_KEY=\"%s\"", pbxKey))
	p201b := newPhone(t, "201", kam2.addr())
	p201b.register("kam-cid-reg-201b", 1)
	caller := newPhone(t, "0491550142", kam2.addr())
	caller.request("INVITE", p201b.uri(), "\"Own Name\" <"+caller.uri()+">;tag=fo", "<"+p201b.uri()+">", "kam-cid-call-3", 1,
		"Contact: "+caller.contact()+"\n", sdp)
	inv := p201b.awaitRequest("INVITE", "kam-cid-call-3")
	assert.Equal(t, "Own Name", inv.From().DisplayName, "caller name when the lookup fails")
	p201b.reply(inv, 486, "Busy Here", "tfo")
	assert.Equal(t, 486, caller.awaitResponse("INVITE", "kam-cid-call-3").StatusCode)
}

// TestKamailioSoftphonePresence runs the recipe WITH_AUTH: a softphone's
// presence PUBLISH is challenged at Kamailio, then reaches Switchboard
// with its identity asserted and is accepted; publishing another
// extension's presence is refused even with valid credentials.
func TestKamailioSoftphonePresence(t *testing.T) {
	requireKamailio(t)
	db := t.TempDir()
	require.NoError(t, os.CopyFS(db, os.DirFS("../deploy/kamailio/dbtext")))
	sub, err := os.OpenFile(filepath.Join(db, "subscriber"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fmt.Fprintf(sub, "1:202:%s:s3cret-202::\n", kamDomain)
	require.NoError(t, err)
	require.NoError(t, sub.Close())
	sb := startInstance(t, "kam-softphone")
	kam := startRecipeWith(t, db, []*instance{sb}, "WITH_AUTH")
	w := siptest.NewPhone(t, "UDP", kam.addr())
	w.Request("SUBSCRIBE", ext202, 1, "kam-soft-w", "w", "", "Event: presence\nExpires: 600\n", "")
	require.Equal(t, 200, w.Response("SUBSCRIBE").StatusCode)
	w.Notify(200)

	p := newPhone(t, "202", kam.addr())
	pidfDoc := strings.ReplaceAll(`<?xml version="1.0" encoding="UTF-8"?>
<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" entity="ENTITY">
 <tuple id="t1"><status><basic>open</basic></status></tuple>
 <dm:person id="p1"><dm:note>In a meeting</dm:note></dm:person>
</presence>`, "\n", "\r\n")
	publish := func(ruri, callID string, cseq int, auth string) *sipmsg.Response {
		t.Helper()
		body := strings.Replace(pidfDoc, "ENTITY", ruri, 1)
		p.Send(fmt.Sprintf("PUBLISH %s SIP/2.0\r\nVia: SIP/2.0/UDP $ADDR;branch=%s;rport\r\nMax-Forwards: 70\r\nFrom: <%s>;tag=sp\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: %d PUBLISH\r\nEvent: presence\r\nExpires: 600\r\nP-Asserted-Identity: <%s>\r\n%sContent-Type: application/pidf+xml\r\nContent-Length: %d\r\n\r\n%s",
			ruri, sipmsg.GenerateBranchN(12), ext202, ruri, callID, cseq, ruri, auth, len(body), body))
		return p.awaitResponse("PUBLISH", callID)
	}
	answer := func(res *sipmsg.Response, ruri string) string {
		t.Helper()
		require.Equal(t, 407, res.StatusCode, res.Reason)
		chal, err := digest.ParseChallenge(res.GetHeader("Proxy-Authenticate").Value())
		require.NoError(t, err)
		creds, err := digest.Digest(chal, digest.Options{Method: "PUBLISH", URI: ruri, Username: "202", Password: "s3cret-202", Count: 1, Cnonce: "0a4f113b"})
		require.NoError(t, err)
		return "Proxy-Authorization: " + creds.String() + "\r\n"
	}

	// Its own presence: challenged, then accepted by Switchboard, and the
	// watcher sees the note.
	res := publish(ext202, "kam-soft-1", 1, "")
	res = publish(ext202, "kam-soft-1", 2, answer(res, ext202))
	require.Equal(t, 200, res.StatusCode, res.Reason)
	assert.Contains(t, string(w.Notify(200).Body()), "In a meeting")

	// 201's presence with 202's credentials (and a forged identity):
	// auth_check refuses a digest user other than the PUBLISH's To user,
	// so the phone is challenged again and nothing reaches Switchboard.
	res = publish(ext201, "kam-soft-2", 1, "")
	res = publish(ext201, "kam-soft-2", 2, answer(res, ext201))
	assert.Equal(t, 407, res.StatusCode, res.Reason)
	assert.NotContains(t, sb.logs.String(), "kam-soft-2", "the PUBLISH reached switchboard")
}

// TestKamailioLostHangupClears: both phones vanish mid-call without a BYE;
// the recipe's in-dialog keepalives (KA_INTERVAL 30 s, the least Kamailio
// takes) go unanswered, Kamailio ends the dialog and pua publishes it
// terminated: the lamp goes out within KA_INTERVAL + 25 s, the bound the
// recipe documents (ka_timer 10 s + tm timeout 5 s + 10 s of grace).
func TestKamailioLostHangupClears(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-lost")
	kam := startRecipe(t, []*instance{sb}, "KA_INTERVAL=30")
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-lost-blf")
	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-lost-reg-201", 1)
	p202.register("kam-lost-reg-202", 1)
	c := dial(t, p202, p201, "kam-lost-call")
	c.ring()
	w.await("early", 5*time.Second)
	c.answer()
	w.await("confirmed", 5*time.Second)
	answered := time.Now()
	// The phones now answer nothing (their OPTIONS keepalives time out).
	// The watcher's NOTIFYs queue up meanwhile; the NOTIFY is answered
	// late, which Switchboard's retransmissions cover.
	time.Sleep(30*time.Second + 25*time.Second)
	w.await("idle", 5*time.Second)
	t.Logf("lamp out at most %s after the answer", time.Since(answered).Round(time.Second))
	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 in order")
}
