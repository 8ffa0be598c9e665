package integration

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

// linphone is a linphonec (Debian linphone-cli, liblinphone 5.1) run
// headless as a watcher: it registers as 300, watches its friends and
// prints "Friend <uri> is <status>" on every presence it receives, which
// the test reads.
type linphone struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{}
	mu    sync.Mutex // guards out
	out   strings.Builder
}

// requireLinphonec returns the linphonec binary, or skips the test (fails
// it under SWITCHBOARD_INTEGRATION=required) when it is not installed.
func requireLinphonec(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("linphonec")
	if err != nil {
		if os.Getenv(harness.EnvRequired) == "required" {
			t.Fatalf("linphonec is required (Debian package linphone-cli): %v", err)
		}
		t.Skipf("skipping: linphonec not installed (Debian package linphone-cli); %s=required turns this skip into a failure", harness.EnvRequired)
	}
	return bin
}

// startLinphone runs linphonec against the instance with friends, their
// presence subscribed one by one or, with rlsURI, as one RFC 5367 list.
func startLinphone(t *testing.T, in *instance, rlsURI string, friends ...string) *linphone {
	t.Helper()
	bin := requireLinphonec(t)
	home := t.TempDir()
	// liblinphone keeps its databases there and fails without it.
	require.NoError(t, os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o755))
	port := freeSIPPort(t)
	var rc strings.Builder
	fmt.Fprintf(&rc, "[sip]\nsip_port=%d\nsip_tcp_port=%d\nsip_tls_port=-1\ndefault_proxy=0\n", port, port)
	if rlsURI != "" {
		fmt.Fprintf(&rc, "rls_uri=%s\n", rlsURI)
	}
	fmt.Fprintf(&rc, "\n[proxy_0]\nreg_proxy=<sip:%s>\nreg_route=<sip:%s;lr>\nreg_identity=sip:300@pbx.example.com\nreg_expires=600\nreg_sendregister=1\npublish=0\n",
		in.sipAddr(), in.sipAddr())
	fmt.Fprintf(&rc, "\n[rtp]\naudio_rtp_port=%d\nvideo_rtp_port=%d\n", harness.FreeUDPPort(t), harness.FreeUDPPort(t))
	for i, f := range friends {
		fmt.Fprintf(&rc, "\n[friend_%d]\nurl=<%s>\npol=accept\nsubscribe=1\n", i, f)
	}
	cfg := filepath.Join(home, "linphonerc")
	require.NoError(t, os.WriteFile(cfg, []byte(rc.String()), 0o644))

	l := &linphone{t: t, lines: make(chan string, 256), done: make(chan struct{})}
	l.cmd = exec.Command(bin, "-c", cfg, "-d", "0")
	l.cmd.Dir, l.cmd.Env = home, append(os.Environ(), "HOME="+home)
	stdin, err := l.cmd.StdinPipe()
	require.NoError(t, err)
	l.stdin = stdin
	stdout, err := l.cmd.StdoutPipe()
	require.NoError(t, err)
	l.cmd.Stderr = l.cmd.Stdout
	require.NoError(t, l.cmd.Start())
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l.mu.Lock()
			l.out.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
			select {
			case l.lines <- sc.Text():
			default: // nobody waits for this one
			}
		}
		_ = l.cmd.Wait()
	}()
	t.Cleanup(func() {
		_, _ = io.WriteString(l.stdin, "quit\n")
		select {
		case <-l.done:
		case <-time.After(5 * time.Second):
			_ = l.cmd.Process.Kill()
			<-l.done
		}
		if t.Failed() {
			l.mu.Lock()
			t.Logf("linphonec output:\n%s", tail(l.out.String(), 4000))
			l.mu.Unlock()
		}
	})
	return l
}

var friendLine = regexp.MustCompile(`^(?:linphonec> )?Friend .*<(sip:[^>]+)> is (.+)$`)

// waitFor waits until linphonec reports uri with status want.
func (l *linphone) waitFor(uri, want string) {
	l.t.Helper()
	deadline := time.After(10 * time.Second)
	last := "nothing"
	for {
		select {
		case line := <-l.lines:
			m := friendLine.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil || m[1] != uri {
				continue
			}
			if last = m[2]; last == want {
				return
			}
		case <-deadline:
			l.t.Fatalf("linphonec never showed %s as %q (last: %q)", uri, want, last)
		}
	}
}

