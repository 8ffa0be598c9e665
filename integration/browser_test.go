package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/integration/harness"
)

// chromiumPath is Debian's Chromium, which the browser tests drive (no
// browser download); CHROMIUM overrides it.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// requireBrowserTools returns node's path, skipping the test when node,
// Chromium or the browser tests' packages are missing, or failing it when
// integration tests are required (CI).
func requireBrowserTools(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv(harness.EnvRequired) == "required" {
			t.Fatalf("%s (and %s=required)", msg, harness.EnvRequired)
		}
		t.Skipf("skipping: %s", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not installed (Debian package nodejs)")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		missing("%s not installed (Debian package chromium)", chromiumPath())
	}
	if _, err := os.Stat(filepath.Join("browser", "node_modules", "playwright-core", "package.json")); err != nil {
		missing("the browser tests' packages are not installed: run `npm ci` in integration/browser")
	}
	return node
}

// registerPhone binds ext's phone as its PBX would, so the extension is
// online (a status shows only while the line is).
func registerPhone(t *testing.T, sb *instance, ext string) {
	t.Helper()
	c, err := net.Dial("udp", sb.sipAddr())
	require.NoError(t, err)
	defer c.Close()
	local := c.LocalAddr().String()
	msg := fmt.Sprintf("REGISTER sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKweb%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@pbx.example.com>;tag=w%s\r\nTo: <sip:%s@pbx.example.com>\r\nCall-ID: web-reg-%s\r\nCSeq: 1 REGISTER\r\n"+
		"Contact: <sip:%s@%s>\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n", local, ext, ext, ext, ext, ext, ext, local)
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(buf[:n]), "SIP/2.0 200"), "REGISTER of %s: %s", ext, buf[:n])
}

// TestBrowser runs the web app's browser tests (integration/browser, node's
// test runner driving Chromium through playwright-core) against the real
// binary: a domain with an admin, a colleague and a team to fill the
// board, with web passwords, and a PBX that PUBLISHes over UDP.
func TestBrowser(t *testing.T) {
	node := requireBrowserTools(t)
	sb, operator := bootstrapped(t, "browser", "--trusted-cidr", "127.0.0.1/32", "--region", "DE",
		"--click-to-call-ring-timeout", "3s")

	const domain = "pbx.example.com"
	// 201, the receptionist, administers the domain.
	users := []struct {
		ext, first, last, dept, password string
		admin                            bool
	}{
		{"201", "Ana", "Silva", "Reception", "ana-web-pass-1", true},
		{"202", "Bruno", "Costa", "Sales", "bruno-web-pass-2", false},
		{"203", "Chloé", "Martin", "Support", "chloe-web-pass-3", false},
	}
	for _, u := range users {
		code, body := apiCall(t, sb, "PUT", "/v1/users/"+u.ext+"@"+domain, operator, fmt.Sprintf(
			`{"first_name":%q,"last_name":%q,"department":%q,"sip_password":"sip-secret-%s","web_password":%q,"admin":%t}`,
			u.first, u.last, u.dept, u.ext, u.password, u.admin))
		require.Contains(t, []int{200, 201}, code, body)
	}
	// The board size: 1,000 extensions, of which the board
	// renders only those in view.
	const team = 1000
	for i := range team - len(users) {
		ext := strconv.Itoa(300 + i)
		code, body := apiCall(t, sb, "PUT", "/v1/users/"+ext+"@"+domain, operator,
			fmt.Sprintf(`{"first_name":"Team","last_name":"Member %s","department":"Floor %d"}`, ext, i%5))
		require.Contains(t, []int{200, 201}, code, body)
	}
	// Phones online: the three people and some of the team.
	for _, ext := range []string{"201", "202", "203", "300", "301", "302", "303", "304", "305", "306", "307"} {
		registerPhone(t, sb, ext)
	}
	// The PBX's own key, as its dialplan would use for caller ID.
	code, pbx := apiCall(t, sb, "POST", "/v1/keys", operator, `{"pbx":true,"domain":"`+domain+`","scopes":["lookup"]}`)
	require.Equal(t, 201, code, pbx)

	shots := ""
	if os.Getenv("UPDATE_SCREENSHOTS") == "1" {
		var err error
		shots, err = filepath.Abs(filepath.Join("..", "docs", "screenshots"))
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(shots, 0o755))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-concurrency=1", "--test-reporter=spec")
	cmd.Dir = "browser"
	cmd.Env = append(os.Environ(),
		"SB_BASE_URL=http://"+sb.http,
		"SB_SIP="+sb.sipAddr(),
		"SB_DOMAIN="+domain,
		"SB_ADMIN=201@"+domain, "SB_ADMIN_PASSWORD="+users[0].password,
		"SB_COLLEAGUE=202@"+domain, "SB_COLLEAGUE_PASSWORD="+users[1].password,
		"SB_RINGING=203@"+domain,
		"SB_TEAM_SIZE="+strconv.Itoa(team),
		"SB_PBX_KEY="+pbx["key"].(string),
		"SB_SCREENSHOTS="+shots,
		"CHROMIUM="+chromiumPath(),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test:\n%s", out)
	require.NoError(t, err, "the browser tests must pass")
	// node's runner passes with no test at all: the scenarios must have run.
	m := regexp.MustCompile(`(?m)^ℹ pass (\d+)$`).FindSubmatch(out)
	require.NotNil(t, m, "no pass count in the runner's summary")
	passed, _ := strconv.Atoi(string(m[1]))
	require.GreaterOrEqual(t, passed, 12, "browser scenarios passed")
	require.Regexp(t, `(?m)^ℹ fail 0$`, string(out))
}
