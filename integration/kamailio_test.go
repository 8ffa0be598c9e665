package integration

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// The Kamailio end-to-end tests put a real Kamailio 5.6 between real SIP
// phones and Switchboard, in the two ways a PBX can feed it:
//
//   - push: deploy/kamailio/kamailio.cfg, the proxy/registrar we ship,
//     replicates REGISTERs to Switchboard and PUBLISHes call state with
//     pua_dialoginfo;
//   - pull: Kamailio is a presence server (integration/kamailio/e2e/pbx.cfg,
//     publishing its own call state to itself) and Switchboard's watcher
//     SUBSCRIBEs to it (--pbx).
//
// In both, phones 201 and 202 register through Kamailio and 202 calls 201;
// a BLF watcher subscribed at Switchboard must see 201's lamp go idle,
// early (a call from 202), confirmed, idle, in that order.
//
// Both skip when kamailio is not installed (fail under
// SWITCHBOARD_INTEGRATION=required). Kamailio runs at debug level; on
// failure the test prints the transactions it saw with their reply codes,
// and KAMAILIO_TEST_LOG_DIR=dir keeps its whole log as dir/<test>.log.

const (
	kamDomain = "pbx.example.com"
	ext202    = "sip:202@" + kamDomain
)

// kamailio is one Kamailio process in its own process group, so that
// killing it also kills the worker processes it forks.
type kamailio struct {
	t    *testing.T
	port int
	args []string
	logs *syncBuffer
	cmd  *exec.Cmd
	done chan struct{} // closed when the main process has exited
}

// requireKamailio returns the kamailio binary, or skips the test (fails it
// under SWITCHBOARD_INTEGRATION=required) when it is not installed.
func requireKamailio(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		if os.Getenv(harness.EnvRequired) == "required" {
			t.Fatalf("kamailio is required (Debian packages kamailio, kamailio-presence-modules): %v", err)
		}
		t.Skipf("skipping: kamailio not installed (Debian packages kamailio, kamailio-presence-modules); %s=required turns this skip into a failure", harness.EnvRequired)
	}
	return bin
}

// startKamailio runs cfg on a free loopback port with a private copy of the
// db_text tables in dbtext, passing defines as -A NAME=VALUE. dbDefine
// names the define that receives the db_text URL.
func startKamailio(t *testing.T, cfg, dbtext, dbDefine string, defines ...string) *kamailio {
	t.Helper()
	bin := requireKamailio(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "dbtext")
	require.NoError(t, os.CopyFS(db, os.DirFS(dbtext)))
	k := &kamailio{t: t, logs: &syncBuffer{}}
	t.Cleanup(func() {
		k.kill()
		if d := os.Getenv("KAMAILIO_TEST_LOG_DIR"); d != "" {
			_ = os.WriteFile(filepath.Join(d, t.Name()+".log"), []byte(k.logs.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("kamailio transactions (request, reply codes):\n%s", k.trace())
			t.Logf("kamailio log without debug lines:\n%s", tail(k.notices(), 6000))
		}
	})
	// A "free" port may be taken before Kamailio binds it: try a few.
	var err error
	for range 3 {
		k.port = freeSIPPort(t)
		k.args = []string{bin, "-DD", "-E", "-f", cfg,
			"-A", "LISTEN_PORT=" + strconv.Itoa(k.port),
			"-A", fmt.Sprintf("%s=\"text://%s\"", dbDefine, db),
			"-A", "WITH_STDERR",
			// Debug logs carry the transaction trace printed on failure.
			"-A", "DEBUG_LEVEL=3",
			"-P", filepath.Join(dir, "kamailio.pid"), "-Y", dir, "-m", "64", "-M", "8"}
		for _, d := range defines {
			// {port} is Kamailio's own port, known only here.
			k.args = append(k.args, "-A", strings.ReplaceAll(d, "{port}", strconv.Itoa(k.port)))
		}
		if err = k.start(); err == nil {
			return k
		}
	}
	t.Fatal(err)
	return nil
}

func (k *kamailio) addr() string { return "127.0.0.1:" + strconv.Itoa(k.port) }

// start runs Kamailio and waits until it answers OPTIONS.
func (k *kamailio) start() error {
	k.cmd = exec.Command(k.args[0], k.args[1:]...)
	k.cmd.Stdout, k.cmd.Stderr = k.logs, k.logs
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		k.cmd = nil
		return fmt.Errorf("start kamailio: %w", err)
	}
	done := make(chan struct{})
	k.done = done
	go func(c *exec.Cmd) { _ = c.Wait(); close(done) }(k.cmd)

	probe, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		k.kill()
		return err
	}
	defer probe.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: k.port}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		select {
		case <-done:
			k.cmd = nil
			return fmt.Errorf("kamailio exited at start on port %d:\n%s", k.port, tail(k.notices(), 3000))
		default:
		}
		opt := fmt.Sprintf("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKprobe%d;rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=p%d\r\nTo: <sip:127.0.0.1:%d>\r\nCall-ID: probe-%d\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
			k.port, probe.LocalAddr(), i, kamDomain, i, k.port, i)
		_, _ = probe.WriteTo([]byte(opt), dst)
		_ = probe.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, _, err := probe.ReadFrom(buf); err == nil && bytes.HasPrefix(buf[:n], []byte("SIP/2.0 200")) {
			return nil
		}
	}
	k.kill()
	return fmt.Errorf("kamailio did not answer OPTIONS on port %d within 10s:\n%s", k.port, tail(k.notices(), 3000))
}

