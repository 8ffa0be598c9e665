package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

// Click-to-call end to end: Kamailio (deploy/kamailio/kamailio.cfg) is the
// PBX; baresip phones register through it and it replicates their
// REGISTERs to Switchboard. POST /v1/calls rings the user's baresip phone
// (auto-answer) at its registered Contact, REFERs it to the number, and
// the phone calls the number through Kamailio: a second baresip,
// registered there as +33491550142, receives the call from 201. The
// failure cases: a baresip phone that does not answer, and SIPp phones
// that are busy or refuse the REFER.

// requireTool returns bin's path or skips (fails under
// SWITCHBOARD_INTEGRATION=required).
func requireTool(t *testing.T, bin, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv(harness.EnvRequired) == "required" {
			t.Fatalf("%s is required (Debian package %s): %v", bin, pkg, err)
		}
		t.Skipf("skipping: %s not installed (Debian package %s); %s=required turns this skip into a failure", bin, pkg, harness.EnvRequired)
	}
	return path
}

// baresip is one headless baresip process with one account.
type baresip struct {
	logs *syncBuffer
}

// startBaresip runs baresip with account (an accounts-file line) on a
// free loopback port.
func startBaresip(t *testing.T, account string) *baresip {
	t.Helper()
	bin := requireTool(t, "baresip", "baresip-core")
	dir := t.TempDir()
	tmpl, err := os.ReadFile("baresip/config")
	require.NoError(t, err)
	cfg := strings.ReplaceAll(string(tmpl), "{{SIP}}", "127.0.0.1:"+strconv.Itoa(freeSIPPort(t)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config"), []byte(cfg), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte(account+"\n"), 0o600))
	b := &baresip{logs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-f", dir)
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("baresip %s:\n%s", account, tail(b.logs.String(), 4000))
		}
	})
	return b
}

// awaitLog waits until the baresip output contains want.
func (b *baresip) awaitLog(t *testing.T, want string, d time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(b.logs.String(), want) }, d, 50*time.Millisecond,
		"baresip never printed %q", want)
}

// sippPhone runs a SIPp UAS scenario for one call on a free port and
// returns its address and a channel with its exit error.
func sippPhone(t *testing.T, scenario string) (string, <-chan error) {
	t.Helper()
	bin := requireTool(t, "sipp", "sip-tester")
	port := freeSIPPort(t)
	dir := t.TempDir()
	scenario, err := filepath.Abs(scenario)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-sf", scenario, "-i", "127.0.0.1", "-p", strconv.Itoa(port), "-m", "1",
		"-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "err.log"))
	cmd.Dir = dir
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			e, _ := os.ReadFile(filepath.Join(dir, "err.log"))
			t.Logf("sipp %s:\n%s\n%s", scenario, tail(out.String(), 2000), e)
		}
	})
	return "127.0.0.1:" + strconv.Itoa(port), errc
}

// registerContact binds ext's phone at contact, as a REGISTER the phone
// (or its PBX) would send.
func registerContact(t *testing.T, sb *instance, ext, contact string) {
	t.Helper()
	c, err := net.Dial("udp", sb.sipAddr())
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().String()
	msg := fmt.Sprintf("REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKc2c%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@pbx.example.com>;tag=r%s\r\nTo: <sip:%s@pbx.example.com>\r\nCall-ID: c2c-reg-%s\r\nCSeq: 1 REGISTER\r\n"+
		"Contact: <sip:%s@%s>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n", local, ext, ext, ext, ext, ext, ext, contact)
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(buf[:n]), "SIP/2.0 200"), "REGISTER of %s: %s", ext, buf[:n])
}

// clickToCall starts a call with key and returns the final progress.
func clickToCall(t *testing.T, sb *instance, key, to string) map[string]any {
	t.Helper()
	code, body := apiCall(t, sb, "POST", "/v1/calls", key, `{"to":"`+to+`"}`)
	require.Equal(t, 202, code, body)
	id := body["id"].(string)
	var last map[string]any
	var seen []string
	require.Eventually(t, func() bool {
		code, last = apiCall(t, sb, "GET", "/v1/calls/"+id+"/progress", key, "")
		if code != 200 {
			return false
		}
		st, _ := last["state"].(string)
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
		return st == "connected" || st == "failed"
	}, 30*time.Second, 50*time.Millisecond, "click-to-call to %s never ended: %v", to, last)
	t.Logf("click-to-call to %s: states seen %v, last %v", to, seen, last)
	return last
}

// userKey provisions ext and returns a key of its own.
func userKey(t *testing.T, sb *instance, admin, ext string) string {
	t.Helper()
	aor := ext + "@pbx.example.com"
	code, body := apiCall(t, sb, "PUT", "/v1/users/"+aor, admin, `{"first_name":"User","last_name":"`+ext+`"}`)
	require.Contains(t, []int{200, 201}, code, body)
	code, body = apiCall(t, sb, "POST", "/v1/keys", admin, `{"user":"`+aor+`","scopes":["contacts:personal"]}`)
	require.Equal(t, 201, code, body)
	return body["key"].(string)
}

