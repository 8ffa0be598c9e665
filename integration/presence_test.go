package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/dialoginfo"
	"github.com/switchboardhq/switchboard/sip/pidf"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

const ext201 = siptest.AOR

func dialogBody(version int, state string) string {
	return fmt.Sprintf(`<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="%d" state="full" entity="sip:201@pbx.example.com">
 <dialog id="call-1" call-id="call-1@pbx" local-tag="lt" remote-tag="rt" direction="recipient">
  <state>%s</state>
  <remote><identity display="Marseille Office">sip:+33491550142@pbx.example.com</identity></remote>
 </dialog>
</dialog-info>`, version, state)
}

func doc(t *testing.T, n *sipmsg.Request) *dialoginfo.Document {
	t.Helper()
	d, err := dialoginfo.Parse(n.Body())
	require.NoError(t, err, string(n.Body()))
	return d
}

func header(m interface{ GetHeader(string) sipmsg.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// subscribe makes p watch 201 and returns the To tag and the initial NOTIFY.
func subscribe(t *testing.T, p *siptest.Phone, callID string) (string, *sipmsg.Request) {
	t.Helper()
	p.Request("SUBSCRIBE", ext201, 1, callID, "w-"+callID, "", "Event: dialog\nExpires: 600\n", "")
	res := p.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode, res.Reason)
	tag, _ := res.To().Params.Get("tag")
	return tag, p.Notify(200)
}

func publish(t *testing.T, p *siptest.Phone, cseq int, ifMatch string, body string) string {
	t.Helper()
	hdr := "Event: dialog\nExpires: 120\n"
	if ifMatch != "" {
		hdr += "SIP-If-Match: " + ifMatch + "\n"
	}
	p.Request("PUBLISH", ext201, cseq, "pub-"+ifMatch+fmt.Sprint(cseq), "pb", "", hdr, body)
	res := p.Response("PUBLISH")
	require.Equal(t, 200, res.StatusCode, res.Reason)
	return header(res, "SIP-ETag")
}

func TestSIPpQuickPass(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		if os.Getenv("SWITCHBOARD_INTEGRATION") == "required" {
			t.Fatal("sipp is required (Debian package sip-tester)")
		}
		t.Skip("sipp not installed (Debian package sip-tester)")
	}
	in := startInstance(t, "sipp", "--log-level", "warn", "--domain", "example.com")
	for _, tp := range []string{"u1", "t1"} {
		t.Run(tp, func(t *testing.T) {
			out, err := exec.Command("bash", "sipp/run.sh", in.sipAddr(), "quick", tp).CombinedOutput()
			t.Logf("%s", out)
			require.NoError(t, err, "every SIPp call must pass")
			for _, sc := range []string{"register:", "subscribe:", "publish:"} {
				assert.Contains(t, string(out), sc)
			}
			assert.NotContains(t, string(out), "successful=0 ")
		})
	}
}

func TestTwoInstancesActAsOne(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	a := startInstance(t, "a", "--redis", redisURL, "--nats", natsURL)
	b := startInstance(t, "b", "--redis", redisURL, "--nats", natsURL)

	// A desk phone watches 201 through instance B.
	watcher := siptest.NewPhone(t, "UDP", b.sipAddr())
	_, n := subscribe(t, watcher, "two-1")
	require.Empty(t, doc(t, n).Dialogs)

	// The extension registers and the PBX publishes a ringing call, both
	// through instance A.
	deskPhone := siptest.NewPhone(t, "UDP", a.sipAddr())
	deskPhone.Request("REGISTER", "sip:pbx.example.com", 1, "reg-two", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, deskPhone.Response("REGISTER").StatusCode)
	pbx := siptest.NewPhone(t, "TCP", a.sipAddr())
	publish(t, pbx, 1, "", dialogBody(0, "early"))

	// B NOTIFYs its subscriber; the registration alone changes nothing a
	// dialog subscriber sees, so the next document shows the call.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		n = watcher.Notify(200)
		d := doc(t, n)
		if len(d.Dialogs) == 1 {
			assert.Equal(t, "early", d.Dialogs[0].State)
			assert.Equal(t, "Marseille Office", d.Dialogs[0].Remote.Display)
			assert.GreaterOrEqual(t, d.Version, uint64(1), "version goes on from the initial NOTIFY")
			return
		}
	}
	t.Fatal("instance B never NOTIFYed the call instance A learned")
}