// noticeLine matches a log line of Kamailio above debug level; debug lines
// and the SIP messages they dump are left out.
var noticeLine = regexp.MustCompile(`^\s*\d+\(\d+\) (?:INFO|NOTICE|WARNING|ERROR|CRITICAL|ALERT|BUG):`)

// notices is Kamailio's log without its debug lines.
func (k *kamailio) notices() string {
	var b strings.Builder
	for _, line := range strings.Split(k.logs.String(), "\n") {
		if noticeLine.MatchString(line) {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// txnLine matches the debug lines where tm records a final reply: to a
// request Kamailio relayed or to one it sent itself (pua's PUBLISHes).
var txnLine = regexp.MustCompile(`\{\d+ (\d+ [A-Z]+) ([^}]*)\} tm \[[^]]*\]: (?:t_should_relay_response\(\): ->>>>>>>>> T_code=\d+, new_code=|local_reply\(\): local transaction completed )(\d{3})`)

// replies lists "CSeq Call-ID -> code" for every final reply Kamailio's tm
// saw, once each, in order.
func (k *kamailio) replies() []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range txnLine.FindAllStringSubmatch(k.logs.String(), -1) {
		r := fmt.Sprintf("%s %s -> %s", m[1], m[2], m[3])
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

func (k *kamailio) trace() string { return strings.Join(k.replies(), "\n") }

// rejected lists the requests of method that got a final reply >= 300.
func (k *kamailio) rejected(method string) []string {
	var out []string
	for _, r := range k.replies() {
		if strings.Contains(r, " "+method+" ") && r[len(r)-3:] >= "300" {
			out = append(out, r)
		}
	}
	return out
}

// kill ends Kamailio and its workers at once, as a crash would, and waits
// until its port can be bound again.
func (k *kamailio) kill() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	// The workers share the main process's group (Setpgid in start).
	_ = syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
	<-k.done
	k.cmd = nil
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.ListenPacket("udp", k.addr()); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	k.t.Errorf("kamailio port %d still bound 5s after the kill", k.port)
}

// restart crashes Kamailio and starts it again on the same port.
func (k *kamailio) restart() {
	k.t.Helper()
	k.kill()
	require.NoError(k.t, k.start(), "restart kamailio")
}

// phone is a siptest phone that is extension ext, registered through
// Kamailio.
type phone struct {
	*siptest.Phone
	t   *testing.T
	ext string
}

func newPhone(t *testing.T, ext, kam string) *phone {
	t.Helper()
	return &phone{Phone: siptest.NewPhone(t, "UDP", kam), t: t, ext: ext}
}

func (p *phone) uri() string { return "sip:" + p.ext + "@" + kamDomain }

func (p *phone) contact() string { return "<sip:" + p.ext + "@" + p.Addr() + ">" }

// request sends a request; headers are extra header lines, each ending in \n.
func (p *phone) request(method, ruri, from, to, callID string, cseq int, headers, body string) {
	p.t.Helper()
	ctype := ""
	if body != "" {
		ctype = "Content-Type: application/sdp\n"
		body = strings.ReplaceAll(body, "\n", "\r\n")
	}
	p.Send(fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=%s;rport\nMax-Forwards: 70\nFrom: %s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\n%s%sContent-Length: %d\n\n%s",
		method, ruri, sipmsg.GenerateBranchN(12), from, to, callID, cseq, method, headers, ctype, len(body), body))
}

// register registers the phone at Kamailio.
func (p *phone) register(callID string, cseq int) {
	p.t.Helper()
	p.registerFor(callID, cseq, 600)
}

// registerFor registers the phone at Kamailio for expires seconds and
// returns the lifetime Kamailio granted.
func (p *phone) registerFor(callID string, cseq, expires int) int {
	p.t.Helper()
	p.request("REGISTER", "sip:"+kamDomain, "<"+p.uri()+">;tag=r"+p.ext, "<"+p.uri()+">", callID, cseq,
		"Contact: "+p.contact()+"\nExpires: "+strconv.Itoa(expires)+"\n", "")
	res := p.awaitResponse("REGISTER", callID)
	require.Equal(p.t, 200, res.StatusCode, "REGISTER %s through kamailio: %s", p.ext, res.Reason)
	return contactExpires(p.t, res, p.Addr())
}

// contactExpires is the expires of the Contact at addr in a REGISTER's
// 200, -1 when none is listed.
func contactExpires(t *testing.T, res *sipmsg.Response, addr string) int {
	t.Helper()
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok || !strings.Contains(c.Address.String(), addr) {
			continue
		}
		v, _ := c.Params.Get("expires")
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "expires of %s", c.Value())
		return n
	}
	return -1
}

