// Package siptest holds a scriptable SIP phone for tests: it speaks raw SIP
// text over a real UDP or TCP socket, like a desk phone, and answers nothing
// by itself, so a test controls every byte and every reply.
package siptest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/stretchr/testify/require"
)

// AOR is the address the phone registers and the From of its requests to
// itself; Watcher is the From of its other requests.
const (
	AOR     = "sip:201@pbx.example.com"
	Watcher = "sip:300@pbx.example.com"
)

// Phone is a SIP endpoint on a real socket.
type Phone struct {
	t         *testing.T
	transport string // "UDP" or "TCP"
	udp       net.PacketConn
	tcp       net.Conn // the connection requests go out on
	server    string
	parser    *sipmsg.Parser
	msgs      chan inbound
	held      []*sipmsg.Request
	seen      map[string]uint32 // highest NOTIFY CSeq per Call-ID
	addr      string
	// origin is the connection each request arrived on, for its answer
	// (RFC 3261 §18.2.2: over the same connection).
	origin map[*sipmsg.Request]net.Conn

	mu       sync.Mutex // guards accepted and conns
	accepted int
	conns    []net.Conn
	readers  sync.WaitGroup
}

// inbound is a message and the connection it came on (nil for UDP).
type inbound struct {
	m sipmsg.Message
	c net.Conn
}

// NewPhone opens a phone on loopback talking to server (host:port) over
// transport "UDP" or "TCP". It closes with the test.
func NewPhone(t *testing.T, transport, server string) *Phone {
	t.Helper()
	p := newPhone(t, transport)
	switch transport {
	case "UDP":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		p.udp, p.server, p.addr = c, server, c.LocalAddr().String()
		p.readers.Add(1)
		go func() {
			defer p.readers.Done()
			buf := make([]byte, 65535)
			for {
				n, _, err := c.ReadFrom(buf)
				if err != nil {
					return
				}
				if m, err := p.parser.ParseSIP(append([]byte(nil), buf[:n]...)); err == nil {
					p.msgs <- inbound{m: m}
				}
			}
		}()
		t.Cleanup(func() { c.Close() })
	case "TCP":
		p.Dial(server)
		p.addr = p.tcp.LocalAddr().String()
	}
	return p
}

// NewListeningPhone opens a TCP phone that accepts connections at its own
// address, which is its Contact, the way a desk phone on the LAN does: a
// server that lost the phone's connection reaches it there (RFC 3261
// §18.2.2). Requests to the server need a Dial first. Answers go back over
// the connection their request came on.
func NewListeningPhone(t *testing.T) *Phone {
	t.Helper()
	p := newPhone(t, "TCP")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.addr = l.Addr().String()
	t.Cleanup(func() { l.Close() })
	p.readers.Add(1)
	go func() {
		defer p.readers.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.accepted++
			p.mu.Unlock()
			p.read(c)
		}
	}()
	return p
}

func newPhone(t *testing.T, transport string) *Phone {
	p := &Phone{t: t, transport: transport, msgs: make(chan inbound, 64), parser: sipmsg.NewParser(),
		origin: map[*sipmsg.Request]net.Conn{}}
	// Registered first, so it runs last: after every socket is closed.
	t.Cleanup(func() {
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		// Readers may be blocked handing over a message nobody reads.
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-p.msgs:
				case <-stop:
					return
				}
			}
		}()
		p.readers.Wait()
		close(stop)
	})
	return p
}

// Dial connects a TCP phone to server; requests go out on the new
// connection from now on, e.g. after the server restarted.
func (p *Phone) Dial(server string) {
	p.t.Helper()
	c, err := net.Dial("tcp", server)
	require.NoError(p.t, err)
	p.tcp, p.server = c, server
	p.read(c)
}

// read reads messages from c in a goroutine the phone owns.
func (p *Phone) read(c net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, c)
	p.mu.Unlock()
	p.readers.Add(1)
	go func() {
		defer p.readers.Done()
		r := bufio.NewReader(c)
		for {
			m, err := readStream(r, p.parser)
			if err != nil {
				return
			}
			p.msgs <- inbound{m: m, c: c}
		}
	}()
}

// Accepted is how many connections a listening phone has accepted.
func (p *Phone) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
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

// Send writes msg, with \n as line ends and $ADDR and $TP replaced by the
// phone's address and transport.
func (p *Phone) Send(msg string) {
	p.t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	msg = strings.ReplaceAll(msg, "\r\r\n", "\r\n")
	msg = strings.ReplaceAll(msg, "$ADDR", p.addr)
	msg = strings.ReplaceAll(msg, "$TP", p.transport)
	p.write(nil, msg)
}

