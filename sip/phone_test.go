package sip

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
	"github.com/switchboardhq/switchboard/sip/siptest"
)

func TestMain(m *testing.M) {
	// sipgo logs every unparsable datagram whole; the tests send many.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	// As cmd/switchboard does: sendNotify, not sipgo, decides what goes over UDP.
	sipmsg.UDPMTUSize = 65535
	os.Exit(m.Run())
}

// testServer is a Switchboard SIP edge on loopback UDP and TCP.
type testServer struct {
	core *presence.Service
	edge *Server
	udp  string
	tcp  string
	tls  string
}

// serverOpts are a test server's extras: collaborators besides the core,
// and a TLS listener.
type serverOpts struct {
	deps Deps
	tls  net.Listener
	log  *zerolog.Logger // nil: no logs
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, serverOpts{})
}

func startServerWith(t testing.TB, cfg Config, opts serverOpts) *testServer {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"pbx.example.com"}
	}
	if cfg.NotifyTimeout == 0 {
		// Phones that stop answering must not hold up the test's shutdown.
		cfg.NotifyTimeout = 2 * time.Second
	}
	core := presence.New(presence.Config{Tick: 50 * time.Millisecond}, presence.NewMemStore(), zerolog.Nop())
	deps := opts.deps
	deps.Core = core
	log := zerolog.Nop()
	if opts.log != nil {
		log = *opts.log
	}
	edge, err := New(cfg, deps, log)
	require.NoError(t, err)
	core.Watch(edge.Changed)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = core.Run(ctx) }()
	go func() {
		defer wg.Done()
		_ = edge.ServeListeners(ctx, Listeners{UDP: udp, TCP: tcp, TLS: opts.tls}, 2*time.Second)
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	ts := &testServer{core: core, edge: edge, udp: udp.LocalAddr().String(), tcp: tcp.Addr().String()}
	if opts.tls != nil {
		ts.tls = opts.tls.Addr().String()
	}
	return ts
}

func newPhone(t *testing.T, srv *testServer, transport string) *siptest.Phone {
	t.Helper()
	if transport == "TCP" {
		return siptest.NewPhone(t, transport, srv.tcp)
	}
	return siptest.NewPhone(t, transport, srv.udp)
}

// rawPhone is a UDP endpoint on a chosen loopback address, for tests that
// need a source other than siptest's 127.0.0.1 (a PBX, a second client).
type rawPhone struct {
	t      *testing.T
	conn   net.PacketConn
	server *net.UDPAddr
}

func newRawPhone(t *testing.T, ip, server string) *rawPhone {
	t.Helper()
	c, err := net.ListenPacket("udp", ip+":0")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	dst, err := net.ResolveUDPAddr("udp", server)
	require.NoError(t, err)
	return &rawPhone{t: t, conn: c, server: dst}
}

// Send writes msg with \n line ends and $ADDR replaced by our address.
func (p *rawPhone) Send(msg string) {
	p.t.Helper()
	msg = strings.ReplaceAll(msg, "\r\n", "\n")
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	msg = strings.ReplaceAll(msg, "$ADDR", p.conn.LocalAddr().String())
	_, err := p.conn.WriteTo([]byte(msg), p.server)
	require.NoError(p.t, err)
}

// Request sends a request from From user@pbx.example.com.
func (p *rawPhone) Request(method, ruri, from, callID string, cseq int, headers, body string) {
	p.t.Helper()
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\n", "\r\n")
	to := ruri
	if method == "REGISTER" {
		to = from
	}
	p.Send(fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/UDP $ADDR;branch=z9hG4bK%s;rport\nMax-Forwards: 70\nFrom: <%s>;tag=%s\nTo: <%s>\nCall-ID: %s\nCSeq: %d %s\nContact: <sip:u@$ADDR>\n%sContent-Length: %d\n\n%s",
		method, ruri, sipmsg.GenerateBranchN(8), from, sipmsg.GenerateTagN(6), to, callID, cseq, method, headers, len(body), body))
}

// Recv returns the next message, or nil after d.
func (p *rawPhone) Recv(d time.Duration) sipmsg.Message {
	p.t.Helper()
	buf := make([]byte, 65535)
	require.NoError(p.t, p.conn.SetReadDeadline(time.Now().Add(d)))
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return nil
		}
		if m, err := sipmsg.ParseMessage(append([]byte(nil), buf[:n]...)); err == nil {
			return m
		}
	}
}

// Response waits for a final response to method.
func (p *rawPhone) Response(method string) *sipmsg.Response {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		m := p.Recv(time.Until(deadline))
		if res, ok := m.(*sipmsg.Response); ok && !res.IsProvisional() && res.CSeq() != nil && string(res.CSeq().MethodName) == method {
			return res
		}
	}
	p.t.Fatalf("no %s response within 5s", method)
	return nil
}
