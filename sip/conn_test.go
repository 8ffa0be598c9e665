package sip

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dialFrom opens a TCP connection to server from the loopback address ip.
func dialFrom(t *testing.T, ip, server string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", server)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// options sends an OPTIONS over c and returns the status code.
func options(t *testing.T, c net.Conn, r *bufio.Reader, n int) int {
	t.Helper()
	la := c.LocalAddr().String()
	msg := fmt.Sprintf("OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bKopt%d\r\nFrom: <sip:300@pbx.example.com>;tag=o%d\r\nTo: <sip:pbx.example.com>\r\nCall-ID: opt-%s-%d\r\nCSeq: %d OPTIONS\r\nContent-Length: 0\r\n\r\n", la, n, n, la, n, n)
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	return readSIP(t, r).StatusCode
}

// closedByServer reports whether the server closed c within d.
func closedByServer(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	return err == nil // EOF: closed; a timeout is an error
}

func TestPerSourceConnectionCap(t *testing.T) {
	tests := []struct {
		name    string
		source  string
		trusted bool
	}{
		{name: "untrusted source is capped", source: "127.0.0.1"},
		{name: "trusted source is exempt", source: "127.0.0.2", trusted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{MaxConnsPerSource: 3}
			if tt.trusted {
				cfg.TrustedCIDRs = []netip.Prefix{netip.MustParsePrefix(tt.source + "/32")}
			}
			srv := startServer(t, cfg)
			var conns []net.Conn
			for i := range 3 {
				c := dialFrom(t, tt.source, srv.tcp)
				require.Equal(t, 200, options(t, c, bufio.NewReader(c), i))
				conns = append(conns, c)
			}
			extra := dialFrom(t, tt.source, srv.tcp)
			if tt.trusted {
				assert.Equal(t, 200, options(t, extra, bufio.NewReader(extra), 9))
				assert.Zero(t, srv.edge.Stats().ConnsRefused)
				return
			}
			assert.True(t, closedByServer(extra, 5*time.Second), "the connection over the cap is closed")
			assert.Equal(t, uint64(1), srv.edge.Stats().ConnsRefused)

			// Another source is not affected.
			other := dialFrom(t, "127.0.0.3", srv.tcp)
			assert.Equal(t, 200, options(t, other, bufio.NewReader(other), 10))

			// A connection that closes frees its place.
			require.NoError(t, conns[0].Close())
			require.Eventually(t, func() bool {
				c := dialFrom(t, tt.source, srv.tcp)
				_, _ = c.Write([]byte("OPTIONS sip:pbx.example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKfree\r\nFrom: <sip:300@pbx.example.com>;tag=f\r\nTo: <sip:pbx.example.com>\r\nCall-ID: free\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				line, _ := bufio.NewReader(c).ReadString('\n')
				return strings.HasPrefix(line, "SIP/2.0 200")
			}, 5*time.Second, 50*time.Millisecond)
		})
	}
}

func TestIdleConnections(t *testing.T) {
	// Wide margins: the machine running the tests may be loaded.
	const idle = 600 * time.Millisecond
	srv := startServer(t, Config{TCPIdleTimeout: idle})

	// Silent after one request: closed.
	quiet := dialFrom(t, "127.0.0.1", srv.tcp)
	require.Equal(t, 200, options(t, quiet, bufio.NewReader(quiet), 1))
	assert.True(t, closedByServer(quiet, 5*time.Second), "an idle connection is closed")
	assert.Equal(t, uint64(1), srv.edge.Stats().ConnsIdleClosed)

	// RFC 5626 CRLF keep-alives keep a connection open.
	alive := dialFrom(t, "127.0.0.1", srv.tcp)
	r := bufio.NewReader(alive)
	require.Equal(t, 200, options(t, alive, r, 2))
	for range 18 { // 3 idle periods
		time.Sleep(idle / 6)
		_, err := alive.Write([]byte("\r\n\r\n"))
		require.NoError(t, err)
		require.NoError(t, alive.SetReadDeadline(time.Now().Add(5*time.Second)))
		pong := make([]byte, 2)
		_, err = io.ReadFull(r, pong)
		require.NoError(t, err, "keep-alive answered on an open connection")
		assert.Equal(t, "\r\n", string(pong))
	}
	require.NoError(t, alive.Close())

	// A live subscription's flow is kept however quiet, since its NOTIFYs
	// have no other way to a phone behind NAT.
	watcher := newPhone(t, srv, "TCP")
	watcher.Request("SUBSCRIBE", ext201, 1, "idle-sub", "w1", "", "Event: dialog\nExpires: 600\n", "")
	res := watcher.Response("SUBSCRIBE")
	require.Equal(t, 200, res.StatusCode)
	tag, _ := res.To().Params.Get("tag")
	watcher.Notify(200)
	closed := srv.edge.Stats().ConnsIdleClosed
	time.Sleep(3 * idle)
	pbx := newPhone(t, srv, "UDP")
	pbx.Request("PUBLISH", ext201, 1, "idle-pub", "p1", "", "Event: dialog\nExpires: 120\n", earlyBody(0, "early"))
	require.Equal(t, 200, pbx.Response("PUBLISH").StatusCode)
	assert.Len(t, dialogDoc(t, watcher.Notify(200)).Dialogs, 1, "NOTIFY over the subscriber's own, quiet, connection")
	assert.Equal(t, closed, srv.edge.Stats().ConnsIdleClosed)

	// Unsubscribed, the flow is an ordinary connection again.
	watcher.Request("SUBSCRIBE", ext201, 2, "idle-sub", "w1", tag, "Event: dialog\nExpires: 0\n", "")
	require.Equal(t, 200, watcher.Response("SUBSCRIBE").StatusCode)
	assert.Equal(t, "terminated", header(watcher.Notify(200), "Subscription-State"), "un-SUBSCRIBE: no reason")
	require.Eventually(t, func() bool { return srv.edge.Stats().ConnsIdleClosed == closed+1 }, 5*time.Second, 20*time.Millisecond)
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMalformedMessagesLogged(t *testing.T) {
	var logs syncBuffer
	srv := startOwnedServer(t, Config{}, Deps{}, time.Second, zerolog.New(&logs).Level(zerolog.DebugLevel))
	// Garbage with terminal escapes, far longer than an excerpt.
	junk := "\x1b[2J\x1b]0;pwned\x07 NOT SIP " + strings.Repeat("A\x00", 500) + "END-OF-JUNK"
	udp, err := net.Dial("udp", srv.udp)
	require.NoError(t, err)
	defer udp.Close()
	const sent = 40
	for range sent {
		_, err := udp.Write([]byte(junk))
		require.NoError(t, err)
	}
	tcp := dialFrom(t, "127.0.0.1", srv.tcp)
	_, err = tcp.Write([]byte(junk + "\r\n\r\n"))
	require.NoError(t, err)
	assert.True(t, closedByServer(tcp, 5*time.Second), "no message boundary to resync on")
	require.Eventually(t, func() bool { return srv.edge.Stats().ParseErrors == sent+1 }, 5*time.Second, 20*time.Millisecond,
		"parse errors counted: %d", srv.edge.Stats().ParseErrors)

	// Still serving.
	p := newPhone(t, srv.testServer, "UDP")
	p.Request("OPTIONS", "sip:pbx.example.com", 1, "after-junk", "o", "", "", "")
	require.Equal(t, 200, p.Response("OPTIONS").StatusCode)

	out := logs.String()
	lines := strings.Count(out, "malformed sip message dropped")
	assert.Positive(t, lines)
	assert.LessOrEqual(t, lines, 10, "rate-limited")
	assert.NotContains(t, out, "\x1b", "no raw escape reaches the log")
	assert.NotContains(t, out, "END-OF-JUNK", "only an excerpt is logged")
	assert.Contains(t, out, `"level":"warn"`)
	assert.NotContains(t, out, `"level":"error"`)
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "OPTIONS sip:x SIP/2.0", want: "OPTIONS sip:x SIP/2.0"},
		{name: "control characters escaped", in: "a\r\n\x1b[0m\x00", want: `a\r\n\x1b[0m\x00`},
		{name: "invalid utf-8 escaped", in: "\xff\xfe", want: `\xff\xfe`},
		{name: "backslash escaped", in: `a\b`, want: `a\\b`},
		{name: "utf-8 kept", in: "Müller", want: "Müller"},
		{name: "long cut at the bound", in: strings.Repeat("x", 500), want: strings.Repeat("x", maxExcerpt)},
		{name: "escapes count towards the bound", in: strings.Repeat("\x00", 100), want: strings.Repeat(`\x00`, maxExcerpt/4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := excerpt(tt.in)
			assert.Equal(t, tt.want, got)
			assert.LessOrEqual(t, len(got), maxExcerpt)
		})
	}
}