// bindingAt asks server (a REGISTER without Contact, RFC 3261 §10.2.3)
// for the phone's binding and returns its expires, -1 when it has none.
func (p *phone) bindingAt(server string) int {
	p.t.Helper()
	q := newPhone(p.t, p.ext, server)
	callID := "query-" + p.ext + "-" + sipmsg.GenerateTagN(6)
	q.request("REGISTER", "sip:"+kamDomain, "<"+p.uri()+">;tag=q", "<"+p.uri()+">", callID, 1, "", "")
	res := q.awaitResponse("REGISTER", callID)
	require.Equal(p.t, 200, res.StatusCode, "REGISTER query for %s at %s: %s", p.ext, server, res.Reason)
	return contactExpires(p.t, res, p.Addr())
}

// await returns the first message matching match, dropping others.
func (p *phone) await(what string, match func(sipmsg.Message) bool) sipmsg.Message {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m := p.Next()
		if match(m) {
			return m
		}
		if r, ok := m.(*sipmsg.Response); ok && r.StatusCode == 100 {
			continue
		}
		p.t.Logf("phone %s: skipped while awaiting %s: %s", p.ext, what, firstLine(m))
	}
	p.t.Fatalf("phone %s: no %s within 5s", p.ext, what)
	return nil
}

func (p *phone) awaitResponse(method, callID string) *sipmsg.Response {
	p.t.Helper()
	return p.await("final response to "+method, func(m sipmsg.Message) bool {
		r, ok := m.(*sipmsg.Response)
		return ok && !r.IsProvisional() && r.CSeq().MethodName == sipmsg.RequestMethod(method) && r.CallID().Value() == callID
	}).(*sipmsg.Response)
}

func (p *phone) awaitStatus(code int, method, callID string) *sipmsg.Response {
	p.t.Helper()
	return p.await(fmt.Sprintf("%d to %s", code, method), func(m sipmsg.Message) bool {
		r, ok := m.(*sipmsg.Response)
		return ok && r.StatusCode == code && r.CSeq().MethodName == sipmsg.RequestMethod(method) && r.CallID().Value() == callID
	}).(*sipmsg.Response)
}

func (p *phone) awaitRequest(method, callID string) *sipmsg.Request {
	p.t.Helper()
	return p.await(method, func(m sipmsg.Message) bool {
		r, ok := m.(*sipmsg.Request)
		return ok && r.Method == sipmsg.RequestMethod(method) && r.CallID().Value() == callID
	}).(*sipmsg.Request)
}

