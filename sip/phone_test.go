package sip

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/switchboardhq/switchboard/presence"
)

func TestMain(m *testing.M) {
	// sipgo logs every unparsable datagram whole; the tests send many.
	sipmsg.SetDefaultLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// testServer is a Switchboard SIP edge on loopback UDP and TCP.
type testServer struct {
	core *presence.Service
	edge *Server
	udp  string
	tcp  string
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if len(cfg.Domains) == 0 {
		cfg.Domains = []string{"pbx.example.com"}
	}
	core := presence.New(presence.Config{Tick: 50 * time.Millisecond}, presence.NewMemStore(), zerolog.Nop())
	edge, err := New(cfg, Deps{Core: core}, zerolog.Nop())
	require.NoError(t, err)
	core.Watch(edge.Changed)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = core.Run(ctx) }()
	go func() { defer wg.Done(); _ = edge.Serve(ctx, udp, tcp, 2*time.Second) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &testServer{core: core, edge: edge, udp: udp.LocalAddr().String(), tcp: tcp.Addr().String()}
}

// phone is a SIP endpoint speaking raw text over a real socket, like a desk
// phone: it sends what a test writes and answers nothing by itself.
type phone struct {
	t         *testing.T
	transport string // "UDP" or "TCP"
	udp       net.PacketConn
	tcp       net.Conn
	server    string
	msgs      chan sipmsg.Message
	held      []*sipmsg.Request
	addr      string
}

func newPhone(t *testing.T, srv *testServer, transport string) *phone {
	t.Helper()
	p := &phone{t: t, transport: transport, msgs: make(chan sipmsg.Message, 64)}
	parser := sipmsg.NewParser()
	done := make(chan struct{})
	switch transport {
	case "UDP":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		p.udp, p.server, p.addr = c, srv.udp, c.LocalAddr().String()
		go func() {
			defer close(done)
			buf := make([]byte, 65535)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				if m, err := parser.ParseSIP(append([]byte(nil), buf[:n]...)); err == nil {
					p.msgs <- m
				}
			}
		}()
		t.Cleanup(func() { c.Close(); <-done })
	case "TCP":
		c, err := net.Dial("tcp", srv.tcp)
		require.NoError(t, err)
		p.tcp, p.server, p.addr = c, srv.tcp, c.LocalAddr().String()
		go func() {
			defer close(done)
			r := bufio.NewReader(c)
			for {
				m, err := readStream(r, parser)
				if err != nil {
					return
				}
				p.msgs <- m
			}
		}()
		t.Cleanup(func() { c.Close(); <-done })
	}
	return p
}

// readStream reads one message from a TCP stream, framed by Content-Length.
func readStream(r *bufio.Reader, parser *sipmsg.Parser) (sipmsg.Message, error) {
	var head bytes.Buffer
	length := 0
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" && head.Len() == 0 {
			continue // keep-alive
		}
		head.WriteString(line)
		if k, v, ok := strings.Cut(line, ":"); ok && (strings.EqualFold(k, "Content-Length") || k == "l") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	return parser.ParseSIP(append(head.Bytes(), body...))
}

func (p *phone) send(msg string) {
	p.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	msg = strings.ReplaceAll(msg, "\r\r\n", "\r\n")
	msg = strings.ReplaceAll(msg, "$ADDR", p.addr)
	msg = strings.ReplaceAll(msg, "$TP", p.transport)
	var err error
	if p.udp != nil {
		dst, rerr := net.ResolveUDPAddr("udp", p.server)
		require.NoError(p.t, rerr)
		_, err = p.udp.WriteTo([]byte(msg), dst)
	} else {
		_, err = p.tcp.Write([]byte(msg))
	}
	require.NoError(p.t, err)
}

// request sends a request with the standard headers filled in.
func (p *phone) request(method, ruri string, cseq int, callID, fromTag, toTag string, headers string, body string) {
	p.t.Helper()
	to, from := "<"+ruri+">", "<sip:300@pbx.example.com>"
	if method == "REGISTER" {
		to, from = "<"+ext201+">", "<"+ext201+">"
	}
	if toTag != "" {
		to += ";tag=" + toTag
	}
	body = strings.ReplaceAll(body, "\n", "\r\n") // as send will, so Content-Length holds
	ctype := ""
	if body != "" && !strings.Contains(headers, "Content-Type") {
		ctype = "Content-Type: application/dialog-info+xml\n"
	}
	p.send(fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/$TP $ADDR;branch=z9hG4bK%s;rport\nMax-Forwards: 70\nFrom: %s;tag=%s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nContact: <sip:300@$ADDR;transport=%s>\n%s%sContent-Length: %d\n\n%s",
		method, ruri, sipmsg.GenerateBranchN(8), from, fromTag, to, callID, cseq, method, strings.ToLower(p.transport), headers, ctype, len(body), body))
}

// next returns the next message the phone receives.
func (p *phone) next() sipmsg.Message {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		return m
	case <-time.After(5 * time.Second):
		p.t.Fatal("no SIP message within 5s")
		return nil
	}
}

// response waits for the final response to the given CSeq method.
func (p *phone) response(method string) *sipmsg.Response {
	p.t.Helper()
	for {
		m := p.next()
		if res, ok := m.(*sipmsg.Response); ok && res.CSeq().MethodName == sipmsg.RequestMethod(method) && !res.IsProvisional() {
			return res
		}
		if req, ok := m.(*sipmsg.Request); ok {
			// A NOTIFY racing the 200 over UDP: keep it for notify.
			p.held = append(p.held, req)
		}
	}
}

// notify waits for a NOTIFY, answers it with code and returns it.
func (p *phone) notify(code int) *sipmsg.Request {
	p.t.Helper()
	if len(p.held) > 0 {
		req := p.held[0]
		p.held = p.held[1:]
		p.answer(req, code)
		return req
	}
	for {
		m := p.next()
		if req, ok := m.(*sipmsg.Request); ok && req.Method == sipmsg.NOTIFY {
			p.answer(req, code)
			return req
		}
	}
}

func (p *phone) answer(req *sipmsg.Request, code int) {
	p.t.Helper()
	res := sipmsg.NewResponseFromRequest(req, code, "OK", nil)
	p.send(res.String())
}

// noMessage asserts that nothing arrives for d.
func (p *phone) noMessage(d time.Duration) {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		p.t.Fatalf("unexpected message: %s", m.String())
	case <-time.After(d):
	}
}