// write sends msg over c, or over the phone's own socket when c is nil.
func (p *Phone) write(c net.Conn, msg string) {
	p.t.Helper()
	var err error
	switch {
	case c != nil:
		_, err = c.Write([]byte(msg))
	case p.udp != nil:
		dst, rerr := net.ResolveUDPAddr("udp", p.server)
		require.NoError(p.t, rerr)
		_, err = p.udp.WriteTo([]byte(msg), dst)
	default:
		require.NotNil(p.t, p.tcp, "a listening phone must Dial before sending")
		_, err = p.tcp.Write([]byte(msg))
	}
	require.NoError(p.t, err)
}

// Request sends a request with the standard headers filled in.
func (p *Phone) Request(method, ruri string, cseq int, callID, fromTag, toTag string, headers string, body string) {
	p.t.Helper()
	to, from := "<"+ruri+">", "<"+Watcher+">"
	if method == "REGISTER" {
		to, from = "<"+AOR+">", "<"+AOR+">"
	}
	if toTag != "" {
		to += ";tag=" + toTag
	}
	body = strings.ReplaceAll(body, "\n", "\r\n") // as send will, so Content-Length holds
	ctype := ""
	if body != "" && !strings.Contains(headers, "Content-Type") {
		ctype = "Content-Type: application/dialog-info+xml\n"
	}
	p.Send(fmt.Sprintf("%s %s SIP/2.0\nVia: SIP/2.0/$TP $ADDR;branch=z9hG4bK%s;rport\nMax-Forwards: 70\nFrom: %s;tag=%s\nTo: %s\nCall-ID: %s\nCSeq: %d %s\nContact: <sip:300@$ADDR;transport=%s>\n%s%sContent-Length: %d\n\n%s",
		method, ruri, sipmsg.GenerateBranchN(8), from, fromTag, to, callID, cseq, method, strings.ToLower(p.transport), headers, ctype, len(body), body))
}

// Next returns the next message the phone receives.
func (p *Phone) Next() sipmsg.Message {
	p.t.Helper()
	select {
	case in := <-p.msgs:
		if req, ok := in.m.(*sipmsg.Request); ok && in.c != nil {
			p.origin[req] = in.c
		}
		return in.m
	case <-time.After(5 * time.Second):
		p.t.Fatal("no SIP message within 5s")
		return nil
	}
}

// Response waits for the final response to method, keeping NOTIFYs that
// arrive meanwhile for Notify.
func (p *Phone) Response(method string) *sipmsg.Response {
	p.t.Helper()
	for {
		m := p.Next()
		if res, ok := m.(*sipmsg.Response); ok && res.CSeq().MethodName == sipmsg.RequestMethod(method) && !res.IsProvisional() {
			return res
		}
		if req, ok := m.(*sipmsg.Request); ok {
			// A NOTIFY racing the 200 over UDP: keep it for notify.
			p.held = append(p.held, req)
		}
	}
}

// Notify waits for a NOTIFY, answers it with code and returns it. Like a
// phone, it answers a retransmission (a CSeq already seen in that dialog)
// again but does not return it.
func (p *Phone) Notify(code int) *sipmsg.Request {
	p.t.Helper()
	for {
		var req *sipmsg.Request
		if len(p.held) > 0 {
			req, p.held = p.held[0], p.held[1:]
		} else if m, ok := p.Next().(*sipmsg.Request); ok && m.Method == sipmsg.NOTIFY {
			req = m
		} else {
			continue
		}
		p.Answer(req, code)
		if p.seen == nil {
			p.seen = map[string]uint32{}
		}
		id, cseq := req.CallID().Value(), req.CSeq().SeqNo
		if last, ok := p.seen[id]; ok && cseq <= last {
			continue
		}
		p.seen[id] = cseq
		return req
	}
}

// Answer responds to req with code.
func (p *Phone) Answer(req *sipmsg.Request, code int) {
	p.t.Helper()
	res := sipmsg.NewResponseFromRequest(req, code, "OK", nil)
	c := p.origin[req]
	delete(p.origin, req)
	p.write(c, res.String())
}

// NoMessage asserts that nothing arrives for d.
func (p *Phone) NoMessage(d time.Duration) {
	p.t.Helper()
	select {
	case in := <-p.msgs:
		p.t.Fatalf("unexpected message: %s", in.m.String())
	case <-time.After(d):
	}
}

// Addr is the phone's own host:port.
func (p *Phone) Addr() string { return p.addr }