// reply answers req from this phone, as the UAS of the dialog with toTag.
func (p *phone) reply(req *sipmsg.Request, code int, reason, toTag string) {
	p.t.Helper()
	res := sipmsg.NewResponseFromRequest(req, code, reason, nil)
	if toTag != "" {
		if _, ok := res.To().Params.Get("tag"); !ok {
			res.To().Params.Add("tag", toTag)
		}
		res.AppendHeader(sipmsg.NewHeader("Contact", p.contact()))
	}
	p.Send(res.String())
}

func firstLine(m sipmsg.Message) string {
	s, _, _ := strings.Cut(m.String(), "\r\n")
	return s
}

// call is a call from caller to callee, both phones behind Kamailio.
type call struct {
	t              *testing.T
	caller, callee *phone
	callID         string
	fromTag, toTag string
	invite         *sipmsg.Request // as the callee received it
	cseq           int
	to             string   // the To of the dialog, with the callee's tag
	routes         []string // the caller's route set
	target         string   // the callee's Contact URI
}

const sdp = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 0\n"

// dial sends the INVITE and waits until it reaches the callee.
func dial(t *testing.T, caller, callee *phone, callID string) *call {
	t.Helper()
	c := &call{t: t, caller: caller, callee: callee, callID: callID, fromTag: "f" + callID, toTag: "t" + callID, cseq: 1}
	caller.request("INVITE", callee.uri(), "<"+caller.uri()+">;tag="+c.fromTag, "<"+callee.uri()+">", callID, 1,
		"Contact: "+caller.contact()+"\n", sdp)
	c.invite = callee.awaitRequest("INVITE", callID)
	return c
}

// ring makes the callee send 180 Ringing.
func (c *call) ring() {
	c.t.Helper()
	c.callee.reply(c.invite, 180, "Ringing", c.toTag)
	c.caller.awaitStatus(180, "INVITE", c.callID)
}

// answer makes the callee send 200 OK and the caller ACK it.
func (c *call) answer() {
	c.t.Helper()
	c.callee.reply(c.invite, 200, "OK", c.toTag)
	ok := c.caller.awaitStatus(200, "INVITE", c.callID)
	c.to = ok.To().Value()
	// RFC 3261 §12.1.2: the UAC's route set is the Record-Route reversed.
	var rr []string
	for _, h := range ok.GetHeaders("Record-Route") {
		for _, v := range strings.Split(h.Value(), ",") {
			rr = append(rr, strings.TrimSpace(v))
		}
	}
	for i := len(rr) - 1; i >= 0; i-- {
		c.routes = append(c.routes, rr[i])
	}
	require.NotNil(c.t, ok.Contact(), "200 OK to INVITE without Contact")
	c.target = ok.Contact().Address.String()
	c.inDialog("ACK", 1)
	c.callee.awaitRequest("ACK", c.callID)
}

// hangup makes the caller send BYE and the callee answer it.
func (c *call) hangup() {
	c.t.Helper()
	c.cseq++
	c.inDialog("BYE", c.cseq)
	bye := c.callee.awaitRequest("BYE", c.callID)
	c.callee.reply(bye, 200, "OK", "")
	c.caller.awaitStatus(200, "BYE", c.callID)
}

func (c *call) inDialog(method string, cseq int) {
	c.t.Helper()
	var route string
	for _, r := range c.routes {
		route += "Route: " + r + "\n"
	}
	c.caller.request(method, c.target, "<"+c.caller.uri()+">;tag="+c.fromTag, c.to, c.callID, cseq, route, "")
}

// lamp follows the dialog state of 201 as a BLF watcher subscribed at
// Switchboard sees it.
type lamp struct {
	t    *testing.T
	p    *siptest.Phone
	seen []string // lamp states in the order NOTIFYs showed them, repeats collapsed
	t0   time.Time
}

// watch subscribes p to 201's dialog state and reads the initial NOTIFY.
func watch(t *testing.T, p *siptest.Phone, callID string) *lamp {
	t.Helper()
	l := &lamp{t: t, p: p, t0: time.Now()}
	_, n := subscribe(t, p, callID)
	l.record(n)
	return l
}

