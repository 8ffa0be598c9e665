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
	tcp       net.Conn
	server    string
	msgs      chan sipmsg.Message
	held      []*sipmsg.Request
	seen      map[string]uint32 // highest NOTIFY CSeq per Call-ID
	addr      string
}

// NewPhone opens a phone on loopback talking to server (host:port) over
// transport "UDP" or "TCP". It closes with the test.
func NewPhone(t *testing.T, transport, server string) *Phone {
	t.Helper()
	p := &Phone{t: t, transport: transport, msgs: make(chan sipmsg.Message, 64)}
	parser := sipmsg.NewParser()
	done := make(chan struct{})
	switch transport {
	case "UDP":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		p.udp, p.server, p.addr = c, server, c.LocalAddr().String()
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
		c, err := net.Dial("tcp", server)
		require.NoError(t, err)
		p.tcp, p.server, p.addr = c, server, c.LocalAddr().String()
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

// Send writes msg, with \n as line ends and $ADDR and $TP replaced by the
// phone's address and transport.
func (p *Phone) Send(msg string) {
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
	case m := <-p.msgs:
		return m
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
	p.Send(res.String())
}

// NoMessage asserts that nothing arrives for d.
func (p *Phone) NoMessage(d time.Duration) {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		p.t.Fatalf("unexpected message: %s", m.String())
	case <-time.After(d):
	}
}

// Addr is the phone's own host:port.
func (p *Phone) Addr() string { return p.addr }