// setStatus sets 201's status over the API, as the web app does.
func setStatus(t *testing.T, in *instance, key, status string) {
	t.Helper()
	req, err := http.NewRequest("PUT", "http://"+in.http+"/v1/presence/201@pbx.example.com/status", strings.NewReader(`{"status":"`+status+`"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, status)
}

// linphonec as the watcher sees each of Switchboard's statuses as the
// README's table says, a PUBLISH in liblinphone 5.1's own form included,
// and offline when the extension leaves.
func TestLinphoneSeesEveryStatus(t *testing.T) {
	redisURL := harness.Redis(t)
	natsURL := harness.NATS(t)
	in := startInstance(t, "linphone", "--redis", redisURL, "--nats", natsURL)
	key := mintKey(t, redisURL, "--user", "201@pbx.example.com", "--scopes", "contacts:personal")
	lc := startLinphone(t, in, "", "sip:201@pbx.example.com")
	lc.waitFor("sip:201@pbx.example.com", "Offline")

	desk := siptest.NewPhone(t, "UDP", in.sipAddr())
	desk.Request("REGISTER", "sip:pbx.example.com", 1, "lp-reg", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)
	lc.waitFor("sip:201@pbx.example.com", "Online")

	for _, step := range []struct{ status, shows string }{
		{"dnd", "Do not disturb"},
		{"lunch", "Out to lunch"},
		{"away", "Away"},
		{"business_trip", "Vacation"},
		{"unavailable", "Away"},
		{"available", "Online"},
	} {
		setStatus(t, in, key, step.status)
		lc.waitFor("sip:201@pbx.example.com", step.shows)
	}

	// 201's own Linphone publishes "Be right back" the way liblinphone 5.1
	// writes it; the watcher sees it as such, not as plain Away.
	body, err := os.ReadFile("../sip/testdata/linphone51/berightback.xml")
	require.NoError(t, err)
	desk.Request("PUBLISH", siptest.AOR, 1, "lp-pub", "p", "", "Event: presence\nContent-Type: application/pidf+xml\nExpires: 600\n", string(body))
	res := desk.Response("PUBLISH")
	require.Equal(t, 200, res.StatusCode)
	lc.waitFor("sip:201@pbx.example.com", "Be right back")

	// The phone withdraws its publication: the API's older "available"
	// stands, it does not come back as something else.
	desk.Request("PUBLISH", siptest.AOR, 2, "lp-pub", "p", "", "Event: presence\nExpires: 0\nSIP-If-Match: "+header(res, "SIP-ETag")+"\n", "")
	require.Equal(t, 200, desk.Response("PUBLISH").StatusCode)
	lc.waitFor("sip:201@pbx.example.com", "Online")

	// The extension leaves: offline.
	desk.Request("REGISTER", "sip:pbx.example.com", 2, "lp-reg", "r", "", "Expires: 0\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)
	lc.waitFor("sip:201@pbx.example.com", "Offline")
}

// A liblinphone friend list with an RLS URI subscribes as one RFC 5367
// ad-hoc list, and linphonec shows every friend from the RFC 4662 NOTIFY.
func TestLinphoneFriendListShowsEveryFriend(t *testing.T) {
	in := startInstance(t, "linphone-list")
	desk := siptest.NewPhone(t, "UDP", in.sipAddr())
	desk.Request("REGISTER", "sip:pbx.example.com", 1, "lpl-reg", "r", "", "Expires: 600\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)

	friends := []string{"sip:201@pbx.example.com", "sip:202@pbx.example.com", "sip:203@pbx.example.com"}
	lc := startLinphone(t, in, "sip:rls@pbx.example.com", friends...)
	// One NOTIFY names them all; linphonec prints them in any order.
	want := map[string]string{friends[0]: "Online", friends[1]: "Offline", friends[2]: "Offline"}
	deadline := time.After(10 * time.Second)
	for len(want) > 0 {
		select {
		case line := <-lc.lines:
			if m := friendLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil && want[m[1]] == m[2] {
				delete(want, m[1])
			}
		case <-deadline:
			t.Fatalf("linphonec never showed %v", want)
		}
	}

	// A change of one friend reaches the list.
	desk.Request("REGISTER", "sip:pbx.example.com", 2, "lpl-reg", "r", "", "Expires: 0\n", "")
	require.Equal(t, 200, desk.Response("REGISTER").StatusCode)
	lc.waitFor(friends[0], "Offline")
}