// record reads the lamp state of a NOTIFY: "idle" when no dialog is live,
// else the state of its live dialog, which it returns too.
func (l *lamp) record(n *sipmsg.Request) (string, *dialogView) {
	l.t.Helper()
	d := doc(l.t, n)
	state, live := "idle", (*dialogView)(nil)
	for _, dl := range d.Dialogs {
		if dl.State != "terminated" {
			state = dl.State
			live = &dialogView{State: dl.State, Direction: dl.Direction, Remote: dl.Remote.Identity}
			break
		}
	}
	if len(l.seen) == 0 || l.seen[len(l.seen)-1] != state {
		l.seen = append(l.seen, state)
	}
	l.t.Logf("%5.2fs NOTIFY to BLF watcher: lamp %s (version %d, %d dialogs)", time.Since(l.t0).Seconds(), state, d.Version, len(d.Dialogs))
	return state, live
}

// dialogView is what the test checks of the live dialog of a NOTIFY.
type dialogView struct{ State, Direction, Remote string }

// await reads NOTIFYs until the lamp shows want, within d.
func (l *lamp) await(want string, d time.Duration) *dialogView {
	l.t.Helper()
	done := false
	defer func() {
		// Also when Notify gave up (FailNow runs deferred calls).
		if !done {
			l.t.Errorf("201's lamp never showed %s within %s; it showed %v", want, d, l.seen)
		}
	}()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if state, live := l.record(l.p.Notify(200)); state == want {
			done = true
			return live
		}
	}
	l.t.FailNow()
	return nil
}

// ringing drops "trying" where it comes right before "early": Kamailio's
// pua_dialoginfo (callee_trying) reports the INVITE before the 180, and
// RFC 4235 §3.7.1 has the callee's dialog pass through trying. Any other
// place "trying" shows up is kept, to fail the comparison.
func ringing(seen []string) []string {
	var out []string
	for i, st := range seen {
		if st == "trying" && i+1 < len(seen) && seen[i+1] == "early" {
			continue
		}
		out = append(out, st)
	}
	return out
}

// ringAnswerHangup runs a whole call 202 -> 201 and checks each step on
// the lamp; within is how long each change may take to reach the watcher.
func ringAnswerHangup(t *testing.T, l *lamp, p201, p202 *phone, callID string, within time.Duration) {
	t.Helper()
	c := dial(t, p202, p201, callID)
	c.ring()
	early := l.await("early", within)
	assert.Equal(t, "recipient", early.Direction, "201 receives the call")
	assert.Equal(t, ext202, early.Remote, "remote identity of 201's ringing call")
	c.answer()
	confirmed := l.await("confirmed", within)
	assert.Equal(t, ext202, confirmed.Remote, "remote identity of 201's answered call")
	c.hangup()
	l.await("idle", within)
}

// startRecipe runs deploy/kamailio/kamailio.cfg, the recipe as shipped,
// in front of the Switchboard instances sbs (its dispatcher set), with
// test-sized timers that defines may override.
func startRecipe(t *testing.T, sbs []*instance, defines ...string) *kamailio {
	t.Helper()
	return startRecipeWith(t, "../deploy/kamailio/dbtext", sbs, defines...)
}

// startRecipeWith is startRecipe with the db_text tables in dbtext.
func startRecipeWith(t *testing.T, dbtext string, sbs []*instance, defines ...string) *kamailio {
	t.Helper()
	var list strings.Builder
	for _, sb := range sbs {
		fmt.Fprintf(&list, "1 sip:%s 0 0\n", sb.sipAddr())
	}
	ds := filepath.Join(t.TempDir(), "dispatcher.list")
	require.NoError(t, os.WriteFile(ds, []byte(list.String()), 0o644))
	return startKamailio(t, "../deploy/kamailio/kamailio.cfg", dbtext, "PUA_DB_URL",
		append([]string{
			fmt.Sprintf("DS_LIST=\"%s\"", ds), `SELF="127.0.0.1:{port}"`,
			fmt.Sprintf("SIP_DOMAIN=\"%s\"", kamDomain), "DS_PING_INTERVAL=1",
		}, defines...)...)
}