func TestRestartResumesSubscriptions(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	a := startInstance(t, "restart", "--redis", redisURL, "--nats", natsURL)
	watcher := siptest.NewPhone(t, "UDP", a.sipAddr())
	_, n := subscribe(t, watcher, "restart-1")
	firstCSeq := n.CSeq().SeqNo
	firstVersion := doc(t, n).Version

	a.kill() // a crash: no final NOTIFY, state only in Redis
	a.start()

	// The restarted instance NOTIFYs its old subscriber with the current
	// state, in the same dialog, with CSeq and version moving forward.
	n = watcher.Notify(200)
	assert.Greater(t, n.CSeq().SeqNo, firstCSeq)
	v := doc(t, n).Version
	assert.Greater(t, v, firstVersion)

	pbx := siptest.NewPhone(t, "UDP", a.sipAddr())
	publish(t, pbx, 1, "", dialogBody(0, "confirmed"))
	n = watcher.Notify(200)
	d := doc(t, n)
	require.Len(t, d.Dialogs, 1)
	assert.Equal(t, "confirmed", d.Dialogs[0].State)
	assert.Equal(t, v+1, d.Version)
}

func TestRedisOutage(t *testing.T) {
	redis := harness.StartRedis(t)
	natsURL := harness.NATS(t)
	a := startInstance(t, "redis-fault", "--redis", redis.URL(), "--nats", natsURL)
	p := siptest.NewPhone(t, "UDP", a.sipAddr())
	p.Request("REGISTER", "sip:pbx.example.com", 1, "reg-f", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, p.Response("REGISTER").StatusCode)

	before := a.goroutines()
	redis.Stop()
	// SIP keeps answering: a clear 503 with Retry-After, not silence.
	p.Request("REGISTER", "sip:pbx.example.com", 2, "reg-f", "r", "", "Expires: 600\n", "")
	res := p.Response("REGISTER")
	assert.Equal(t, 503, res.StatusCode)
	assert.NotEmpty(t, header(res, "Retry-After"))
	code, body := a.get("/readyz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "redis")
	p.Request("OPTIONS", "sip:pbx.example.com", 1, "opt-f", "o", "", "", "")
	assert.Equal(t, 200, p.Response("OPTIONS").StatusCode)

	redis.Start()
	require.Eventually(t, func() bool { c, _ := a.get("/readyz"); return c == 200 }, 10*time.Second, 100*time.Millisecond)
	p.Request("REGISTER", "sip:pbx.example.com", 3, "reg-f", "r", "", "Expires: 600\n", "")
	assert.Equal(t, 200, p.Response("REGISTER").StatusCode)
	assert.True(t, a.alive())
	assert.NotContains(t, a.logs.String(), "panic")
	a.assertNoGoroutineLeak(before)
}

func TestNATSOutage(t *testing.T) {
	redisURL := harness.Redis(t)
	nats := harness.StartNATS(t)
	a := startInstance(t, "nats-a", "--redis", redisURL, "--nats", nats.URL())
	b := startInstance(t, "nats-b", "--redis", redisURL, "--nats", nats.URL())
	watcher := siptest.NewPhone(t, "UDP", b.sipAddr())
	_, n := subscribe(t, watcher, "nats-1")
	require.Empty(t, doc(t, n).Dialogs)
	before := b.goroutines()

	nats.Stop()
	require.Eventually(t, func() bool { c, body := a.get("/readyz"); return c == 503 && strings.Contains(body, "nats") }, 10*time.Second, 100*time.Millisecond)

	// The call reaches A while the bus is down: A still answers and stores it.
	pbx := siptest.NewPhone(t, "UDP", a.sipAddr())
	publish(t, pbx, 1, "", dialogBody(0, "early"))

	nats.Start()
	// B converges: either the buffered event or its resync after
	// reconnecting brings the call to its subscriber.
	n = watcher.Notify(200)
	d := doc(t, n)
	require.Len(t, d.Dialogs, 1)
	assert.Equal(t, "early", d.Dialogs[0].State)
	require.Eventually(t, func() bool { c, _ := b.get("/readyz"); return c == 200 }, 10*time.Second, 100*time.Millisecond)
	assert.True(t, a.alive() && b.alive())
	b.assertNoGoroutineLeak(before)
}

func TestGracefulShutdownDeactivates(t *testing.T) {
	a := startInstance(t, "drain")
	watcher := siptest.NewPhone(t, "UDP", a.sipAddr())
	subscribe(t, watcher, "drain-1")
	require.NoError(t, a.cmd.Process.Signal(syscall.SIGTERM))
	n := watcher.Notify(200)
	assert.Equal(t, "terminated;reason=deactivated", header(n, "Subscription-State"))
	select {
	case <-a.done:
		require.NoError(t, a.waitErr, "clean exit after draining")
	case <-time.After(15 * time.Second):
		t.Fatal("no exit within 15s of SIGTERM")
	}
}

// mintKey creates an API key with the CLI against the shared Redis.
func mintKey(t *testing.T, redisURL string, args ...string) string {
	t.Helper()
	out, err := exec.Command(binary(t), append([]string{"keys", "create", "--redis", redisURL}, args...)...).CombinedOutput()
	require.NoError(t, err, string(out))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func TestStatusOverHTTPReachesEveryInstance(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	a := startInstance(t, "http-a", "--redis", redisURL, "--nats", natsURL)
	b := startInstance(t, "http-b", "--redis", redisURL, "--nats", natsURL)
	key := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal")

	// 201 is registered: an offline user shows no status (README).
	desk := siptest.NewPhone(t, "UDP", a.sipAddr())
	desk.Request("REGISTER", "sip:pbx.example.com", 1, "http-reg", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)

	// A softphone watches 201's presence through instance B.
	watcher := siptest.NewPhone(t, "UDP", b.sipAddr())
	watcher.Request("SUBSCRIBE", ext201, 1, "http-1", "w", "", "Event: presence\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	// 201's phone registered before the SUBSCRIBE, so the first NOTIFY may
	// already say open; if B heard of the REGISTER only after, one more
	// NOTIFY says it.
	for d := (*pidf.Document)(nil); d == nil || d.Tuples[0].Basic != pidf.Open; {
		var err error
		d, err = pidf.Parse(watcher.Notify(200).Body())
		require.NoError(t, err)
	}

	// The user sets Do Not Disturb through instance A's API.
	req, err := http.NewRequest("PUT", "http://"+a.http+"/v1/presence/201@pbx.example.com/status", strings.NewReader(`{"status":"dnd","note":"in a meeting"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)

	// The registration may still be on its way (it reaches B twice: from
	// the bus and from the shared store); the status comes next.
	var doc *pidf.Document
	for range 3 {
		n := watcher.Notify(200)
		doc, err = pidf.Parse(n.Body())
		require.NoError(t, err, string(n.Body()))
		if len(doc.Activities) > 0 {
			break
		}
	}
	assert.Contains(t, doc.Activities, "busy")
	assert.Equal(t, "in a meeting", doc.Note)

	// And instance B's API reports it too.
	req, err = http.NewRequest("GET", "http://"+b.http+"/v1/presence/201@pbx.example.com", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var v struct{ Status string }
	require.NoError(t, json.NewDecoder(res.Body).Decode(&v))
	assert.Equal(t, "dnd", v.Status)
}

func TestCallerIDNamesTheRingingCall(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "callerid", "--redis", redisURL, "--nats", natsURL, "--region", "FR")
	admin := mintKey(t, redisURL, "--admin", "--scopes", "company:write,lookup")

	req, err := http.NewRequest("POST", "http://"+in.http+"/v1/contacts", strings.NewReader(
		`{"kind":"company","domain":"pbx.example.com","company":"ACME Marseille","phones":[{"type":"work","number":"+33 4 91 55 01 42"}]}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 201, res.StatusCode)

	// The PBX asks during call setup, the way Asterisk's CURL() does.
	require.Eventually(t, func() bool {
		code, body := in.get("/v1/lookup?format=text&number=0491550142&callee=201@pbx.example.com&key=" + admin)
		return code == 200 && body == "ACME Marseille"
	}, 5*time.Second, 100*time.Millisecond)

	// A colleague's BLF lamp names the caller while 201 rings.
	watcher := siptest.NewPhone(t, "UDP", in.sipAddr())
	subscribe(t, watcher, "cid-1")
	pbx := siptest.NewPhone(t, "UDP", in.sipAddr())
	body := strings.Replace(dialogBody(0, "early"), `display="Marseille Office"`, `display="0491550142"`, 1)
	publish(t, pbx, 1, "", body)
	d := doc(t, watcher.Notify(200))
	require.Len(t, d.Dialogs, 1)
	assert.Equal(t, "ACME Marseille", d.Dialogs[0].Remote.Display)
}