func TestClickToCallWithBaresipThroughKamailio(t *testing.T) {
	requireKamailio(t)
	requireTool(t, "baresip", "baresip-core")
	sb, admin := bootstrapped(t, "c2c", "--region", "FR", "--click-to-call-ring-timeout", "3s", "--click-to-call-autoanswer", "--trusted-cidr", "127.0.0.1/32")
	kam := startRecipe(t, []*instance{sb})
	proxy := `;outbound="sip:` + kam.addr() + `";regint=300`

	// The number called: a baresip registered at the PBX as +33491550142.
	target := startBaresip(t, "<sip:+33491550142@pbx.example.com>"+proxy+";answermode=auto")
	// The user's phone, auto-answering as a desk phone would on
	// --click-to-call-autoanswer's headers.
	phone := startBaresip(t, "<sip:201@pbx.example.com>"+proxy+";answermode=auto")
	// A phone nobody answers.
	idle := startBaresip(t, "<sip:202@pbx.example.com>"+proxy+";answermode=manual")
	for _, b := range []*baresip{target, phone, idle} {
		b.awaitLog(t, "200 OK", 10*time.Second)
	}
	key201, key202 := userKey(t, sb, admin, "201"), userKey(t, sb, admin, "202")
	for ext, key := range map[string]string{"201": key201, "202": key202} {
		require.Eventually(t, func() bool {
			_, p := apiCall(t, sb, "GET", "/v1/presence/"+ext+"@pbx.example.com", key, "")
			return p["registered"] == true
		}, 10*time.Second, 50*time.Millisecond, "kamailio did not replicate %s's REGISTER", ext)
	}

	t.Run("connects the phone to the number", func(t *testing.T) {
		// Progress is on NATS too, on the caller's subject.
		_, ready := apiCall(t, sb, "GET", "/readyz", "", "")
		nc, err := nats.Connect(ready["nats_url"].(string))
		require.NoError(t, err)
		defer nc.Close()
		sub, err := nc.SubscribeSync("switchboard.clicktocall.pbx_example_com.201")
		require.NoError(t, err)
		require.NoError(t, nc.Flush())

		last := clickToCall(t, sb, key201, "04 91 55 01 42")
		assert.Equal(t, "connected", last["state"], last)
		assert.Equal(t, "+33491550142", last["to"])
		// The target got the call from the user's phone, through the PBX.
		target.awaitLog(t, "Call established: sip:201@pbx.example.com", 5*time.Second)
		assert.Contains(t, kam.trace(), "INVITE", "the phone's call went through kamailio")
		// Switchboard's own leg to the phone is gone.
		phone.awaitLog(t, "sip:switchboard@pbx.example.com: session closed", 5*time.Second)

		var states []string
		for len(states) < 3 {
			msg, err := sub.NextMsg(5 * time.Second)
			require.NoError(t, err, "click-to-call events on NATS so far: %v", states)
			var ev struct {
				V     int    `json:"v"`
				ID    string `json:"id"`
				State string `json:"state"`
			}
			require.NoError(t, json.Unmarshal(msg.Data, &ev))
			assert.Equal(t, 1, ev.V)
			assert.Equal(t, last["id"], ev.ID)
			states = append(states, ev.State)
		}
		assert.Equal(t, []string{"ringing", "connecting", "connected"}, states)
	})

	t.Run("no answer", func(t *testing.T) {
		last := clickToCall(t, sb, key202, "+33491550142")
		assert.Equal(t, "failed", last["state"])
		assert.Equal(t, "no_answer", last["reason"])
	})

	t.Run("busy", func(t *testing.T) {
		addr, done := sippPhone(t, "sipp/c2c_phone_busy.xml")
		key := userKey(t, sb, admin, "203")
		registerContact(t, sb, "203", addr)
		last := clickToCall(t, sb, key, "+33491550142")
		assert.Equal(t, "failed", last["state"])
		assert.Equal(t, "busy", last["reason"])
		assert.Equal(t, float64(486), last["sip_status"])
		assert.NoError(t, <-done, "the SIPp phone's scenario")
	})

	t.Run("refer refused", func(t *testing.T) {
		addr, done := sippPhone(t, "sipp/c2c_phone_refuses_refer.xml")
		key := userKey(t, sb, admin, "204")
		registerContact(t, sb, "204", addr)
		last := clickToCall(t, sb, key, "+33491550142")
		assert.Equal(t, "failed", last["state"])
		assert.Equal(t, "refer_refused", last["reason"])
		assert.Equal(t, float64(603), last["sip_status"])
		assert.NoError(t, <-done, "the SIPp phone's scenario (REFER refused, then BYE)")
	})
}

// TestClickToCallProgressAcrossInstances: a call placed on instance A is
// followed on B (GET and the user's event stream), through NATS.
func TestClickToCallProgressAcrossInstances(t *testing.T) {
	redis := harness.StartRedis(t)
	natsURL := harness.NATS(t)
	ins := startTogether(t, []string{"c2c-a", "c2c-b"}, "--redis", redis.URL(), "--nats", natsURL)
	a, b := ins[0], ins[1]
	var boot []string
	for _, in := range ins {
		boot = append(boot, apiKey.FindAllString(in.logs.String(), -1)...)
	}
	require.Len(t, boot, 1)
	key := userKey(t, a, boot[0], "209")

	// 209 has no phone registered: A's call fails at once, not_registered.
	code, body := apiCall(t, a, "POST", "/v1/calls", key, `{"to":"201"}`)
	require.Equal(t, 202, code, body)
	id := body["id"].(string)
	var got map[string]any
	require.Eventually(t, func() bool {
		code, got = apiCall(t, b, "GET", "/v1/calls/"+id+"/progress", key, "")
		return code == 200 && got["state"] == "failed"
	}, 10*time.Second, 50*time.Millisecond, "B never showed A's call: %v", got)
	assert.Equal(t, "not_registered", got["reason"])
	assert.Equal(t, "209@pbx.example.com", got["from"])
}