// TestKamailioPushPath runs the proxy/registrar config we ship in front of
// Switchboard: Switchboard learns a call only from what Kamailio forwards
// (replicated REGISTERs, pua_dialoginfo PUBLISHes) and a BLF watcher whose
// SUBSCRIBE Kamailio relays to Switchboard sees the call.
func TestKamailioPushPath(t *testing.T) {
	requireKamailio(t)
	sb := startInstance(t, "kam-push")
	kam := startRecipe(t, []*instance{sb})

	t.Cleanup(func() {
		if rej := kam.rejected("PUBLISH"); len(rej) > 0 {
			t.Errorf("switchboard rejected the PUBLISHes of kamailio's pua_dialoginfo:\n%s", strings.Join(rej, "\n"))
		}
	})

	// The BLF watcher subscribes through Kamailio, which relays the
	// SUBSCRIBE to Switchboard and routes the NOTIFYs back.
	w := watch(t, siptest.NewPhone(t, "UDP", kam.addr()), "kam-push-blf")
	require.Equal(t, []string{"idle"}, w.seen)

	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-push-reg-201", 1)
	p202.register("kam-push-reg-202", 1)
	// Kamailio replicated both REGISTERs and Switchboard accepted them.
	require.Eventually(t, func() bool {
		tr := kam.trace()
		return strings.Contains(tr, "1 REGISTER kam-push-reg-201 -> 200") && strings.Contains(tr, "1 REGISTER kam-push-reg-202 -> 200")
	}, 5*time.Second, 50*time.Millisecond, "switchboard did not answer the replicated REGISTERs with 200")
	ringAnswerHangup(t, w, p201, p202, "kam-push-call-1", 5*time.Second)

	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 in order")
	assert.Empty(t, kam.rejected("PUBLISH"), "switchboard rejected pua_dialoginfo PUBLISHes")
}

// TestKamailioPullPath makes Kamailio the presence server of a small PBX
// and Switchboard its subscriber: the call state Kamailio learns reaches a
// BLF watcher of Switchboard through Switchboard's PBX watcher, also after
// Kamailio crashes and restarts (the watcher subscribes again and the lamp
// of the call Kamailio forgot goes out).
func TestKamailioPullPath(t *testing.T) {
	requireKamailio(t)
	// Kamailio grants 4s subscriptions, so Switchboard refreshes every ~3s
	// and finds out about the restart quickly (481 to its refresh).
	kam := startKamailio(t, "kamailio/e2e/pbx.cfg", "kamailio/e2e/dbtext", "DB_URL",
		"PRES_MAX_EXPIRES=4")
	sb := startInstance(t, "kam-pull", "--pbx", kam.addr(), "--pbx-extensions", "201", "--pbx-events", "dialog")
	subscribed := func(n int) bool { return strings.Count(sb.logs.String(), `"message":"subscribed"`) >= n }
	require.Eventually(t, func() bool { return subscribed(1) }, 10*time.Second, 50*time.Millisecond,
		"switchboard's watcher never subscribed to kamailio")

	w := watch(t, siptest.NewPhone(t, "UDP", sb.sipAddr()), "kam-pull-blf")
	p201, p202 := newPhone(t, "201", kam.addr()), newPhone(t, "202", kam.addr())
	p201.register("kam-pull-reg-201", 1)
	p202.register("kam-pull-reg-202", 1)
	ringAnswerHangup(t, w, p201, p202, "kam-pull-call-1", 5*time.Second)
	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 in order")

	// A second call is up when Kamailio crashes.
	c := dial(t, p202, p201, "kam-pull-call-2")
	c.ring()
	w.await("early", 5*time.Second)
	c.answer()
	w.await("confirmed", 5*time.Second)
	kam.restart()

	// Kamailio forgot the call and the subscription: the watcher's next
	// refresh gets 481, it subscribes again and the lamp goes out.
	w.await("idle", 15*time.Second)
	require.Eventually(t, func() bool { return subscribed(2) }, 5*time.Second, 50*time.Millisecond,
		"switchboard's watcher did not subscribe again after the restart")

	// Later calls still light the lamp.
	p201.register("kam-pull-reg-201", 2)
	p202.register("kam-pull-reg-202", 2)
	w.seen = []string{"idle"}
	ringAnswerHangup(t, w, p201, p202, "kam-pull-call-3", 5*time.Second)
	assert.Equal(t, []string{"idle", "early", "confirmed", "idle"}, ringing(w.seen), "lamp states of 201 after the restart")
}
